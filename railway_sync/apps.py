from __future__ import annotations

import logging

from django.apps import AppConfig
from django.db.backends.base.base import BaseDatabaseWrapper


class RailwaySyncConfig(AppConfig):
    name = "railway_sync"
    verbose_name = "Railway sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from railway_sync import checks  # noqa: F401  (registers the system checks)
        from railway_sync.pg.connection import prepare_sessions, settle_session

        connection_created.connect(log_sql_when_asked, dispatch_uid="railway_sync_log_sql")
        # Every session on either database waits at most RAILWAY_LOCK_TIMEOUT for a lock,
        # however it is opened (the history's first write, an admin page).
        connection_created.connect(settle_session, dispatch_uid="railway_sync_session")
        prepare_sessions()


def log_sql_when_asked(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """Django logs SQL to ``django.db.backends`` only with DEBUG on; RAILWAY_SYNC_LOG_LEVEL=DEBUG
    (that logger at DEBUG) shows it with DEBUG off too. Statements and their parameters only:
    connection settings, and so passwords, are never part of them."""
    if logging.getLogger("django.db.backends").isEnabledFor(logging.DEBUG):
        connection.force_debug_cursor = True
