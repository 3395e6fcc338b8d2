"""Test settings: both aliases on the local test server, never on a real Railway.

pytest-django creates ``test_<NAME>`` databases; pointing ``railway`` at whatever
RAILWAY_DATABASE_URL names would create them on the real Railway, so tests ignore it and use
a second database beside ``default`` (the embedded server, or DATABASE_URL's server).
"""

from __future__ import annotations

from project.settings import *  # noqa: F403
from project.settings import DATABASES

DATABASES["railway"] = {**DATABASES["default"], "NAME": "railway_sync_railway"}
RAILWAY_SYNC_URL_ERRORS: dict[str, str] = {}
