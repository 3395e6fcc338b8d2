"""The checks that stop a sync before it writes, and the one line each refusal prints.

- incremental: Railway must not hold more rows than local (a local database cleared by
  mistake would otherwise look like "nothing to do" while Railway keeps stale rows);
- rebuild: local must hold at least the rebuild thresholds (a rebuild from a half-empty local
  database would empty Railway);
- ``--prune``: it may delete at most ``RAILWAY_PRUNE_MAX_SHARE`` of a table unconfirmed;
- always: no local row may point at a parent local lacks (Railway would reject it).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from django.db import connections

from railway_sync import conf
from railway_sync.errors import GuardRefused
from railway_sync.options import SyncOptions
from railway_sync.sql import quote_name
from railway_sync.tables import ForeignKey


@dataclass(frozen=True)
class Findings:
    """What the guards found: ``problems`` refuse the mode; ``orphans`` refuse any sync."""

    problems: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.problems + self.orphans


def inspect(
    options: SyncOptions,
    counts: dict[str, tuple[int, int]],
    prune_ids: dict[str, array],
    *,
    local: str,
    foreign_keys: list[ForeignKey],
) -> Findings:
    """Every guard's findings for a sync with ``options`` (a dry run reports them all)."""
    if options.prune:
        # The share guard replaces the count guard, which would refuse exactly the syncs that
        # pruning exists for (local rows deleted on purpose).
        problems = [] if options.confirm_destructive else _prune_share(prune_ids, counts)
    else:
        problems = _counts(options.mode, counts)
    return Findings(tuple(problems), tuple(local_orphans(local, foreign_keys)))


def enforce(options: SyncOptions, findings: Findings) -> None:
    """Raise :class:`GuardRefused` with the line that names the fix, if anything was found."""
    if findings.problems:
        raise GuardRefused(_refusal(options, findings.problems))
    if findings.orphans:
        raise GuardRefused(
            "Local data is inconsistent: " + "; ".join(findings.orphans) + ". Railway would "
            "reject these rows; fix them in the local database, then sync again. Nothing was "
            "written."
        )


def _counts(mode: str, counts: dict[str, tuple[int, int]]) -> list[str]:
    problems = []
    if mode == "incremental":
        for table, (local_count, railway_count) in counts.items():
            if local_count < railway_count:
                problems.append(
                    f"{table}: local has {local_count} rows but Railway has {railway_count}"
                )
    elif mode == "rebuild":
        thresholds = conf.rebuild_thresholds()
        for table, (local_count, _) in counts.items():
            minimum = thresholds.get(table, 0)
            if local_count < minimum:
                problems.append(
                    f"{table}: local has {local_count} rows, below the rebuild threshold of {minimum}"
                )
    return problems


def _prune_share(prune_ids: dict[str, array], counts: dict[str, tuple[int, int]]) -> list[str]:
    share = conf.prune_max_share()
    problems = []
    for table, ids in prune_ids.items():
        railway_count = counts[table][1]
        if railway_count and len(ids) / railway_count > share:
            problems.append(
                f"{table}: --prune would delete {len(ids)} of {railway_count} rows, more than "
                f"{share:.0%}"
            )
    return problems


def _refusal(options: SyncOptions, problems: tuple[str, ...]) -> str:
    listed = "; ".join(problems)
    if options.prune:
        return (
            f"--prune refused: it would delete a large share of Railway's rows ({listed}). "
            "If local is right, run: python manage.py railway_sync --prune --confirm-destructive"
        )
    if options.mode == "incremental":
        return (
            f"Incremental sync refused: Railway has more rows than local ({listed}). If local "
            "is right, run: python manage.py railway_sync --mode rebuild --confirm-destructive "
            "(or --mode force --confirm-destructive in an emergency)."
        )
    return (
        f"Rebuild refused: local data is below the safety thresholds ({listed}). Check the "
        "local database; if this really is the data you want on Railway, run python manage.py "
        "railway_sync --mode force --confirm-destructive."
    )


def _enforced_locally(local: str) -> set[tuple[str, str, str]]:
    """The foreign keys the local database itself enforces (validated constraints)."""
    with connections[local].cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname, a.attname, parent.relname
            FROM pg_constraint c
            JOIN pg_class child ON child.oid = c.conrelid
            JOIN pg_class parent ON parent.oid = c.confrelid
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.convalidated AND cardinality(c.conkey) = 1
              AND child.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
            """
        )
        return set(cursor.fetchall())


def local_orphans(local: str, foreign_keys: list[ForeignKey]) -> list[str]:
    """Local rows whose foreign key (among ``foreign_keys``, those between synced tables)
    points at no local row: Railway would reject them.

    Only keys the local database does not enforce itself can have such rows.
    """
    problems = []
    enforced = _enforced_locally(local)
    with connections[local].cursor() as cursor:
        for fk in foreign_keys:
            child, column, parent = fk.child, fk.column, fk.parent
            if (child, column, parent) in enforced:
                continue
            key = quote_name(column)
            cursor.execute(
                f"SELECT count(*), array_agg(DISTINCT c.{key}) FROM {quote_name(child)} c "
                f"WHERE c.{key} IS NOT NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {quote_name(parent)} p "
                f"WHERE p.{quote_name(fk.parent_column)} = c.{key})"
            )
            count, values = cursor.fetchone()
            if count:
                shown = ", ".join(str(v) for v in sorted(values)[:5])
                problems.append(
                    f"{count} {child} rows point at {parent} that do not exist locally "
                    f"({column} {shown})"
                )
    return problems
