"""The text the commands print for a report: what a person reads at each verbosity.

Each ``render_*`` function writes through ``out`` (a command's ``self.stdout``) with the
command's ``style``, so ``--no-color`` and ``call_command(stdout=...)`` work; the ``*_line``
functions return one table's line.
"""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import OutputWrapper
from django.core.management.color import Style

from railway_sync.report import (
    Conflict,
    PulledTable,
    PullReport,
    StatusReport,
    SyncReport,
    TableResult,
    TableStatus,
)


def render_sync(out: OutputWrapper, style: Style, report: SyncReport, verbosity: int) -> None:
    if verbosity < 1:
        return
    render_notices(out, style, report.notices)
    for table in report.tables:
        line = sync_line(table, report.dry_run, verbosity)
        out.write(style.WARNING(line) if table.refused else line)
        if table.refused_fix:
            out.write(style.WARNING(f"    ⚠ {table.refused_fix}"))
        for line in conflict_lines(table.table, table.conflict_rows, table.conflicts):
            out.write(style.WARNING(line))
    if report.railway_edits or report.railway_edits_kept:
        out.write(style.WARNING(railway_edits_line(report)))
    if report.dry_run:
        if report.schema_missing:
            out.write("Railway has no schema yet: railway_migrate would create it.")
        if report.would_refuse:
            out.write(
                style.WARNING(
                    f"Guards: --mode {report.mode} would refuse: "
                    + "; ".join(report.guard_problems)
                )
            )
        elif report.refused_tables:
            out.write(
                style.WARNING(
                    f"Guards: --mode {report.mode} would refuse "
                    f"{', '.join(report.refused_tables)} (see above) and pass for the other "
                    "tables."
                )
            )
        else:
            out.write(f"Guards: --mode {report.mode} would pass.")
        if report.needs_confirmation:
            out.write(f"--mode {report.mode} would also need --confirm-destructive.")
        out.write(
            f"Dry run: nothing was written to Railway (it would write {report.rows_written} "
            f"rows and delete {report.rows_deleted})."
        )
    elif report.verified and report.refused_tables:
        left = ", ".join(report.refused_tables)
        out.write(
            "Verified: every local row of the other tables is on Railway with identical "
            f"content ({left} left as it was)."
        )
    elif report.verified:
        out.write("Verified: every local row is on Railway with identical content.")
    else:
        out.write(style.WARNING("Verification skipped (--skip-validation)."))


def render_notices(out: OutputWrapper, style: Style, notices: tuple[str, ...]) -> None:
    for notice in notices:
        out.write(style.WARNING(f"⚠ {notice}"))


def render_status(out: OutputWrapper, style: Style, report: StatusReport, verbosity: int) -> None:
    if not report.connected:
        out.write(style.ERROR(f"❌ Railway connection failed: {report.problem}"))
        return
    out.write(style.SUCCESS(f"✅ Railway connection successful ({report.target})"))
    if verbosity >= 1:
        render_notices(out, style, report.notices)
        for table in report.tables:
            out.write(status_line(table))
            for line in conflict_lines(table.table, table.conflict_rows, table.conflicts):
                out.write(style.WARNING(line))
            for column in table.site_columns:
                out.write(
                    f"  {table.table}.{column}: only on Railway (the site's column, not synced)"
                )
    if report.problem:
        # Not compared: the reason and its fix, then one difference a line. No verdict on
        # the content, which was not read.
        out.write(style.WARNING(f"⚠ {report.problem}"))
        for line in report.details:
            out.write(line)
    elif report.in_sync:
        out.write(style.SUCCESS("✅ Local and Railway databases are in sync"))
    else:
        out.write(style.WARNING("⚠ Data mismatch detected"))
    out.write(f"Recommendation: {report.recommendation}")


