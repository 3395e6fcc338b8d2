"""Checking, before commit, that the target now holds what the plan meant to write.

Routinely only the written rows are read back and compared (the plan vouches for the rest);
a large write, or ``--verify-all``, compares every row instead.
"""

from __future__ import annotations

from array import array

from railway_sync.engine import ownership
from railway_sync.engine.diff import TableDiff, compare_rows, diff_table
from railway_sync.engine.load import copied_digest, copies_binary
from railway_sync.engine.planner import FULL_SCAN_SHARE, Planner
from railway_sync.errors import VerificationFailed
from railway_sync.pg.columns import Column


def verify(
    planner: Planner,
    table: str,
    columns: list[Column],
    written: TableDiff,
    *,
    source_count: int,
    exact: bool,
    verify_all: bool,
    excused: array | None = None,
    sent_digest: bytes | None = None,
) -> None:
    """Raise :class:`VerificationFailed` unless the target holds what was ``written``.

    Routinely: every written row is on the target and hashes alike on both sides; ``exact``
    also re-checks the ids on both sides, so the target holds no row the source lacks and
    lacks none it has, but the site's. ``verify_all`` (and any write of more than a fifth of
    the table) compares every row instead. ``excused`` ids are not counted: rows the sync did
    not write on purpose (conflicts, rows held back) and the site's rows it kept.

    A table COPYed into while empty comes with ``sent_digest``, what the source sent: if the
    target's table, read back as COPY sends it, digests alike, it holds exactly those rows
    and no other, and the source need not be read again. Else (the site inserted a row
    meanwhile, or a trigger changed one) the rows are compared as above, which tells which.
    """
    source, target, key = planner.source, planner.target, planner.key(table)
    if sent_digest is not None and sent_digest == copied_digest(
        target, table, columns, key, binary=copies_binary(columns)
    ):
        return
    kept = set(excused or ())
    to_write = written.to_write
    extra = array("q")
    if verify_all or len(to_write) > FULL_SCAN_SHARE * max(source_count, 1):
        after = diff_table(source, target, table, columns, key)
        missing, differing, extra = after.to_insert, after.to_update, after.railway_only
    else:
        missing, differing = compare_rows(source, target, table, columns, to_write, key)
        if exact:
            more_missing, extra = planner.id_differences(table, None)
            missing = array("q", sorted({*missing, *more_missing}))
    missing = array("q", (i for i in missing if i not in kept))
    differing = array("q", (i for i in differing if i not in kept))
    extra = array("q", (i for i in extra if i not in kept))
    if exact and extra:
        # Rows the site inserted since the survey, at ids the source lacks, are its own:
        # only rows the sync owned or wrote must not be there.
        extra = ownership.ours(target, table, extra, key)
    problems = []
    if missing:
        problems.append(f"{len(missing)} local rows missing")
    if differing:
        problems.append(f"{len(differing)} rows with different content")
    if exact and extra:
        problems.append(f"{len(extra)} rows not in local")
    if problems:
        raise VerificationFailed(
            f"Verification failed for {table} on Railway: {', '.join(problems)}; the "
            "transaction was rolled back. Run python manage.py railway_status --deep for "
            "details."
        )
