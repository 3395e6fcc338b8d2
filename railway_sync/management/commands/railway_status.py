from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from railway_sync.engine import api
from railway_sync.management.base import RailwayCommand
from railway_sync.management.documents import StatusDocument, status_document
from railway_sync.management.render import (
    last_sync_line,
    not_compared_line,
    render_status,
    unrecorded_sync_line,
)
from railway_sync.operator import history


class Command(RailwayCommand):
    help = (
        "Show the Railway connection, local → Railway row counts per table, whether every "
        "row's content matches, and what to run next. Reads both databases, writes neither; "
        "exits 1 when the rows cannot be compared (Railway unreachable, without the tables, "
        "or with other columns than local)."
    )
    failure_line = "❌ Railway status failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit 1 when the databases are not in sync (for cron and CI).",
        )
        parser.add_argument(
            "--deep",
            action="store_true",
            help=(
                "Hash and compare every row on both sides instead of the rows change tracking "
                "names (slower; catches changes made behind PostgreSQL's back, such as a "
                "restored backup)."
            ),
        )
        self.add_format_argument(parser)

    def handle(self, *args: Any, check: bool = False, deep: bool = False, **options: Any) -> None:
        report = api.status(deep=deep, progress=self.on_progress)
        # Before migrate (or on a read-only local database) Railway's own record says when.
        absent = history.unavailable()
        last = history.last_success() if absent is None else None
        # Rows that could not be compared are no answer, --check or not.
        failed = not report.rows_compared or (check and not report.in_sync)
        if self.as_json:
            self.emit_json(
                status_document(
                    report, last, 1 if failed else 0, notices=self.notices, history=absent
                )
            )
        render_status(self.stdout, self.style, report, self.verbosity)
        if last is not None and last.finished_at is not None:
            self.stdout.write(last_sync_line(last.finished_at, timezone.now()))
        elif absent is not None:
            self.stdout.write(
                unrecorded_sync_line(
                    report.railway_synced_at, timezone.now(), history.NOT_RECORDED[absent]
                )
            )
        if not report.connected:
            raise CommandError(f"❌ Railway connection failed: {report.problem}", returncode=1)
        if not report.rows_compared:
            raise CommandError(not_compared_line(report), returncode=1)
        if check and not report.in_sync:
            raise CommandError("⚠ Local and Railway databases are not in sync", returncode=1)

    def failure_document(
        self, error: str, options: Mapping[str, Any], problems: tuple[str, ...] = ()
    ) -> StatusDocument:
        return status_document(
            None, None, 1, error, railway=self.masked_railway(), notices=self.notices
        )
