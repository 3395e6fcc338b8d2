"""What a pull leaves in the local database for later runs (``PullState``): where local
stood, so the next pull tells local work from what it brought, and the site's rows it
brought, which a sync must not claim as its own."""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from django.db import connections
from django.utils import timezone

from railway_sync.errors import NOTHING_CHANGED, ConfigurationError
from railway_sync.models import PullState
from railway_sync.pg.sql import ranges_ids


def require_table(local: str) -> None:
    """Refuse before anything is read when local lacks the table a pull records itself in."""
    if not _present(local):
        raise ConfigurationError(
            f"The local database has no {PullState._meta.db_table} table, where a pull "
            f"records what it brought; {NOTHING_CHANGED}. Run: python manage.py migrate"
        )


def _present(local: str, *, readable: bool = False) -> bool:
    """Whether local has the pull record (``readable``: and the user may read it)."""
    check = "has_table_privilege(to_regclass(%s), 'SELECT')" if readable else "true"
    with connections[local].cursor() as cursor:
        cursor.execute(
            f"SELECT to_regclass(%s) IS NOT NULL AND {check}",
            [PullState._meta.db_table] * (2 if readable else 1),
        )
        return bool(cursor.fetchone()[0])


def last_pull(local: str, table: str) -> tuple[int, int] | None:
    """(local's watermark, the pull's own transaction) at ``table``'s last pull, if any."""
    state = PullState.objects.using(local).filter(table_name=table).first()
    return None if state is None else (state.local_watermark, state.pull_xid)


def record(local: str, table: str, watermark: int, pull_xid: int, site_ids: str) -> None:
    """Record ``table``'s pull, in the pull's own local transaction."""
    PullState.objects.using(local).update_or_create(
        table_name=table,
        defaults={
            "pulled_at": timezone.now(),
            "local_watermark": watermark,
            "pull_xid": pull_xid,
            "site_ids": site_ids,
        },
    )


@dataclass(frozen=True)
class LastPull:
    """What a sync needs of a table's last pull: the site's rows it brought (sorted ids),
    and its local transaction, whose rows were Railway's rows then (checked before commit)."""

    site_ids: array
    pull_xid: int


def last_pulls(local: str, names: tuple[str, ...]) -> dict[str, LastPull]:
    """Per table of ``names``, its last pull; none when local keeps no pull record (before
    ``migrate``, or never pulled), or the user a sync connects as may not read it (it needs
    only the scrapers' tables)."""
    if not names or not _present(local, readable=True):
        return {}
    states = PullState.objects.using(local).filter(table_name__in=names)
    return {
        state.table_name: LastPull(ranges_ids(state.site_ids), int(state.pull_xid))
        for state in states
    }
