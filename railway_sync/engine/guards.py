"""The checks that stop a sync before it writes, and the one line each refusal prints.

- incremental: at most ``RAILWAY_PRUNE_MAX_SHARE`` of a table's rows the sync put on Railway
  may be missing locally (a local database cleared by mistake would otherwise look like
  "nothing to do" while Railway keeps stale rows); rows the site added never count. It
  refuses that table alone: the table is left as it was, named with its fix, and the others
  sync, each in its own transaction ("partial success", as the guide promises);
- rebuild: local must hold at least the rebuild thresholds (a rebuild from a half-empty local
  database would empty Railway);
- ``--prune``: it may delete at most ``RAILWAY_PRUNE_MAX_SHARE`` of a table unconfirmed;
- deleting syncs: no row of the site may point at a row about to be deleted;
- always: no local row may point at a parent local lacks (Railway would reject it).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from django.db import connections

from railway_sync import conf
from railway_sync.engine.linked_rows import site_children_of
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.ownership import Ownership
from railway_sync.engine.planner import Planner
from railway_sync.engine.sync_plan import Refusal
from railway_sync.errors import GuardRefused
from railway_sync.pg.sql import CURRENT_SCHEMA, quote_name
from railway_sync.schema.tables import ForeignKey

# Beyond this share of its synced rows missing locally, a table looks rebuilt or cleared
# rather than pruned by hand, and a refusal recommends a rebuild instead of --prune.
REBUILT_SHARE = 0.5


@dataclass(frozen=True)
class Findings:
    """What the guards found: ``problems`` refuse the mode; ``orphans`` (local rows pointing
    nowhere) and ``site_children`` (the site's rows pointing at rows to delete) refuse any
    sync; the ``refused`` tables are left as they were while the others sync."""

    problems: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()
    site_children: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = ()

    @property
    def blocking(self) -> tuple[str, ...]:
        """The findings that refuse the whole sync."""
        return self.problems + self.site_children + self.orphans

    @property
    def all(self) -> tuple[str, ...]:
        """Every finding, one phrase each (what ``guard_problems`` lists)."""
        return self.blocking + tuple(refusal.problem for refusal in self.refused)


def inspect(
    options: SyncOptions,
    counts: dict[str, tuple[int, int]],
    owners: dict[str, Ownership],
    planner: Planner,
) -> Findings:
    """Every guard's findings for a sync with ``options`` (a dry run reports them all)."""
    problems: list[str] = []
    refused: list[Refusal] = []
    if options.prune:
        # The share guard replaces the missing-rows guard, which would refuse exactly the
        # syncs that pruning exists for (local rows deleted on purpose).
        problems = [] if options.confirm_destructive else _prune_share(owners, counts)
    elif options.mode == "incremental":
        refused = _owned_missing(owners, counts)
    else:
        problems = _thresholds(options.mode, counts)
    names = tuple(owners)  # the configured tables, parents first
    leaving: dict[str, array] = {}
    if options.prune:
        leaving = {table: owners[table].gone for table in names}
    elif options.destructive:
        leaving = {table: owners[table].deletable(options) for table in names}
    children = [
        line
        for table in names
        for line in site_children(planner, table, leaving.get(table, array("q")), leaving)
    ]
    orphans = local_orphans(planner.source, planner.foreign_keys)
    return Findings(tuple(problems), tuple(orphans), tuple(children), tuple(refused))


def enforce(options: SyncOptions, findings: Findings) -> None:
    """Raise :class:`GuardRefused` with the line that names the fix, if anything found
    refuses the whole sync (a ``refused`` table does not: the write leaves it out)."""
    if findings.problems:
        raise GuardRefused(_refusal(options, findings), findings.all)
    if findings.site_children:
        raise GuardRefused(
            site_children_refusal(list(findings.site_children), "nothing was written"),
            findings.all,
        )
    if findings.orphans:
        raise GuardRefused(
            "Local data is inconsistent: " + "; ".join(findings.orphans) + ". Railway would "
            "reject these rows; fix them in the local database, then sync again. Nothing was "
            "written.",
            findings.all,
        )


def site_children(planner: Planner, table: str, ids: array, leaving: dict[str, array]) -> list[str]:
    """The site's rows that point at rows ``ids`` of ``table`` about to be deleted (rows in
    ``leaving`` go too and do not count), one phrase each."""
    if not ids:
        return []
    return site_children_of(
        planner.target,
        table,
        ids,
        planner.site_foreign_keys,
        {
            fk.child: planner.source_ids(fk.child)
            for fk in planner.site_foreign_keys
            if fk.parent == table
        },
        leaving,
        planner.owned_present,
        planner.keys,
    )


def site_children_refusal(found: list[str], outcome: str) -> str:
    """The refusal line when deleting would break (or cascade to) the site's rows."""
    return (
        "Refused: rows the site wrote on Railway point at rows local deleted ("
        + "; ".join(found)
        + f"); deleting those would break or delete the site's rows, so {outcome}. Repoint or "
        "delete the site's rows on Railway, or restore the rows locally, then sync again."
    )


def _owned_missing(
    owners: dict[str, Ownership], counts: dict[str, tuple[int, int]]
) -> list[Refusal]:
    share = conf.prune_max_share()
    refused = []
    for table, own in owners.items():
        missing = len(own.gone)
        if own.owned_count and missing / own.owned_count > share:
            found = (
                f"local has {counts[table][0]} rows but Railway has {own.owned_count} synced "
                f"rows, {missing} of them not in local"
            )
            if missing / own.owned_count > REBUILT_SHARE:
                fix = (
                    "If local was rebuilt on purpose, run: python manage.py railway_sync "
                    "--mode rebuild --confirm-destructive (the site's rows stay)."
                )
            else:
                fix = (
                    "If local deleted these rows on purpose, run: python manage.py "
                    "railway_sync --prune --confirm-destructive (it deletes only rows the "
                    "sync put there)."
                )
            reason = f"rows the sync put on Railway are missing locally ({found})"
            refused.append(Refusal(table, f"{table}: {found}", reason, fix))
    return refused


def _thresholds(mode: str, counts: dict[str, tuple[int, int]]) -> list[str]:
    problems = []
    if mode == "rebuild":
        thresholds = conf.rebuild_thresholds()
        for table, (local_count, _) in counts.items():
            minimum = thresholds.get(table, 0)
            if local_count < minimum:
                problems.append(
                    f"{table}: local has {local_count} rows, below the rebuild threshold of {minimum}"
                )
    return problems


def _prune_share(owners: dict[str, Ownership], counts: dict[str, tuple[int, int]]) -> list[str]:
    share = conf.prune_max_share()
    problems = []
    for table, own in owners.items():
        railway_count = counts[table][1]
        if railway_count and len(own.gone) / railway_count > share:
            problems.append(
                f"{table}: --prune would delete {len(own.gone)} of {railway_count} rows, more "
                f"than {share:.0%}"
            )
    return problems


def _refusal(options: SyncOptions, findings: Findings) -> str:
    listed = "; ".join(findings.problems)
    if options.prune:
        return (
            f"--prune refused: it would delete a large share of Railway's rows ({listed}). "
            "If local is right, run: python manage.py railway_sync --prune --confirm-destructive"
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
            f"""
            SELECT child.relname, a.attname, parent.relname
            FROM pg_constraint c
            JOIN pg_class child ON child.oid = c.conrelid
            JOIN pg_class parent ON parent.oid = c.confrelid
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.convalidated AND cardinality(c.conkey) = 1
              AND child.relnamespace = {CURRENT_SCHEMA}
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
