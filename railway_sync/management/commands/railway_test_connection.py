from __future__ import annotations

from typing import Any

from railway_sync import engine
from railway_sync.management.base import RailwayCommand


class Command(RailwayCommand):
    help = (
        "Check that the Railway database (RAILWAY_DATABASE_URL) can be reached. "
        "Exit 0 when it can, 1 with the reason when it cannot."
    )
    failure_line = "❌ Railway connection failed"

    def handle(self, *args: Any, **options: Any) -> None:
        report = engine.test_connection()
        self.stdout.write(self.style.SUCCESS("✅ Railway connection successful"))
        if self.verbosity >= 1:
            self.stdout.write(
                f"   {report.target}: PostgreSQL {report.server_version}, "
                f"database {report.database} ({report.seconds:.2f} s)"
            )
