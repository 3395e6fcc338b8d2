"""Recovering the local tables from Railway (``railway_pull``): the sync's parts, the other way.

Railway is the source and is only read: everything comes from one REPEATABLE READ, READ ONLY
transaction there, so a pull sees one consistent moment and cannot write production. Local is
the target: every table is written in one local transaction (a kill or a lost connection
leaves it exactly as before), by COPY into an empty table or the upsert, ids kept, then
deletions children first, each sequence moved past what was written, and every written row
read back and compared before commit.

Local work is never lost silently: a local row changed since the last sync or pull (not yet
on Railway) that the pull would delete or overwrite refuses the pull, naming how many per
table and the first ids, unless ``confirm_destructive``. The site's rows the pull brings are
recorded (``PullState``), so a later sync does not claim them as its own.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field

from django.db import connections, transaction

from railway_sync import conf
from railway_sync.engine import owned_ids, pull_state, tracking
from railway_sync.engine.diff import compare_rows, diff_table
from railway_sync.engine.id_sets import union
from railway_sync.engine.id_survey import id_differences
from railway_sync.engine.load import (
    TableNoLongerEmpty,
    copied_digest,
    copy_into_empty,
    delete,
    upsert,
)
from railway_sync.engine.pull_schema import create_missing, pulled_columns
from railway_sync.engine.railway_facts import RailwayFacts
from railway_sync.errors import NOTHING_CHANGED, GuardRefused, VerificationFailed
from railway_sync.pg.columns import Column
from railway_sync.pg.failures import on_table
from railway_sync.pg.sql import id_array_literal, id_ranges, literal, quote_name
from railway_sync.report import Progress, ProgressCallback, PulledTable, PullReport
from railway_sync.schema import tables
from railway_sync.schema.tables import Table

# How many ids of local work a refusal names per table.
IDS_SHOWN = 5


@dataclass(frozen=True)
class PullOptions:
    """What a pull is asked to do."""

    tables: tuple[str, ...] = ()
    dry_run: bool = False
    confirm_destructive: bool = False
    create_tables: bool = False
    batch_size: int = field(default_factory=conf.batch_size)


@dataclass(frozen=True)
class TablePull:
    """What one table's pull does locally: Railway's rows the local table lacks or holds
    otherwise, the local rows Railway lacks, and the local work among those two."""

    table: str
    key: str
    columns: list[Column]
    local_count: int
    railway_count: int
    to_insert: array
    to_update: array
    to_delete: array
    unchanged: int
    local_work: array
    created: bool

    @property
    def to_write(self) -> array:
        return union(self.to_insert, self.to_update)


def pull(
    options: PullOptions,
    facts: RailwayFacts,
    names: tuple[str, ...],
    *,
    local: str,
    railway: str,
    progress: ProgressCallback,
) -> PullReport:
    """Make the local tables ``names`` equal to Railway's, as ``options`` say. Call inside a
    read-only snapshot of Railway (``facts`` read in it) holding Railway's run lock."""
    started = time.monotonic()
    pull_state.require_table(local)
    with transaction.atomic(using=local):
        watermark, pull_xid = _positions(local)
        identity = tracking.local_identity(local)
        created = create_missing(local, railway, names, facts, create=options.create_tables)
        catalog = tables.read(local, names)
        columns, notices = pulled_columns(local, railway, catalog)
        plans = []
        for table in catalog.tables:
            progress(Progress("diff", table.name))
            with on_table(table.name, NOTHING_CHANGED):
                plans.append(
                    _plan(
                        local,
                        railway,
                        table,
                        columns[table.name],
                        facts,
                        identity,
                        table.name in created,
                    )
                )
        needs_confirmation = any(plan.local_work for plan in plans)
        if options.dry_run:
            transaction.set_rollback(True, using=local)
            return _report(plans, options, started, notices, needs_confirmation, verified=False)
        if needs_confirmation and not options.confirm_destructive:
            raise GuardRefused(refusal_line(plans), tuple(_work_phrases(plans)))
        site_ids = {}
        sent_digests = {}
        for plan in plans:
            with on_table(plan.table, NOTHING_CHANGED):
                site_ids[plan.table] = _site_ids(local, railway, plan, facts)
                sent_digests[plan.table] = _write(local, railway, plan, options, progress)
        for plan in reversed(plans):
            with on_table(plan.table, NOTHING_CHANGED):
                delete(local, plan.table, plan.to_delete, options.batch_size, plan.key)
        for plan in plans:
            with on_table(plan.table, NOTHING_CHANGED):
                _move_sequence(local, plan.table, plan.key)
                progress(Progress("verify", plan.table))
                _verify(local, railway, plan, sent_digests[plan.table])
                pull_state.record(local, plan.table, watermark, pull_xid, site_ids[plan.table])
    return _report(plans, options, started, notices, needs_confirmation, verified=True)


