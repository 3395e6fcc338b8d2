"""What a sync holds while it runs: a consistent snapshot of local, and Railway's run lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction
from django.db.utils import Error, OperationalError

from railway_sync import conf
from railway_sync.errors import AnotherSyncRunning
from railway_sync.pg.error_source import lock_holder
from railway_sync.report import Progress, ProgressCallback

# The advisory lock key that serialises syncs (and migrations) on one Railway ("rail").
RUN_LOCK_KEY = 0x7261696C


@contextmanager
def read_only_snapshot(alias: str) -> Iterator[None]:
    """Read ``alias`` in one consistent snapshot, in a transaction that cannot write: a
    sync reads local this way, so concurrent scrapes can't tear it, and a pull Railway."""
    with transaction.atomic(using=alias):
        with connections[alias].cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
        # Nothing was written; ending read-only snapshots with rollback is cheapest.
        transaction.set_rollback(True, using=alias)


@contextmanager
def exclusive_run(
    railway: str, progress: ProgressCallback, *, taken: bool | None = None
) -> Iterator[None]:
    """Hold Railway's run lock (a session advisory lock), so two syncs never interleave writes.

    ``taken``: whether the caller already tried it (``railway_facts.read``): True, it holds
    it; False, another sync does, so wait; None, try it here. A second sync waits up to the
    wait timeout, then fails; a killed sync's lock goes with its connection.
    """
    connection = connections[railway]
    with connection.cursor() as cursor:
        if taken is None:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY])
            taken = bool(cursor.fetchone()[0])
        if not taken:
            wait = conf.wait_timeout()
            progress(
                Progress(
                    "wait", message=f"another railway_sync is running; waiting up to {wait:g} s"
                )
            )
            cursor.execute("SET lock_timeout = %s", [f"{int(wait * 1000)}ms"])
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", [RUN_LOCK_KEY])
            except OperationalError as exc:
                if lock_holder(exc) is None:
                    raise
                raise AnotherSyncRunning(
                    f"another railway_sync is running (waited {wait:g} s for it to finish); "
                    "nothing was written. Try again later, or raise RAILWAY_SYNC_WAIT_TIMEOUT."
                ) from None
            finally:
                cursor.execute("SET lock_timeout = %s", [f"{int(conf.lock_timeout() * 1000)}ms"])
    try:
        yield
    finally:
        release_run_lock(railway)


def release_run_lock(railway: str) -> None:
    """Release Railway's run lock held by this session (nothing if the connection is gone:
    the lock went with it)."""
    try:
        with connections[railway].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK_KEY])
    except Error:
        pass
