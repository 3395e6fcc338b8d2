"""What the admin's status panel shows: is Railway current, table by table, and the recent runs.

Built from ``api.status()`` and the run history; when Railway cannot be read, the local counts
and the last sync are still shown with what is wrong. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.utils import DatabaseError
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from railway_sync import conf
from railway_sync.errors import LockTimedOut, RailwaySyncError
from railway_sync.models import SyncRun
from railway_sync.operator import history
from railway_sync.pg.connection import connect, connecting_within, describe
from railway_sync.pg.failures import one_line
from railway_sync.pg.sql import count_rows
from railway_sync.report import Progress, StatusReport, TableStatus
from railway_sync.schema import tables

RECENT_RUNS = 10
# A run's bar in the chart: green landed, orange landed but kept conflicts or left refused
# tables, red otherwise.
OUTCOME_COLOURS = {
    SyncRun.OUTCOME_SUCCESS: "#2e7d32",
    SyncRun.OUTCOME_CONFLICTS: "#e65100",
    SyncRun.OUTCOME_PARTIAL: "#e65100",
}
CHART_RUNS = 20


@dataclass(frozen=True)
class TableRow:
    """One table's line of the panel; ``railway`` is None when Railway could not be read."""

    table: str
    local: int | None
    railway: int | None
    state: str  # "in-sync", "out-of-sync" or "unknown": the badge
    detail: str

    @property
    def local_text(self) -> str:
        return "-" if self.local is None else f"{self.local:,}"

    @property
    def railway_text(self) -> str:
        return "-" if self.railway is None else f"{self.railway:,}"

    @property
    def badge(self) -> str:
        return {"in-sync": "in sync", "out-of-sync": "out of sync"}.get(self.state, "unknown")


@dataclass(frozen=True)
class Panel:
    """The status panel: overall verdict, per-table rows, the problem if any, the last sync."""

    state: str  # "in-sync", "out-of-sync" or "unknown"
    target: str
    tables: tuple[TableRow, ...]
    problem: str
    recommendation: str
    last_sync: datetime | None
    last_sync_age: str
    # Warnings reading the tables gave (a default table the local database lacks).
    notices: tuple[str, ...] = ()
    # Where the last sync comes from when the local database keeps no history (Railway's
    # record), with the reason and its fix; empty otherwise.
    last_sync_note: str = ""

    @property
    def verdict(self) -> str:
        if self.state == "in-sync":
            return "Railway is current: every row matches local."
        if self.state == "out-of-sync":
            return "Railway is not current."
        return "Railway's state is unknown."


def admin_time_limit() -> AbstractContextManager[None]:
    """Connecting gives up after RAILWAY_SYNC_ADMIN_TIMEOUT: a page must not hold a worker."""
    return connecting_within(conf.admin_timeout(), "RAILWAY_ADMIN_TIMEOUT")


def panel(now: datetime | None = None) -> Panel:
    """The status panel as of ``now``; never raises for a database that cannot be read."""
    now = now or timezone.now()
    report: StatusReport | None = None
    problem = ""
    notices: list[str] = []

    def keep_notice(event: Progress) -> None:
        if event.phase == "notice":
            notices.append(event.message)

    locked = False
    try:
        with admin_time_limit():
            # Imported here: every manage.py command loads the admin at start-up, and only
            # this page needs the engine.
            from railway_sync.engine import api

            report = api.status(progress=keep_notice)
    except (RailwaySyncError, DatabaseError) as exc:
        problem = one_line(exc)
        # A table stayed locked for RAILWAY_LOCK_TIMEOUT already: counting it would wait again.
        locked = isinstance(exc, LockTimedOut)
    if report is not None and report.problem:
        problem = report.problem.splitlines()[0]
    if report is not None and report.tables:
        rows = tuple(_row(t) for t in report.tables)
    else:
        rows = _local_only(count=not locked)
    absent = history.unavailable()
    last = history.last_success() if absent is None else None
    last_sync = last.finished_at if last else None
    note = ""
    if absent is not None:
        last_sync = report.railway_synced_at if report is not None else None
        source = "from Railway's record; " if last_sync else ""
        note = f"{source}local sync history is not recorded: {history.NOT_RECORDED[absent]}"
    if report is not None and report.in_sync:
        state = "in-sync"
    elif any(row.state == "out-of-sync" for row in rows) or (
        report is not None and report.rows_compared and report.tables
    ):
        state = "out-of-sync"
    else:
        state = "unknown"
    return Panel(
        state=state,
        target=report.target if report is not None else _target(),
        tables=rows,
        problem=problem,
        recommendation=report.recommendation if report is not None else "",
        last_sync=last_sync,
        last_sync_age=f"{timesince(last_sync, now)} ago" if last_sync else "",
        notices=tuple(notices),
        last_sync_note=note,
    )


