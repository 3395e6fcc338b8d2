from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from railway_sync import api, history
from railway_sync.errors import RailwaySyncError
from railway_sync.management.base import RailwayCommand, status_document


class Command(RailwayCommand):
    help = (
        "Show the Railway connection, local → Railway row counts per table, whether every "
        "row's content matches, and what to run next."
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
        try:
            report = api.status(deep=deep)
        except RailwaySyncError as exc:
            if self.as_json:
                self.emit_json(status_document(None, None, 1, str(exc)))
            raise self.fail(str(exc)) from None
        last = history.last_success()
        failed = not report.connected or (check and not report.in_sync)
        if self.as_json:
            self.emit_json(status_document(report, last, 1 if failed else 0))
        self.render_status(report)
        if last is not None and last.finished_at is not None:
            age = timezone.now() - last.finished_at
            self.stdout.write(
                f"Last successful sync: {last.finished_at:%Y-%m-%d %H:%M:%S} "
                f"({int(age.total_seconds() // 60)} minutes ago)"
            )
        if not report.connected:
            raise CommandError(f"❌ Railway connection failed: {report.problem}", returncode=1)
        if check and not report.in_sync:
            raise CommandError("⚠ Local and Railway databases are not in sync", returncode=1)
