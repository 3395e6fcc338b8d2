"""Which Railway rows the sync owns, and which are the site's.

Railway has other writers (the site's scheduled scrapers, operators' fixes), so "a Railway row
local lacks" is not enough to delete it. Per table, Railway's ``railway_sync_owned`` holds the
ids the sync wrote or verified as local rows, as ranges (an ``int8multirange``: its size grows
with the gaps between ids, not with the rows), and is rewritten in the transaction that writes
the table. Every other Railway row is the site's: incremental and ``--prune`` never delete or
overwrite it, rebuild and force keep it unless told ``--discard-railway-rows``.

A table without a record (Railway adopted from an earlier tool, or synced before migration
0005) is owned where local has the same id; every other row is the site's.

"Id" is each table's primary key, whatever its name (``tables.Catalog.keys``); the foreign
keys that link rows are the catalog's (``tables.ForeignKey``).

A site row at an id local also has, with other content, is a *conflict*: the site's row is
kept (``--on-conflict report``) or replaced by local's (``--on-conflict local``, after which
the row is owned).

The SQL naming the owned ids (the record, read and counted) lives in ``owned_ids``; the record
written after a sync wrote a table, in ``owned_record``; the site's rows pointing at rows a
sync deletes, in ``linked_rows``.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connections

from railway_sync import conf
from railway_sync.engine.diff import TableDiff
from railway_sync.engine.id_sets import contains, without
from railway_sync.engine.linked_rows import pointing_at
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.owned_ids import NO_IDS, record_expression, unowned_sql
from railway_sync.pg.columns import Column
from railway_sync.pg.sql import id_array_literal, id_ranges, quote_name, row_hash
from railway_sync.report import Conflict
from railway_sync.schema.tables import ForeignKey

# The columns that name a row to a person, when the table has them (else its unique columns).
NAMING_COLUMNS = ("name", "slug", "external_id")


@dataclass(frozen=True)
class Ownership:
    """Where one table's Railway rows stand, as read at one moment.

    ``gone`` are owned rows local no longer has (what ``--prune`` and rebuild delete);
    ``site_only`` are the site's rows at ids local lacks; ``conflict_ids`` the site's rows at
    ids local has with other content; ``adopted`` unowned rows identical to local's, owned
    from this sync on. All sorted.
    """

    table: str
    owned_count: int
    gone: array = field(default_factory=lambda: array("q"))
    site_only: array = field(default_factory=lambda: array("q"))
    conflict_ids: array = field(default_factory=lambda: array("q"))
    adopted: array = field(default_factory=lambda: array("q"))
    # The adopted rows' hashes as read: a row is adopted only while it still reads so.
    adopted_hashes: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    # Railway's record already says exactly this (a sync that writes nothing to the table
    # need not rewrite it).
    record_current: bool = False

    @property
    def site_rows(self) -> int:
        """Railway rows the sync does not own (before this sync)."""
        return len(self.site_only) + len(self.conflict_ids)

    def deletable(self, options: SyncOptions) -> array:
        """The Railway ids a deleting sync removes: owned rows local lacks, and with
        ``--discard-railway-rows`` the site's rows at ids local lacks too."""
        if not options.discard_railway_rows:
            return self.gone
        return array("q", sorted({*self.gone, *self.site_only}))

    def kept_conflicts(self, options: SyncOptions) -> array:
        """The conflicting ids where the site's row stays (local's is not written)."""
        return array("q") if options.local_wins else self.conflict_ids

    def kept_site_rows(self, options: SyncOptions, *, deleting: bool) -> int:
        """How many of the site's rows stay after the sync (``deleting``: rebuild or force)."""
        discarded = deleting and options.discard_railway_rows
        return len(self.kept_conflicts(options)) + (0 if discarded else len(self.site_only))

    def settle(
        self, diff: TableDiff, options: SyncOptions, local_count: int, held: array
    ) -> tuple[TableDiff, int]:
        """``diff`` as this sync carries it out, and how many rows it holds back.

        Kept conflicts are not written (or, local winning, are); rows ``held`` (they point at
        a row this sync does not write) are not written; ``railway_only`` is narrowed to what
        a deleting sync may delete.
        """
        kept = self.kept_conflicts(options)
        if kept:
            to_update = without(diff.to_update, kept)
        else:
            to_update = array("q", sorted({*diff.to_update, *self.conflict_ids}))
        held_count = sum(1 for i in held if contains(diff.to_insert, i) or contains(to_update, i))
        to_insert = without(diff.to_insert, held)
        to_update = without(to_update, held)
        settled = TableDiff(
            to_insert=to_insert,
            to_update=to_update,
            railway_only=self.deletable(options),
            unchanged=local_count - len(to_insert) - len(to_update) - len(kept) - held_count,
            method=diff.method,
        )
        return settled, held_count