def _target() -> str:
    """Which Railway the panel reads (masked), even when its state could not be read."""
    alias = conf.railway_alias()
    return describe(alias) if alias in settings.DATABASES else ""


def _row(table: TableStatus) -> TableRow:
    if table.railway_count is None:
        return TableRow(table.table, table.local_count, None, "unknown", "no table on Railway")
    if not table.compared:
        # The schemas differ: the counts are known, the content is not.
        return TableRow(
            table.table, table.local_count, table.railway_count, "unknown", "not compared"
        )
    # The site's rows are not a difference (the sync never touches them), only worth a note.
    site = f"{table.site_rows:,} site rows" if table.site_rows else ""
    if table.in_sync:
        return TableRow(table.table, table.local_count, table.railway_count, "in-sync", site)
    parts = []
    if table.missing_on_railway:
        parts.append(f"{table.missing_on_railway:,} missing on Railway")
    if table.differing:
        parts.append(f"{table.differing:,} differ")
    if table.railway_only:
        parts.append(f"{table.railway_only:,} only on Railway")
    if table.conflicts:
        parts.append(f"{table.conflicts:,} conflicts")
    if site:
        parts.append(site)
    return TableRow(
        table.table, table.local_count, table.railway_count, "out-of-sync", ", ".join(parts)
    )


def _local_only(*, count: bool = True) -> tuple[TableRow, ...]:
    """Local counts alone (``count``), for when Railway cannot be read (or local itself
    cannot)."""
    local = conf.local_alias()
    names = conf.tables()
    if not count:
        return tuple(TableRow(table, None, None, "unknown", "") for table in names)
    try:
        with admin_time_limit():
            connect(local)
        names = tables.selected(local)[0]
        counts: dict[str, int | None] = {
            table: count_rows(local, table) for table in tables.present(local, names)
        }
        counts = {table: counts.get(table) for table in names}
    except (RailwaySyncError, DatabaseError):
        counts = dict.fromkeys(names)
    return tuple(TableRow(table, count, None, "unknown", "") for table, count in counts.items())


# -- the run history, as the admin shows it ---------------------------------------------------


def recent_runs(limit: int = RECENT_RUNS) -> list[SyncRun]:
    """The newest runs first; empty when the history table does not exist yet."""
    try:
        return list(SyncRun.objects.using(conf.local_alias()).order_by("-started_at")[:limit])
    except DatabaseError:
        return []


def rows_written(run: SyncRun) -> int:
    """Rows inserted or updated (or, for a dry run, that would be); deletions are apart."""
    return sum(int(t.get("inserted", 0)) + int(t.get("updated", 0)) for t in run.tables or [])


def rows_deleted(run: SyncRun) -> int:
    return sum(int(t.get("deleted", 0)) for t in run.tables or [])


def duration(run: SyncRun) -> timedelta | None:
    """How long the run took; for a watch's row, its syncs together (the rest of its span,
    up to an hour, the watch waited for local to change)."""
    if run.sync_seconds is not None:
        return timedelta(seconds=run.sync_seconds)
    return run.finished_at - run.started_at if run.finished_at else None


def duration_text(run: SyncRun) -> str:
    elapsed = duration(run)
    return "-" if elapsed is None else f"{elapsed.total_seconds():.2f} s"


def syncs_text(run: SyncRun) -> str:
    """``watch: 37 syncs`` for a ``--watch`` row (the successful syncs of up to an hour, or
    one that did not succeed); empty for any other run."""
    if run.cycles is None:
        return ""
    return f"watch: {run.cycles:,} sync{'' if run.cycles == 1 else 's'}"