def _positions(local: str) -> tuple[int, int]:
    """(the oldest local transaction running now, this transaction's id): every later local
    change but this pull's own is local work."""
    with connections[local].cursor() as cursor:
        cursor.execute(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
            "pg_current_xact_id()::text::bigint"
        )
        watermark, xid = cursor.fetchone()
    return int(watermark), int(xid)


def _plan(
    local: str,
    railway: str,
    table: Table,
    columns: list[Column],
    facts: RailwayFacts,
    identity: str,
    created: bool,
) -> TablePull:
    """Compare every row of ``table`` on both sides (Railway the source) and find the local
    work among the rows the pull would delete or overwrite."""
    key = table.key
    found = diff_table(railway, local, table.name, columns, key)
    at_risk = union(found.to_update, found.railway_only)
    local_count = found.unchanged + len(found.to_update) + len(found.railway_only)
    railway_count = found.unchanged + len(found.to_update) + len(found.to_insert)
    return TablePull(
        table=table.name,
        key=key,
        columns=columns,
        local_count=local_count,
        railway_count=railway_count,
        to_insert=found.to_insert,
        to_update=found.to_update,
        to_delete=found.railway_only,
        unchanged=found.unchanged,
        local_work=local_work(local, table.name, key, at_risk, facts, identity),
        created=created,
    )


def local_work(
    local: str, table: str, key: str, ids: array, facts: RailwayFacts, identity: str
) -> array:
    """Among local rows ``ids``, those changed since the last sync or pull (not on Railway
    yet). Without a record of either for this local database, every one of them."""
    if not ids:
        return array("q")
    since = _last_known(local, table, facts, identity)
    condition = ""
    if since is not None:
        watermark, exclude_xid = since
        condition = f" AND {tracking.changed_since(watermark, exclude_xid)}"
    with connections[local].cursor() as cursor:
        cursor.execute(
            f"SELECT {quote_name(key)} FROM {quote_name(table)} "
            f"WHERE {quote_name(key)} = ANY({id_array_literal(ids)}){condition} "
            f"ORDER BY {quote_name(key)}"
        )
        return array("q", (row[0] for row in cursor.fetchall()))


def _last_known(
    local: str, table: str, facts: RailwayFacts, identity: str
) -> tuple[int, int | None] | None:
    """Where local stood for ``table`` at its last sync (Railway's record, if it is this
    local database's) or pull (local's record), the later one: (watermark, the pull's own
    transaction to leave out); None when neither is known. ``identity``: local's, as
    change tracking names it."""
    known: list[tuple[int, int | None]] = []
    state = facts.states.get(table)
    if state is not None and state.local_database == identity:
        known.append((state.local_watermark, None))
    pulled = pull_state.last_pull(local, table)
    if pulled is not None:
        known.append(pulled)
    return max(known, key=lambda position: position[0]) if known else None


def _site_ids(local: str, railway: str, plan: TablePull, facts: RailwayFacts) -> str:
    """The site's rows on Railway (those the sync's record leaves out) as ``int8multirange``
    text: after the pull they are local too, and must stay the site's. Without a record
    (Railway never synced by this version) a row is owned where local has its id, so after
    the pull every row is."""
    if not facts.owned_present:
        return "{}"
    every_id = "'{(,)}'::int8multirange"
    owned = owned_ids.owned_ranges(railway, plan.table, every_id)
    return id_ranges(
        railway, plan.table, plan.key, f"NOT {quote_name(plan.key)}::bigint <@ {owned}"
    )


def _write(
    local: str, railway: str, plan: TablePull, options: PullOptions, progress: ProgressCallback
) -> bytes | None:
    """Write Railway's rows the plan names into the local table: COPY into an empty table,
    else the upsert (Railway's version wins; the guard has ruled on local work). Returns the
    digest of what was sent when every Railway row was COPYed (``load.Copied``)."""
    to_write = plan.to_write
    done = 0

    def on_batch(rows: int) -> None:
        nonlocal done
        done += rows
        progress(Progress("write", plan.table, done, len(to_write)))

    progress(Progress("write", plan.table, 0, len(to_write)))
    if plan.local_count == 0:
        every_row = len(to_write) == plan.railway_count
        try:
            copied = copy_into_empty(
                railway,
                local,
                plan.table,
                plan.columns,
                to_write,
                options.batch_size,
                on_batch,
                plan.key,
                every_id=every_row,
            )
        except TableNoLongerEmpty:
            raise GuardRefused(
                f"A row was inserted into the local {plan.table} while the pull wrote it; "
                f"{NOTHING_CHANGED}. Stop what writes it (a scraper?), then run "
                "python manage.py railway_pull again."
            ) from None
        return copied.sent_digest if every_row else None
    upsert(
        railway, local, plan.table, plan.columns, to_write, options.batch_size, on_batch, plan.key
    )
    return None


