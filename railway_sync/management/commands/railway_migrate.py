from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from railway_sync.engine import api
from railway_sync.management.base import RailwayCommand
from railway_sync.report import MigrateReport, PlannedMigration


def adopted_phrase(migration: PlannedMigration) -> str:
    """``48 of 54 steps already on Railway`` (empty when none was)."""
    if not migration.adopted:
        return ""
    return f"{migration.adopted} of {migration.steps} steps already on Railway"


def would_refuse(report: MigrateReport, confirm_destructive: bool) -> str | None:
    """The line a real run would refuse with, or None."""
    conflicts = [f"{m.name}: {c}" for m in report.migrations for c in m.conflicts]
    if conflicts:
        return (
            "⚠ railway_migrate would refuse: the migrations do not fit Railway as it is "
            f"({'; '.join(conflicts)})."
        )
    lost = [f"{m.name} drops {d}" for m in report.migrations for d in m.destructive]
    if lost and not confirm_destructive:
        return (
            f"⚠ railway_migrate would refuse: the migrations would delete data on Railway "
            f"({'; '.join(lost)}). If local dropped them on purpose, run: python manage.py "
            "railway_migrate --confirm-destructive"
        )
    return None


class Command(RailwayCommand):
    help = (
        "Create or update the synced tables on Railway by applying railway_sync's Django "
        "migrations to the 'railway' database, each step checked against Railway first: what "
        "Railway already has (a database another tool made) is recorded without running, a "
        "definition that differs is refused, and a drop of data needs --confirm-destructive. "
        "The local database is never altered."
    )
    failure_line = "❌ Railway database migration failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the migrations that would be applied, what Railway already has, what "
            "would be dropped, and the SQL that would run; change nothing.",
        )
        parser.add_argument(
            "--confirm-destructive",
            action="store_true",
            help="Apply steps that drop a table or a column holding data on Railway (local "
            "dropped it). Without it such a run is refused, naming what would be deleted.",
        )

    def handle(
        self,
        *args: Any,
        dry_run: bool = False,
        confirm_destructive: bool = False,
        **options: Any,
    ) -> None:
        if not dry_run:
            self.stdout.write("🚀 Running Railway database migration...")
        report = api.migrate(
            dry_run=dry_run, confirm_destructive=confirm_destructive, progress=self.on_progress
        )
        if dry_run:
            self._dry_run(report, confirm_destructive)
            return
        if not report.applied:
            self.stdout.write(
                self.style.SUCCESS("✅ Railway schema is up to date: no migrations to apply")
            )
            return
        for name in report.applied:
            decided = report.decided(name)
            adopted = adopted_phrase(decided) if decided else ""
            suffix = f" ({adopted}: recorded without running)" if adopted else ""
            self.stdout.write(f"  Applied {name}{suffix}")
        self.stdout.write(
            self.style.SUCCESS("✅ Railway database migration completed successfully")
        )

    def _dry_run(self, report: MigrateReport, confirm_destructive: bool) -> None:
        if not report.planned:
            self.stdout.write("Railway schema is up to date: no migrations would be applied.")
            return
        self.stdout.write(f"Would apply {len(report.planned)} migration(s) to Railway:")
        for migration in report.migrations:
            notes = [adopted_phrase(migration)] if migration.adopted else []
            notes += [f"would delete {d}" for d in migration.destructive]
            notes += [f"conflict: {c}" for c in migration.conflicts]
            self.stdout.write(f"  {migration.name}" + (f": {'; '.join(notes)}" if notes else ""))
        if self.verbosity >= 1:
            self.stdout.write("SQL that would run:")
            for statement in report.sql:
                self.stdout.write(statement + ";")
        self.stdout.write("Dry run: nothing was changed on Railway.")
        refusal = would_refuse(report, confirm_destructive)
        if refusal:
            raise CommandError(refusal, returncode=1)
