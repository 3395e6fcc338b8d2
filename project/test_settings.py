"""Test settings: both aliases on the embedded PostgreSQL, never on a real database.

pytest-django creates ``test_<NAME>`` databases; pointing ``railway`` at whatever
RAILWAY_DATABASE_URL names would create them on the real Railway, so the tests ignore both
URLs and use two databases on the project's embedded server.

``RAILWAY_SYNC_TEST_LOCAL_PG`` and ``RAILWAY_SYNC_TEST_RAILWAY_PG`` put either database on
another PostgreSQL major version (``15``: Debian's ``/usr/lib/postgresql/15/bin``, run the
same way, data under ``.embedded-postgres/data-pg15``); unset, or ``18``, is the embedded 18.
"""

from __future__ import annotations

import os
from pathlib import Path

from project.settings import *  # noqa: F403
from project.settings import EMBEDDED_DATA_DIR
from railway_sync.pg import embedded

EMBEDDED_MAJOR = "18"


def _server(variable: str) -> tuple[Path, Path | None]:
    """(data folder, programs folder or None for the embedded package's) for one alias."""
    major = os.environ.get(variable, "").strip() or EMBEDDED_MAJOR
    if major == EMBEDDED_MAJOR:
        return EMBEDDED_DATA_DIR, None
    if not major.isdigit():
        raise ValueError(f"{variable} must be a PostgreSQL major version such as 15, not {major!r}")
    return EMBEDDED_DATA_DIR.with_name(f"data-pg{major}"), Path(f"/usr/lib/postgresql/{major}/bin")


def _database(variable: str, name: str) -> dict:
    data_dir, programs = _server(variable)
    return embedded.database_settings(data_dir, name, programs)


DATABASES = {
    "default": _database("RAILWAY_SYNC_TEST_LOCAL_PG", "railway_sync_local"),
    "railway": _database("RAILWAY_SYNC_TEST_RAILWAY_PG", "railway_sync_railway"),
}
RAILWAY_SYNC_URL_ERRORS = {}  # both aliases are the embedded server's, never a URL
