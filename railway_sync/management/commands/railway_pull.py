from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.management.base import CommandParser

from railway_sync.engine import api
from railway_sync.engine.pull import PullOptions
from railway_sync.management.base import RailwayCommand
from railway_sync.management.commands.railway_sync import positive_int
from railway_sync.management.documents import PullDocument, pull_document
from railway_sync.management.render import render_pull
from railway_sync.operator import history


def table_names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise ValueError(value)
    return names


table_names.__name__ = "comma-separated list of tables"


class Command(RailwayCommand):
    help = (
        "Make the local tables equal to Railway's (recover local data, set up a new machine, "
        "bring home the rows the site wrote): in one local transaction, ids kept, sequences "
        "moved on, verified row by row. Railway is only read. Refuses to delete or overwrite "
        "local rows changed since the last sync unless --confirm-destructive."
    )
    failure_line = "❌ Pull from Railway failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tables",
            type=table_names,
            default=(),
            help=(
                "Pull only these tables (comma-separated, among those the sync syncs); "
                "default: all of them that Railway has."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=(
                "Report per table the rows that would be inserted, updated and deleted "
                "locally, and the local rows not on Railway yet it would replace; change "
                "nothing."
            ),
        )
        parser.add_argument(
            "--confirm-destructive",
            action="store_true",
            help=(
                "Let the pull delete or overwrite local rows changed since the last sync (work "
                "not on Railway yet); without it such a pull is refused, naming them."
            ),
        )
        parser.add_argument(
            "--create-tables",
            action="store_true",
            help=(
                "First create the tables the local database lacks, as Railway has them "
                "(columns, types, defaults, keys, indexes, constraints, sequences; not the "
                "site's columns). For a new machine."
            ),
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=None,
            help="Rows per write batch (default: RAILWAY_SYNC_BATCH_SIZE, 5000).",
        )
        self.add_format_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        recorded = {
            key: options[key]
            for key in ("tables", "confirm_destructive", "create_tables", "batch_size")
        }
        with history.recording("railway_pull", "pull", dry_run, recorded) as run:
            if self.verbosity >= 1:
                self.stdout.write("⬇ Pulling from Railway..." + (" (dry run)" if dry_run else ""))
            given = {
                key: options[key]
                for key in (
                    "tables",
                    "dry_run",
                    "confirm_destructive",
                    "create_tables",
                    "batch_size",
                )
                if options[key] is not None
            }
            report = run.report = api.pull(PullOptions(**given), progress=self.on_progress)
        if self.as_json:
            self.emit_json(pull_document(dry_run, report, notices=self.notices))
            return
        render_pull(self.stdout, self.style, report, self.verbosity)
        if dry_run:
            self.stdout.write("✅ Pull from Railway dry run completed")
            return
        deleted = f", {report.rows_deleted} deleted" if report.rows_deleted else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"✅ Pull from Railway completed ({report.rows_written} rows written locally"
                f"{deleted} in {report.seconds:.2f} s)"
            )
        )

    def failure_document(
        self, error: str, options: Mapping[str, Any], problems: tuple[str, ...] = ()
    ) -> PullDocument:
        return pull_document(
            options["dry_run"], None, error, seconds=self.elapsed(), notices=self.notices
        )