def held_back(
    local: str,
    table: str,
    foreign_keys: list[ForeignKey],
    blocked: dict[str, array],
    keys: dict[str, str],
    stale: dict[str, array] | None = None,
) -> array:
    """Local rows of ``table`` that point (foreign key) at a row of their parent this sync
    does not write (``blocked[parent]``: kept conflicts, rows held back themselves, a refused
    table's new rows): written, they would point at the site's row, or at no row. Sorted ids.

    ``stale[parent]`` are rows Railway keeps in their older content (a refused table's
    updates): they block only keys that reference another column than the parent's primary
    key, whose value may be what changed. ``foreign_keys`` are those among the synced tables;
    ``keys`` each table's primary key.
    """
    ids: set[int] = set()
    key = quote_name(keys.get(table, "id"))
    for fk in foreign_keys:
        if fk.child != table:
            continue
        parent_ids = blocked.get(fk.parent, array("q"))
        if stale and stale.get(fk.parent) and fk.parent_column != keys.get(fk.parent, "id"):
            parent_ids = array("q", sorted({*parent_ids, *stale[fk.parent]}))
        if not parent_ids:
            continue
        with connections[local].cursor() as cursor:
            cursor.execute(
                f"SELECT {key} FROM {quote_name(fk.child)} "
                f"WHERE {pointing_at(fk, keys, parent_ids)}"
            )
            ids.update(row[0] for row in cursor.fetchall())
    return array("q", sorted(ids))


def local_ids(local: str, table: str, key: str = "id") -> str:
    """Local's ids (primary ``key``) of ``table`` as ``int8multirange`` text, computed by the
    local server."""
    return id_ranges(local, table, key)


def survey(
    local: str,
    railway: str,
    table: str,
    columns: list[Column],
    local_id_ranges: str | None,
    railway_only: array,
    railway_count: int,
    table_present: bool = True,
    key: str = "id",
    unowned: list[tuple] | None = None,
    recorded_ids: int | None = None,
    pulled: array | None = None,
) -> Ownership:
    """Split ``table``'s Railway rows into owned and the site's; ``railway_only`` are the
    Railway ids local lacks (from ``id_survey.id_differences``), ``railway_count`` its rows.
    ``unowned``: the rows of ``unowned_sql``, if the caller read them already (the survey
    reads every table's at once), and ``recorded_ids`` how many ids the record held then
    (``recorded_sql``; None: no record, or not read with them). The owned rows are never
    listed. ``table_present`` as for ``owned_ranges``; ``key`` is the table's primary key
    column. ``pulled``: the site's rows a pull brought to local, which stay the site's even
    where local's row is identical (never adopted)."""
    if unowned is None:
        with connections[railway].cursor() as cursor:
            cursor.execute(
                unowned_sql(railway, table, columns, local_id_ranges, table_present, key)
            )
            unowned = cursor.fetchall()
    site_only = array("q", (row_id for row_id, in_local, _ in unowned if not in_local))
    railway_hashes = {row_id: row_hash for row_id, in_local, row_hash in unowned if in_local}
    conflict_ids = array(
        "q",
        sorted(
            row_id
            for row_id, local_hash in row_hashes(local, table, columns, railway_hashes, key)
            if local_hash != railway_hashes[row_id]
        ),
    )
    adopted = without(array("q", sorted(railway_hashes)), conflict_ids)
    if pulled:
        adopted = without(adopted, pulled)
    gone = without(railway_only, site_only)
    owned_count = max(railway_count - len(unowned), 0)
    return Ownership(
        table=table,
        owned_count=owned_count,
        # Nothing to adopt, and every recorded id is a row Railway still has: rewriting the
        # record would store the same ranges.
        record_current=recorded_ids == owned_count and not adopted,
        gone=gone,
        site_only=site_only,
        conflict_ids=conflict_ids,
        adopted=adopted,
        adopted_hashes=tuple(railway_hashes[row_id] for row_id in adopted),
        conflicts=describe(
            local, railway, table, columns, conflict_ids[: conf.conflicts_shown()], key
        ),
    )