def sync_line(table: TableResult, dry_run: bool, verbosity: int = 1) -> str:
    seconds = f" ({table.seconds:.2f} s)" if verbosity >= 2 or not dry_run else ""
    if verbosity >= 2 and table.compared:
        seconds += f" [{table.compared} comparison]"
    site = ""
    if table.site_rows:
        site += f", {_rows(table.site_rows, 'site row')} kept"
    if table.conflicts:
        site += f", {_rows(table.conflicts, 'conflict')}"
    if table.held_back:
        site += f", {table.held_back} held back ({_why_held(table)})"
    if table.refused:
        left = "would be left as it was" if dry_run else "left as it was"
        return f"  {table.table}: refused, {left}: {table.refused}"
    # "Up to date" only when nothing was left out on purpose either.
    idle = table.written == 0 and not table.conflicts and not table.held_back
    if dry_run:
        if idle:
            return (
                f"  {table.table}: up to date, would write 0 rows "
                f"({table.unchanged} unchanged, {table.kept} kept Railway-only{site})"
            )
        return (
            f"  {table.table}: would insert {table.inserted}, update {table.updated}, "
            f"leave {table.unchanged} unchanged, keep {table.kept} Railway-only, "
            f"delete {table.deleted}{site}"
        )
    if idle:
        kept = f", {table.kept} kept Railway-only" if table.kept else ""
        return f"  {table.table}: up to date, 0 rows written{kept}{site}{seconds}"
    return (
        f"  {table.table}: {table.inserted} inserted, {table.updated} updated, "
        f"{table.unchanged} unchanged, {table.deleted} deleted"
        + (f", {table.kept} kept Railway-only" if table.kept else "")
        + site
        + seconds
    )


def _why_held(table: TableResult) -> str:
    if not table.waiting_for:
        return "they point at a conflict"
    refused = f"rows of {', '.join(table.waiting_for)} not written (refused)"
    # Such a table may keep conflicts too, whose rows hold others back.
    return (
        f"they point at a conflict, or at {refused}"
        if table.conflicts
        else f"they point at {refused}"
    )


