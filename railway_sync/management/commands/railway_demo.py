from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser

from railway_sync import conf, sample
from railway_sync.management.base import RailwayCommand
from railway_sync.models import SYNCED_TABLES
from railway_sync.pg import embedded
from railway_sync.pg.sql import count_rows
from railway_sync.schema.drift import railway_tables_present

DEMO_RAILWAY_DATABASE = "railway_demo"
# The demo's admin login: the embedded server is this checkout's own and the admin is served
# on 127.0.0.1 only, so a known password stands in for createsuperuser here and nowhere else.
DEMO_ADMIN_USER = "demo"
DEMO_ADMIN_PASSWORD = "demo"


class Command(RailwayCommand):
    help = (
        "Demo on the embedded PostgreSQL, in steps: (1) seed the local database with sample "
        "rescue data unless it holds some, (2) create an empty embedded database "
        "'railway_demo' standing in for Railway, (3) railway_setup (migrate, initial sync, "
        "validation, status), (4) railway_sync again (nothing to write), (5) railway_status "
        "--check. Refuses to run when DATABASE_URL is set. --print-url and --admin use the "
        "stand-in afterwards."
    )
    failure_line = "❌ Railway demo failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--animals",
            type=int,
            default=850,
            help="Animals to generate when the local sample data is first created (default 850).",
        )
        parser.add_argument(
            "--print-url",
            action="store_true",
            help=(
                "Print the stand-in Railway's RAILWAY_DATABASE_URL and exit, e.g. "
                'RAILWAY_DATABASE_URL="$(python manage.py railway_demo --print-url)".'
            ),
        )
        parser.add_argument(
            "--admin",
            nargs="?",
            const="127.0.0.1:8000",
            metavar="ADDRPORT",
            help=(
                "After the demo: serve the admin against the stand-in Railway (runserver on "
                "ADDRPORT, default 127.0.0.1:8000), creating the demo login, user demo with "
                "password demo, if it is missing. This is what make admin runs."
            ),
        )

    def handle(
        self,
        *args: Any,
        animals: int = 850,
        print_url: bool = False,
        admin: str | None = None,
        **options: Any,
    ) -> None:
        data_dir = conf.embedded_data_dir()
        if os.environ.get("DATABASE_URL") or data_dir is None:
            raise self.fail(
                "the demo only runs on the embedded PostgreSQL (it would otherwise write sample "
                "rows into your database); unset DATABASE_URL, or if it comes from .env, run: "
                "RAILWAY_SYNC_ENV_FILE=/dev/null make demo"
            )
        if print_url:
            socket_dir = embedded.ensure_server(data_dir)
            self.stdout.write(embedded.database_url(socket_dir, DEMO_RAILWAY_DATABASE))
            return
        if admin is not None:
            self.serve_admin(data_dir, admin)
            return
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

    def serve_admin(self, data_dir: Path, addrport: str) -> None:
        """runserver with RAILWAY_DATABASE_URL at the stand-in, and the demo login in place."""
        socket_dir = embedded.ensure_server(data_dir)
        if not embedded.database_exists(socket_dir, DEMO_RAILWAY_DATABASE):
            raise self.fail(
                f"there is no stand-in Railway ('{DEMO_RAILWAY_DATABASE}') yet: run make demo "
                "(python manage.py railway_demo) first."
            )
        local = conf.local_alias()
        call_command("migrate", database=local, verbosity=0)
        users = get_user_model()._default_manager.db_manager(local)
        if not users.filter(username=DEMO_ADMIN_USER).exists():
            users.create_superuser(DEMO_ADMIN_USER, "", DEMO_ADMIN_PASSWORD)
        railway_url = embedded.database_url(socket_dir, DEMO_RAILWAY_DATABASE)
        self.stdout.write(
            f"Serving the admin at http://{addrport}/admin/ against the stand-in Railway "
            f"({DEMO_RAILWAY_DATABASE}); log in as {DEMO_ADMIN_USER}, password "
            f"{DEMO_ADMIN_PASSWORD}. Ctrl-C stops it."
        )
        self.stdout.flush()
        manage = Path(settings.BASE_DIR) / "manage.py"
        environment = {**os.environ, "RAILWAY_DATABASE_URL": railway_url}
        # Ctrl-C stops runserver, which is how a person ends this: not a failure. No reloader:
        # this serves the admin, it is not for developing the code.
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(
                [sys.executable, str(manage), "runserver", "--noreload", addrport], env=environment
            )
