from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser

from railway_sync import conf, embedded, sample
from railway_sync.management.base import RailwayCommand
from railway_sync.models import SYNCED_TABLES
from railway_sync.schema import railway_tables_present
from railway_sync.sql import count_rows

DEMO_RAILWAY_DATABASE = "railway_demo"


class Command(RailwayCommand):
    help = (
        "Demo on the embedded PostgreSQL: seed the local database with sample rescue data, "
        "create a second embedded database standing in for Railway, then run railway_setup "
        "and railway_status against it. Refuses to run when DATABASE_URL is set."
    )
    failure_line = "❌ Railway demo failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--animals",
            type=int,
            default=850,
            help="Animals to generate when the local sample data is first created (default 850).",
        )

    def handle(self, *args: Any, animals: int = 850, **options: Any) -> None:
        data_dir = conf.embedded_data_dir()
        if os.environ.get("DATABASE_URL") or data_dir is None:
            raise self.fail(
                "the demo only runs on the embedded PostgreSQL; unset DATABASE_URL and run it "
                "again (it would otherwise write sample rows into your database)."
            )
        local = conf.local_alias()
        call_command("migrate", database=local, verbosity=0)
        if not railway_tables_present(local, SYNCED_TABLES):
            sample.create_source_schema(local)
        if count_rows(local, "animals") == 0:
            counts = sample.insert(local, sample.generate(animals=animals))
            self.stdout.write(
                "Seeded the embedded local database with sample data: "
                + ", ".join(f"{count} {table}" for table, count in counts.items())
            )
        else:
            self.stdout.write(
                "The embedded local database already holds data ("
                + ", ".join(f"{count_rows(local, t)} {t}" for t in SYNCED_TABLES)
                + "); keeping it."
            )
        socket_dir = embedded.ensure_server(data_dir)
        embedded.drop_database(socket_dir, DEMO_RAILWAY_DATABASE)
        embedded.ensure_database(socket_dir, DEMO_RAILWAY_DATABASE)
        railway_url = embedded.database_url(socket_dir, DEMO_RAILWAY_DATABASE)
        self.stdout.write(
            f"Created an empty embedded database '{DEMO_RAILWAY_DATABASE}' standing in for Railway."
        )
        environment = {**os.environ, "RAILWAY_DATABASE_URL": railway_url}
        manage = Path(settings.BASE_DIR) / "manage.py"
        for command in (["railway_setup"], ["railway_sync"], ["railway_status", "--check"]):
            self.stdout.write(f"\n$ python manage.py {' '.join(command)}")
            self.stdout.flush()
            finished = subprocess.run(
                [sys.executable, str(manage), *command, "--no-color"], env=environment
            )
            if finished.returncode != 0:
                raise CommandError(
                    f"❌ Railway demo failed: {command[0]} exited {finished.returncode}",
                    returncode=1,
                )
        self.stdout.write(
            "\nDemo complete: the sample data was migrated and synced to the stand-in Railway, "
            "synced again with nothing to write, and verified row by row.\n"
            "To use a real Railway, put RAILWAY_DATABASE_URL (and DATABASE_URL) in .env, then "
            "run: python manage.py railway_setup"
        )
