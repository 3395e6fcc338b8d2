from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.management.base import CommandParser

from railway_sync.engine import api
from railway_sync.management.base import RailwayCommand
from railway_sync.management.documents import ConnectionDocument, connection_document


class Command(RailwayCommand):
    help = (
        "Check that the Railway database (RAILWAY_DATABASE_URL) can be reached. "
        "Exit 0 when it can, 1 with the reason when it cannot."
    )
    failure_line = "❌ Railway connection failed"

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_format_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        report = api.test_connection()
        if self.as_json:
            self.emit_json(connection_document(report))
            return
        self.stdout.write(self.style.SUCCESS("✅ Railway connection successful"))
        self.stdout.write(
            f"   {report.target}: PostgreSQL {report.server_version}, "
            f"database {report.database} ({report.seconds:.2f} s)"
        )

    def failure_document(
        self, error: str, options: Mapping[str, Any], problems: tuple[str, ...] = ()
    ) -> ConnectionDocument:
        return connection_document(
            None, error, railway=self.masked_railway(), seconds=self.elapsed()
        )