def row_hashes(
    alias: str, table: str, columns: list[Column], ids: Iterable[int], key: str = "id"
) -> list[tuple[int, str]]:
    """(id, row hash) of the rows among ``ids`` on ``alias`` (a few: the site's rows at local
    ids)."""
    ids = list(ids)
    if not ids:
        return []
    pk = quote_name(key)
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"SELECT {pk}, {row_hash(columns)} FROM {quote_name(table)} "
            f"WHERE {pk} = ANY({id_array_literal(ids)})"
        )
        return [(int(row_id), str(value)) for row_id, value in cursor.fetchall()]


def naming_columns(local: str, table: str, columns: list[Column], key: str = "id") -> list[str]:
    """The columns that tell a person which row this is: name, slug, external_id where the
    table has them, else its unique columns, else its first two columns after the primary
    ``key``."""
    names = [c.name for c in columns]
    chosen = [name for name in NAMING_COLUMNS if name in names]
    if not chosen:
        with connections[local].cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND NOT i.indisprimary",
                [quote_name(table)],
            )
            unique = {row[0] for row in cursor.fetchall()}
        chosen = [name for name in names if name in unique]
    return chosen or [name for name in names if name != key][:2]


def describe(
    local: str, railway: str, table: str, columns: list[Column], ids: array, key: str = "id"
) -> tuple[Conflict, ...]:
    """Both rows' naming columns for each conflicting id in ``ids`` (of primary ``key``)."""
    if not ids:
        return ()
    pk = quote_name(key)
    keys = naming_columns(local, table, columns, key)
    selected = ", ".join(f"{quote_name(key)}::text" for key in keys)
    sql = (
        f"SELECT {pk}, {selected} FROM {quote_name(table)} "
        f"WHERE {pk} = ANY({id_array_literal(ids)}) ORDER BY {pk}"
    )
    rows = {}
    for alias in (local, railway):
        with connections[alias].cursor() as cursor:
            cursor.execute(sql)
            rows[alias] = {row[0]: dict(zip(keys, row[1:], strict=True)) for row in cursor}
    return tuple(
        Conflict(row_id, rows[local].get(row_id, {}), rows[railway].get(row_id, {}))
        for row_id in ids
    )


def ours(railway: str, table: str, ids: array, key: str = "id") -> array:
    """Those of ``ids`` (rows on Railway) that the sync owns by its record or wrote in the
    current transaction; the others are the site's."""
    pk = quote_name(key)
    with connections[railway].cursor() as cursor:
        cursor.execute(
            f"SELECT {pk} FROM {quote_name(table)} WHERE {pk} = ANY({id_array_literal(ids)}) "
            f"AND ({pk}::bigint <@ coalesce({record_expression(railway, table)}, {NO_IDS}) "
            "OR xmin = pg_current_xact_id()::xid) "
            f"ORDER BY {pk}"
        )
        return array("q", (row[0] for row in cursor.fetchall()))
