"""Test settings: both aliases on the embedded PostgreSQL, never on a real database.

pytest-django creates ``test_<NAME>`` databases; pointing ``railway`` at whatever
RAILWAY_DATABASE_URL names would create them on the real Railway, so the tests ignore both
URLs and use two databases on the project's embedded server.
"""

from __future__ import annotations

from project.settings import *  # noqa: F403
from project.settings import EMBEDDED_DATA_DIR
from railway_sync import embedded

DATABASES = {
    "default": embedded.database_settings(EMBEDDED_DATA_DIR, "railway_sync_local"),
    "railway": embedded.database_settings(EMBEDDED_DATA_DIR, "railway_sync_railway"),
}
RAILWAY_SYNC_URL_ERRORS = {}  # both aliases are the embedded server's, never a URL
