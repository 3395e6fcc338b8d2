from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from railway_sync.engine import api
from railway_sync.management.base import RailwayCommand

NEXT = "python manage.py railway_migrate"


class Command(RailwayCommand):
    help = (
        "Write a Django migration that brings Railway's synced tables to the local schema "
        "(create tables; add, retype and drop columns; add and drop constraints and indexes), "
        "into the project's MIGRATION_MODULES['railway_schema'] folder. Reads only the local "
        "database and the migration files; apply it with railway_migrate."
    )
    failure_line = "❌ Railway makemigrations failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the operations and their SQL; write no file.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write no file; exit 1 if the local schema has changes no migration covers.",
        )
        parser.add_argument("--name", help="The migration's name after its number.")

    def handle(
        self,
        *args: Any,
        dry_run: bool = False,
        check: bool = False,
        name: str | None = None,
        **options: Any,
    ) -> None:
        report = api.makemigrations(dry_run=dry_run or check, name=name, progress=self.on_progress)
        if not report.changes:
            self.stdout.write("No changes: Railway's migrations match the local schema.")
            return
        if check:
            self.stdout.write(
                f"{len(report.changes)} change(s) to the local schema no Railway migration covers:"
            )
            for change in report.changes:
                self.stdout.write(f"  - {change.description}")
            raise CommandError(
                "⚠ Railway's migrations are behind the local schema. Run: python manage.py "
                "railway_makemigrations && python manage.py railway_migrate",
                returncode=1,
            )
        if dry_run:
            self.stdout.write(f"Would write {report.migration} ({report.path}):")
        else:
            self.stdout.write(f"Wrote {report.migration} ({report.path}):")
        for change in report.changes:
            self.stdout.write(f"  - {change.description}")
            if dry_run:
                for statement in change.sql:
                    self.stdout.write(statement + ";")
        if dry_run:
            self.stdout.write("Dry run: no file was written.")
        else:
            self.stdout.write(self.style.SUCCESS(f"✅ Review and commit it, then run: {NEXT}"))