def error_line(run: SyncRun) -> str:
    return next((line for line in (run.error or "").splitlines() if line.strip()), "")


def figures_table(run: SyncRun) -> SafeString:
    """A run's per-table figures as an HTML table (not the stored JSON)."""
    if not run.tables:
        return mark_safe("<p>No per-table figures were recorded for this run.</p>")
    head = ("table", "local", "Railway", "inserted", "updated", "unchanged", "kept", "deleted")
    rows = format_html_join(
        "\n",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                t.get("table", ""),
                f"{int(t.get('local_count', 0)):,}",
                f"{int(t.get('railway_count', 0)):,}",
                f"{int(t.get('inserted', 0)):,}",
                f"{int(t.get('updated', 0)):,}",
                f"{int(t.get('unchanged', 0)):,}",
                f"{int(t.get('kept', 0)):,}",
                f"{int(t.get('deleted', 0)):,}",
                f"{float(t.get('seconds', 0.0)):.2f} s",
                t.get("compared", "") or "-",
            )
            for t in run.tables
        ),
    )
    header = format_html_join("", "<th>{}</th>", ((h,) for h in (*head, "seconds", "compared")))
    return format_html(
        '<table class="railway-figures"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}',
        header,
        rows,
        railway_edits_note(run),
    )


def railway_edits_note(run: SyncRun) -> SafeString:
    """The rows the run found edited on Railway since the last sync, overwritten or kept,
    per table with their first ids; nothing when there were none."""
    edited = [t for t in run.tables if t.get("railway_edit_ids")]
    if not edited:
        return mark_safe("")
    kept = any(int(t.get("railway_edits_kept", 0)) for t in edited)
    count = sum(
        int(t.get("railway_edits", 0)) + int(t.get("railway_edits_kept", 0)) for t in edited
    )
    where = "; ".join(
        f"{t['table']} {', '.join(str(i) for i in t['railway_edit_ids'])}" for t in edited
    )
    what = "kept as Railway has them" if kept else "overwritten from local"
    return format_html(
        '<p class="railway-edits">{} row(s) edited on Railway since the last sync were {}: {}</p>',
        count,
        what,
        where,
    )


def chart(runs: Sequence[SyncRun], width: int = 480, height: int = 60) -> SafeString:
    """Two small bar charts, oldest run on the left: duration, then rows written.

    Inline SVG drawn here, so the page needs no script; each bar's tooltip gives its figures.
    Failed and interrupted runs are red.
    """
    finished = [run for run in reversed(runs) if run.finished_at and not run.dry_run]
    if not finished:
        return mark_safe("")
    series = (
        ("Duration (s)", [duration(run).total_seconds() for run in finished]),  # type: ignore[union-attr]
        ("Rows written", [float(rows_written(run)) for run in finished]),
    )
    step = min(width / len(finished), 24.0)  # a few runs: narrow bars, not one wide block
    charts = []
    for title, values in series:
        top = max(values) or 1.0
        bars = []
        for index, (run, value) in enumerate(zip(finished, values, strict=True)):
            bar_height = max(1.0, value / top * (height - 2)) if value else 1.0
            colour = OUTCOME_COLOURS.get(run.outcome, "#c62828")
            label = f"{run.started_at:%Y-%m-%d %H:%M} {run.outcome}: " + (
                f"{value:.2f} s" if title.startswith("Duration") else f"{int(value):,} rows"
            )
            bars.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
                    f"{index * step + 1:.1f}",
                    f"{height - bar_height:.1f}",
                    f"{max(step - 2, 1):.1f}",
                    f"{bar_height:.1f}",
                    colour,
                    label,
                )
            )
        maximum = f"{top:.2f} s" if title.startswith("Duration") else f"{int(top):,} rows"
        charts.append(
            format_html(
                '<figure class="railway-chart"><figcaption>{} (last {} runs, max {})'
                "</figcaption>"
                '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" '
                'viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg></figure>',
                title,
                len(finished),
                maximum,
                width,
                height,
                width,
                height,
                title,
                mark_safe("".join(bars)),
            )
        )
    return mark_safe("".join(charts))
