"""Every setting railway_sync reads, read at call time from ``django.conf.settings``."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from railway_sync.errors import ConfigurationError

# The tag of railway_sync's system checks (``checks``), the only ones a railway_* command runs.
SYSTEM_CHECK_TAG = "railway_sync"

DEFAULT_REBUILD_THRESHOLDS = {
    "organizations": 5,
    "animals": 50,
    "animal_images": 0,
    "scrape_logs": 10,
    "service_regions": 1,
}


def local_alias() -> str:
    """``RAILWAY_SYNC_LOCAL_ALIAS``: the database synced from. Default ``"default"``."""
    return getattr(settings, "RAILWAY_SYNC_LOCAL_ALIAS", "default")


def railway_alias() -> str:
    """``RAILWAY_SYNC_RAILWAY_ALIAS``: the database synced to. Default ``"railway"``."""
    return getattr(settings, "RAILWAY_SYNC_RAILWAY_ALIAS", "railway")


def url_errors() -> dict[str, str]:
    """``RAILWAY_SYNC_URL_ERRORS``: alias -> why its URL could not be used (set by settings).

    Default ``{}``. The project's settings put a message here instead of failing at import,
    so that each command can report the problem as one line.
    """
    return dict(getattr(settings, "RAILWAY_SYNC_URL_ERRORS", {}))


def batch_size() -> int:
    """``RAILWAY_SYNC_BATCH_SIZE``: rows per write batch. Default 5000."""
    return int(getattr(settings, "RAILWAY_SYNC_BATCH_SIZE", 5000))


def rebuild_thresholds() -> dict[str, int]:
    """``RAILWAY_SYNC_REBUILD_THRESHOLDS``: minimum local rows per table for ``--mode rebuild``.

    Default: organizations 5, animals 50, animal_images 0, scrape_logs 10, service_regions 1.
    Only the tables a run syncs are checked: a default table the local database lacks (and so
    does not sync) has no threshold to meet.
    """
    return {
        **DEFAULT_REBUILD_THRESHOLDS,
        **getattr(settings, "RAILWAY_SYNC_REBUILD_THRESHOLDS", {}),
    }


def embedded_data_dir() -> Path | None:
    """``EMBEDDED_DATA_DIR``: where the embedded PostgreSQL keeps its data. Default None.

    Set by the project's settings; the demo needs it to create its stand-in Railway.
    """
    value = getattr(settings, "EMBEDDED_DATA_DIR", None)
    return Path(value) if value else None


def connect_attempts() -> int:
    """``RAILWAY_SYNC_CONNECT_ATTEMPTS``: tries to open a connection that fails transiently.

    Default 3. Authentication errors and unknown databases are never retried.
    """
    return max(1, int(getattr(settings, "RAILWAY_SYNC_CONNECT_ATTEMPTS", 3)))


def connect_retry_delay() -> float:
    """``RAILWAY_SYNC_CONNECT_RETRY_DELAY``: seconds before the first retry, doubled for each
    later one. Default 1.0."""
    return float(getattr(settings, "RAILWAY_SYNC_CONNECT_RETRY_DELAY", 1.0))


def indexes_after_rows() -> int:
    """``RAILWAY_SYNC_INDEXES_AFTER_ROWS``: from how many rows a COPY into a table empty on the
    target drops the table's plain indexes and foreign keys, then builds the indexes and adds
    the keys back once the rows are in (inside the sync's transaction; other sessions wait for
    the table, and to write its parents, until it commits). Default 10000."""
    return int(getattr(settings, "RAILWAY_SYNC_INDEXES_AFTER_ROWS", 10_000))


def admin_timeout() -> float:
    """``RAILWAY_SYNC_ADMIN_TIMEOUT``: seconds an admin page spends, in all, connecting to a
    database before it shows the problem instead, so an unreachable Railway never holds a web
    worker for long. Default 3 (libpq cannot wait less than 2)."""
    return float(getattr(settings, "RAILWAY_SYNC_ADMIN_TIMEOUT", 3))


def lock_timeout() -> float:
    """``RAILWAY_SYNC_LOCK_TIMEOUT``: seconds a statement waits for a table lock held by another
    session before the sync gives up, naming the table. Default 30."""
    return float(getattr(settings, "RAILWAY_SYNC_LOCK_TIMEOUT", 30))


def wait_timeout() -> float:
    """``RAILWAY_SYNC_WAIT_TIMEOUT``: seconds a sync waits for another one to finish before it
    exits with "another railway_sync is running". Default 60."""
    return float(getattr(settings, "RAILWAY_SYNC_WAIT_TIMEOUT", 60))


def prune_max_share() -> float:
    """``RAILWAY_SYNC_PRUNE_MAX_SHARE``: the largest share of a table ``--prune`` deletes without
    ``--confirm-destructive``, and of a table's synced rows that may be missing locally before
    an incremental sync refuses. Default 0.10 (10%)."""
    return float(getattr(settings, "RAILWAY_SYNC_PRUNE_MAX_SHARE", 0.10))


def site_id_start() -> int | None:
    """``RAILWAY_SYNC_SITE_ID_START``: the first id Railway's sequences hand out to rows the
    site inserts, far above the ids local creates, so the two never pick the same id. Every
    sync moves each sequence to at least this (never backwards, never below max(id)). Default
    1_000_000_000 (a serial column ends at 2_147_483_647); None keeps the sequences just past
    max(id)."""
    value = getattr(settings, "RAILWAY_SYNC_SITE_ID_START", 1_000_000_000)
    return None if value is None else int(value)


def conflicts_shown() -> int:
    """``RAILWAY_SYNC_CONFLICTS_SHOWN``: conflicts described row by row per table (the rest are
    counted). Default 20."""
    return int(getattr(settings, "RAILWAY_SYNC_CONFLICTS_SHOWN", 20))


# The guide's five tables. The scrapers dropped animal_images since, so the default is what
# the local database has of these (``tables.configured``).
DEFAULT_TABLES = ("organizations", "animals", "animal_images", "scrape_logs", "service_regions")


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    return tuple(name.strip() for name in value or () if str(name).strip())  # type: ignore[attr-defined]


def tables_named() -> tuple[str, ...]:
    """``RAILWAY_SYNC_TABLES`` as set (a list, or one comma-separated string); ``()`` when
    unset or empty, and then the default applies (``tables``)."""
    return _names(getattr(settings, "RAILWAY_SYNC_TABLES", ()))


def tables() -> tuple[str, ...]:
    """``RAILWAY_SYNC_TABLES``: the local tables to sync (a list, or one comma-separated
    string). Default: those of organizations, animals, animal_images, scrape_logs and
    service_regions that the local database has (``tables.configured`` leaves out the ones it
    lacks, with a warning); this returns all five, the names before the catalog is read.

    A table the setting names is required: one the local database lacks is an error. Order
    does not matter: the sync orders them parents first from the foreign keys.
    """
    return tables_named() or DEFAULT_TABLES


def exclude_columns() -> frozenset[tuple[str, str]]:
    """``RAILWAY_SYNC_EXCLUDE_COLUMNS``: ``table.column`` names (a list, or one
    comma-separated string) never read, written or migrated. Default: none."""
    excluded = set()
    for name in _names(getattr(settings, "RAILWAY_SYNC_EXCLUDE_COLUMNS", ())):
        table, dot, column = name.partition(".")
        if not dot or not table or not column:
            raise ConfigurationError(
                f"RAILWAY_SYNC_EXCLUDE_COLUMNS: {name!r} is not table.column (e.g. animals.notes)."
            )
        excluded.add((table, column))
    return frozenset(excluded)


# The app whose migrations railway_makemigrations writes; its folder is MIGRATION_MODULES'.
SCHEMA_APP_LABEL = "railway_schema"


def migrations_module() -> str | None:
    """``MIGRATION_MODULES["railway_schema"]``: the project's package that holds the migrations
    ``railway_makemigrations`` writes (e.g. ``"project.railway_migrations"``). Default None:
    the command refuses, since the app's own folder is inside site-packages."""
    return (getattr(settings, "MIGRATION_MODULES", None) or {}).get(SCHEMA_APP_LABEL)
