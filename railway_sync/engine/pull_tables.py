"""Which tables a pull brings: those the sync syncs (``RAILWAY_SYNC_TABLES``, else the
default tables), as far as Railway has them, or the ones ``--tables`` names among them."""

from __future__ import annotations

from railway_sync import conf
from railway_sync.errors import NOTHING_CHANGED, ConfigurationError
from railway_sync.schema import tables


def chosen(
    local: str, railway: str, requested: tuple[str, ...] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the tables to pull, the notices choosing them gave). A table the setting or
    ``requested`` names must be on Railway; of the default tables, those Railway lacks are
    left out with a notice (local's tables do not choose: a new machine has none)."""
    named = conf.tables_named()
    configured = named or conf.DEFAULT_TABLES
    unknown = [name for name in requested if name not in configured]
    if unknown:
        raise ConfigurationError(
            f"--tables names {', '.join(unknown)}, which the sync does not sync; choose among "
            f"{', '.join(configured)} (or add it to RAILWAY_SYNC_TABLES)."
        )
    names = tuple(name for name in configured if not requested or name in requested)
    on_railway = tables.present(railway, names)
    absent = [name for name in names if name not in on_railway]
    if absent and (named or requested or len(absent) == len(names)):
        raise ConfigurationError(
            f"Railway has no table {', '.join(absent)}; {NOTHING_CHANGED}. Check "
            "RAILWAY_DATABASE_URL points at the site's database, or set it up first: "
            "python manage.py railway_setup"
        )
    if not absent:
        return names, ()
    kept = tuple(name for name in names if name in on_railway)
    notice = (
        f"Railway has no table{'s' if len(absent) > 1 else ''} {', '.join(absent)}: pulling "
        f"the default tables it has, {', '.join(kept)} (set RAILWAY_SYNC_TABLES to choose "
        "the tables)."
    )
    return kept, (notice,)
