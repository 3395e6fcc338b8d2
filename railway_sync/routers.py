"""Keep Django's own machinery off Railway, and Railway's schema off the local database."""

from __future__ import annotations

from typing import Any

from railway_sync import conf


class RailwayRouter:
    """Migrations hinted ``railway_schema=True`` run only on Railway; nothing else does.

    railway_sync names its database on every query, so reads and writes are not routed.
    """

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        railway = conf.railway_alias()
        if hints.get("railway_schema"):
            return db == railway
        if db == railway:
            return False
        return None