def _move_sequence(local: str, table: str, key: str) -> None:
    """Move ``table``'s local id sequence past the largest id below the site's range
    (``RAILWAY_SYNC_SITE_ID_START``): the site's rows keep their own ids, and local's next
    rows must not take ids in that range."""
    site_start = conf.site_id_start()
    below = f" WHERE {quote_name(key)} < {int(site_start)}" if site_start else ""
    with connections[local].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [quote_name(table), key])
        sequence = cursor.fetchone()[0]
        if sequence is None:
            return
        name = literal(local, sequence)
        cursor.execute(
            f"SELECT setval({name}::regclass, GREATEST("
            f"(SELECT coalesce(max({quote_name(key)}), 0) FROM {quote_name(table)}{below}), "
            f"(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
            f"FROM {sequence}), 1))"
        )


def _verify(local: str, railway: str, plan: TablePull, sent_digest: bytes | None) -> None:
    """Before commit: every written row reads the same on both sides, and the two tables
    hold the same ids.

    A table COPYed into while empty, every Railway row, comes with ``sent_digest``: if the
    local table, read back as COPY sends it, digests alike, it holds exactly Railway's rows
    (``load.Copied``), and Railway need not be read again."""
    if sent_digest is not None and sent_digest == copied_digest(
        local, plan.table, plan.columns, plan.key
    ):
        return
    missing, differing = compare_rows(
        railway, local, plan.table, plan.columns, plan.to_write, plan.key
    )
    more_missing, extra = id_differences(railway, local, plan.table, key=plan.key)
    problems = []
    if missing or more_missing:
        problems.append(f"{len({*missing, *more_missing})} Railway rows missing")
    if differing:
        problems.append(f"{len(differing)} rows with different content")
    if extra:
        problems.append(f"{len(extra)} rows not on Railway")
    if problems:
        raise VerificationFailed(
            f"Verification failed for the local {plan.table}: {', '.join(problems)}; the "
            "local transaction was rolled back, nothing was changed. Run python manage.py "
            "railway_pull again."
        )


def _work_phrases(plans: list[TablePull]) -> list[str]:
    """One phrase per table with local work at risk: ``animals 3 (ids 17, 912)``."""
    phrases = []
    for plan in plans:
        if plan.local_work:
            shown = ", ".join(str(i) for i in plan.local_work[:IDS_SHOWN])
            more = ", ..." if len(plan.local_work) > IDS_SHOWN else ""
            phrases.append(f"{plan.table} {len(plan.local_work)} (ids {shown}{more})")
    return phrases


def refusal_line(plans: list[TablePull]) -> str:
    count = sum(len(plan.local_work) for plan in plans)
    return (
        f"The pull would delete or overwrite {count} local row(s) changed since the last sync "
        f"(not on Railway yet): {'; '.join(_work_phrases(plans))}; {NOTHING_CHANGED}. Push "
        "them first with python manage.py railway_sync, or discard them with "
        "python manage.py railway_pull --confirm-destructive"
    )


def _report(
    plans: list[TablePull],
    options: PullOptions,
    started: float,
    notices: tuple[str, ...],
    needs_confirmation: bool,
    *,
    verified: bool,
) -> PullReport:
    return PullReport(
        dry_run=options.dry_run,
        tables=tuple(
            PulledTable(
                table=plan.table,
                local_count=plan.local_count,
                railway_count=plan.railway_count,
                inserted=len(plan.to_insert),
                updated=len(plan.to_update),
                deleted=len(plan.to_delete),
                unchanged=plan.unchanged,
                created=plan.created,
                local_changes=len(plan.local_work),
                local_change_ids=tuple(plan.local_work[:IDS_SHOWN]),
            )
            for plan in plans
        ),
        verified=verified,
        seconds=time.monotonic() - started,
        notices=notices,
        needs_confirmation=needs_confirmation,
    )