def _rows(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _naming(values: dict[str, str | None]) -> str:
    if not values:
        return "no row"
    return ", ".join(
        f"{column} {'NULL' if value is None else repr(value)}" for column, value in values.items()
    )


def conflict_lines(table: str, rows: tuple[Conflict, ...], count: int) -> list[str]:
    """One line per conflict described (the rest counted): the site's row kept at an id
    local also has."""
    lines = [
        f"    ⚠ conflict: {table} id {row.id} is the site's row on Railway "
        f"({_naming(row.railway)}); local's row ({_naming(row.local)}) was not written"
        for row in rows
    ]
    if count > len(rows):
        lines.append(f"    ⚠ … and {count - len(rows)} more conflicts in {table}")
    return lines


def not_compared_line(report: StatusReport) -> str:
    """The line (stderr, exit 1) when ``railway_status`` could not compare the rows."""
    return f"❌ Railway status could not compare the rows: {report.problem}"


def railway_edits_line(report: SyncReport) -> str:
    """``⚠ 2 rows edited on Railway since the last sync were overwritten from local: animals
    17, 912`` (or kept as Railway has them)."""
    edited = [table for table in report.tables if table.railway_edit_ids]
    where = "; ".join(
        f"{table.table} {', '.join(str(i) for i in table.railway_edit_ids)}"
        + (
            ", ..."
            if table.railway_edits + table.railway_edits_kept > len(table.railway_edit_ids)
            else ""
        )
        for table in edited
    )
    if report.railway_edits_kept:
        count = report.railway_edits_kept
        verb = "would be kept" if report.dry_run else "were kept"
        what = f"{verb} as Railway has them (bring them home with python manage.py railway_pull)"
    else:
        count = report.railway_edits
        what = ("would be" if report.dry_run else "were") + " overwritten from local"
    return f"⚠ {_rows(count, 'row')} edited on Railway since the last sync {what}: {where}"


def conflicts_line(report: SyncReport) -> str:
    """The line (stderr, exit 1) after a sync that kept the site's rows in conflicts, or
    rows edited on Railway as Railway has them."""
    verb = "would keep" if report.dry_run else "kept"
    landed = "would land" if report.dry_run else "landed"
    site_conflicts = report.conflicts - report.railway_edits_kept
    if not site_conflicts:
        return (
            f"⚠ Railway data sync {verb} {_rows(report.railway_edits_kept, 'row')} edited on "
            f"Railway since the last sync as Railway has them (see above); everything else "
            f"{landed}. Bring them home with python manage.py railway_pull, or let local's "
            "replace them: python manage.py railway_sync --on-railway-edit local"
        )
    return (
        f"⚠ Railway data sync {verb} the site's row at {_rows(site_conflicts, 'id')} that "
        f"local also uses (conflicts above); everything else {landed}. To let local's rows "
        "replace them, run: python manage.py railway_sync --on-conflict local"
    )


def refused_line(report: SyncReport) -> str:
    """The line (stderr, exit 1) after a sync that left the tables a guard refused as they
    were and synced the others; in a dry run, the last line."""
    names = ", ".join(report.refused_tables)
    waiting = ""
    if report.waiting:
        waiting = f" but {_rows(report.waiting, 'row')} that wait for "
        waiting += "it" if len(report.refused_tables) == 1 else "them"
    if report.dry_run:
        return (
            f"⚠ Railway data sync dry run completed: the sync would refuse {names} (see above) "
            f"and sync every other table{waiting}"
        )
    return (
        f"⚠ Railway data sync refused {names} (see above) and synced every other table"
        f"{waiting}. Run the fix named above, then sync again."
    )


def status_line(table: TableStatus) -> str:
    railway = "-" if table.railway_count is None else str(table.railway_count)
    if table.railway_count is None:
        verdict = "no table on Railway"
    elif not table.compared:
        verdict = "not compared"
    elif table.in_sync:
        verdict = "✅ content matches"
    else:
        parts = []
        if table.conflicts:
            parts.append(_rows(table.conflicts, "conflict"))
        if table.missing_on_railway:
            parts.append(f"{table.missing_on_railway} missing on Railway")
        if table.differing:
            parts.append(f"{table.differing} differ")
        if table.railway_only:
            parts.append(f"{table.railway_only} only on Railway")
        verdict = "⚠ " + ", ".join(parts)
    if table.site_rows and table.railway_count is not None:
        verdict += f", {_rows(table.site_rows, 'site row')}"
    return f"  {table.table}: {table.local_count} → {railway} ({verdict})"


def last_sync_line(finished_at: datetime, now: datetime) -> str:
    minutes = int((now - finished_at).total_seconds() // 60)
    return f"Last successful sync: {finished_at:%Y-%m-%d %H:%M:%S} ({minutes} minutes ago)"


def unrecorded_sync_line(synced_at: datetime | None, now: datetime, why: str) -> str:
    """The last sync as Railway's own record has it, on a host whose local database keeps no
    history (``why``: the reason and its fix)."""
    if synced_at is None:
        return f"Local sync history is not recorded: {why}"
    return (
        f"{last_sync_line(synced_at, now)}, from Railway's record; local sync history is not "
        f"recorded: {why}"
    )


def render_pull(out: OutputWrapper, style: Style, report: PullReport, verbosity: int) -> None:
    if verbosity < 1:
        return
    render_notices(out, style, report.notices)
    for table in report.tables:
        out.write(pull_line(table, report.dry_run))
        if table.local_changes:
            out.write(style.WARNING(local_changes_line(table, report.dry_run)))
    if report.dry_run:
        if report.needs_confirmation:
            out.write(
                style.WARNING(
                    "The pull would refuse without --confirm-destructive: it would delete or "
                    "overwrite local rows not on Railway yet (see above)."
                )
            )
        out.write(
            f"Dry run: nothing was changed locally (it would write {report.rows_written} rows "
            f"and delete {report.rows_deleted})."
        )
    else:
        out.write("Verified: every Railway row is in the local tables with identical content.")


def pull_line(table: PulledTable, dry_run: bool) -> str:
    """One table's line: what the pull did (would do) to the local table."""
    created = " (created as Railway has it)" if table.created else ""
    if not table.written:
        verb = "would write 0 rows" if dry_run else "0 rows written"
        return f"  {table.table}: up to date, {verb}{created}"
    figures = f"{table.inserted} inserted, {table.updated} updated, {table.deleted} deleted"
    if dry_run:
        figures = f"would insert {table.inserted}, update {table.updated}, delete {table.deleted}"
    return (
        f"  {table.table}: {figures} locally (Railway {table.railway_count} rows, local "
        f"{table.local_count}){created}"
    )


def local_changes_line(table: PulledTable, dry_run: bool) -> str:
    """The local work a pull overwrites: ``⚠ animals: 2 local rows changed since the last
    sync ... (ids 17, 912)``."""
    ids = ", ".join(str(i) for i in table.local_change_ids)
    more = ", ..." if table.local_changes > len(table.local_change_ids) else ""
    verb = "would be" if dry_run else "were"
    return (
        f"    ⚠ {table.table}: {_rows(table.local_changes, 'local row')} changed since the "
        f"last sync (not on Railway) {verb} deleted or overwritten from Railway (ids {ids}{more})"
    )
