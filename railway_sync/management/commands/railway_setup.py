from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from railway_sync.engine import api
from railway_sync.engine.options import SyncOptions
from railway_sync.management.base import RailwayCommand
from railway_sync.management.commands.railway_migrate import adopted_phrase, would_refuse
from railway_sync.management.render import refused_line, render_status, render_sync
from railway_sync.operator import history


class Command(RailwayCommand):
    help = (
        "Complete Railway deployment: migrate the schema, run the initial incremental sync "
        "(verified row by row), and show the final status."
    )
    failure_line = "❌ Railway setup failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show the migrations and the rows that would be synced; change nothing.",
        )
        parser.add_argument(
            "--confirm-destructive",
            action="store_true",
            help="Let the migrations drop a table or a column holding data on Railway (local "
            "dropped it); without it such a setup is refused, naming what would be deleted.",
        )

    def handle(
        self,
        *args: Any,
        dry_run: bool = False,
        confirm_destructive: bool = False,
        **options: Any,
    ) -> None:
        suffix = " (dry run)" if dry_run else ""
        self.stdout.write(f"🚀 Starting Railway setup{suffix}...")
        # A wrong DATABASE_URL must fail before step 1 changes Railway's schema.
        api.check_local(progress=self.on_progress)
        self.stdout.write("Step 1/4: Database schema migration")
        migration = api.migrate(
            dry_run=dry_run, confirm_destructive=confirm_destructive, progress=self.on_progress
        )
        verb = "Would apply" if dry_run else "Applied"
        if migration.planned:
            self.stdout.write(
                f"  {verb} {len(migration.planned)} migration(s): " + ", ".join(migration.planned)
            )
            for planned in migration.migrations:
                if planned.adopted:
                    self.stdout.write(f"  {planned.name}: {adopted_phrase(planned)}")
        else:
            self.stdout.write("  Schema is up to date: no migrations to apply")
        refusal = would_refuse(migration, confirm_destructive) if dry_run else None
        if refusal:
            raise CommandError(refusal, returncode=1)
        self.stdout.write("Step 2/4: Initial data synchronization")
        with history.recording("railway_setup", "incremental", dry_run, {}) as run:
            report = run.report = api.sync(
                SyncOptions(mode="incremental", dry_run=dry_run), progress=self.on_progress
            )
        render_sync(self.stdout, self.style, report, self.verbosity)
        if report.refused_tables and not dry_run:
            raise self.fail(refused_line(report).removeprefix("⚠ "))
        self.stdout.write("Step 3/4: Data integrity validation")
        if dry_run:
            self.stdout.write("  Would compare every local row with Railway after the sync.")
            self.stdout.write("Step 4/4: Final status report")
            self.stdout.write("  Skipped in a dry run.")
            self.stdout.write("✅ Railway setup dry run completed: nothing was changed on Railway")
            return
        self.stdout.write("  Every local row is on Railway with identical content.")
        self.stdout.write("Step 4/4: Final status report")
        status = api.status()
        render_status(self.stdout, self.style, status, self.verbosity)
        if not status.connected or any(
            t.missing_on_railway or t.differing or t.conflicts for t in status.tables
        ):
            raise self.fail("Railway does not match local after setup: " + status.recommendation)
        kept = sum(t.railway_only + t.site_rows for t in status.tables)
        if kept:
            # An adopted Railway may hold rows the site wrote; no sync touches them.
            self.stdout.write(
                self.style.WARNING(
                    f"⚠ Railway keeps {kept} rows that are not in local (the site's rows)."
                )
            )
        self.stdout.write(self.style.SUCCESS("✅ Railway setup completed successfully"))
