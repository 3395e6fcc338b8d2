from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from railway_sync import api
from railway_sync.management.base import RailwayCommand


class Command(RailwayCommand):
    help = (
        "Create or update the synced tables on Railway by applying railway_sync's Django "
        "migrations to the 'railway' database. The local database is never altered."
    )
    failure_line = "❌ Railway database migration failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the migrations that would be applied and their SQL; change nothing.",
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        if not dry_run:
            self.stdout.write("🚀 Running Railway database migration...")
        report = api.migrate(dry_run=dry_run, progress=self.on_progress)
        if dry_run:
            if not report.planned:
                self.stdout.write("Railway schema is up to date: no migrations would be applied.")
                return
            self.stdout.write(f"Would apply {len(report.planned)} migration(s) to Railway:")
            for name in report.planned:
                self.stdout.write(f"  {name}")
            if self.verbosity >= 1:
                self.stdout.write("SQL that would run:")
                for statement in report.sql:
                    self.stdout.write(statement)
            self.stdout.write("Dry run: nothing was changed on Railway.")
            return
        if not report.applied:
            self.stdout.write(
                self.style.SUCCESS("✅ Railway schema is up to date: no migrations to apply")
            )
            return
        for name in report.applied:
            self.stdout.write(f"  Applied {name}")
        self.stdout.write(
            self.style.SUCCESS("✅ Railway database migration completed successfully")
        )
