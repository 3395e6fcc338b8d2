"""What every railway_* command shares: error handling and the rendering of reports."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from railway_sync.errors import RailwaySyncError
from railway_sync.report import (
    ConnectionReport,
    Progress,
    StatusReport,
    SyncReport,
    TableResult,
)


class RailwayCommand(BaseCommand):
    """A command that turns railway_sync's errors into ``CommandError`` lines (exit 1)."""

    failure_line = "❌ Railway command failed"

    verbosity = 1

    def execute(self, *args: Any, **options: Any) -> str | None:
        self.verbosity = int(options.get("verbosity", 1))
        self._bars: dict[str, tqdm] = {}
        self.json_stream = options.get("stdout") or sys.stdout
        self.as_json = options.get("format") == "json"
        if self.verbosity == 0 or self.as_json:
            # Verbosity 0 is silent but for errors (stderr); with --format json the JSON
            # document is the only thing on stdout.
            options["stdout"] = io.StringIO()
        try:
            return super().execute(*args, **options)
        except RailwaySyncError as exc:
            raise CommandError(f"{self.failure_line}: {exc}", returncode=1) from None

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        # A mistyped option is a bad input like any other: one line and exit 1 (not argparse's 2).
        def error(message: str) -> None:
            if parser.called_from_command_line:
                sys.stderr.write(f"❌ {subcommand}: {message} (see --help)\n")
                sys.exit(1)
            raise CommandError(f"❌ {subcommand}: {message} (see --help)", returncode=1)

        parser.error = error  # type: ignore[method-assign]
        return parser

    def fail(self, reason: str) -> CommandError:
        return CommandError(f"{self.failure_line}: {reason}", returncode=1)

    def add_format_argument(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help=(
                "text (default) for people; json prints one JSON document on stdout (shape in "
                "the README) for cron and CI."
            ),
        )

    def emit_json(self, document: dict[str, Any]) -> None:
        # Written straight to the stream: verbosity 0 silences text, never the JSON asked for.
        self.json_stream.write(json.dumps(document, indent=2, default=str) + "\n")

    # Progress goes to stderr, so stdout stays the report alone: a bar per table on a
    # terminal, and timestamped phase lines at verbosity 2.
    def on_progress(self, event: Progress) -> None:
        if self.verbosity >= 1 and self.stderr.isatty():
            self._update_bar(event)
        if self.verbosity < 2:
            return
        where = f" {event.table}" if event.table else ""
        figures = f" {event.done}/{event.total}" if event.total else ""
        message = f" {event.message}" if event.message else ""
        line = f"  [{time.strftime('%H:%M:%S')}] {event.phase}{where}{figures}{message}"
        if self._bars:
            tqdm.write(line, file=self.stderr._out)
        else:
            self.stderr.write(line)

    def _update_bar(self, event: Progress) -> None:
        if event.phase != "write" or not event.total:
            return
        bar = self._bars.get(event.table)
        if bar is None:
            bar = self._bars[event.table] = tqdm(
                total=event.total,
                desc=event.table,
                unit=" rows",
                file=self.stderr._out,
                leave=True,
                dynamic_ncols=True,
            )
        bar.update(event.done - bar.n)
        if event.done >= event.total:
            bar.close()

    def render_sync(self, report: SyncReport) -> None:
        if self.verbosity < 1:
            return
        self.render_notices(report.notices)
        for table in report.tables:
            self.stdout.write(sync_line(table, report.dry_run, self.verbosity))
        if report.dry_run:
            if report.schema_missing:
                self.stdout.write("Railway has no schema yet: railway_migrate would create it.")
            if report.guard_problems:
                self.stdout.write(
                    self.style.WARNING(
                        f"Guards: --mode {report.mode} would refuse: "
                        + "; ".join(report.guard_problems)
                    )
                )
            else:
                self.stdout.write(f"Guards: --mode {report.mode} would pass.")
            if report.needs_confirmation:
                self.stdout.write(f"--mode {report.mode} would also need --confirm-destructive.")
            self.stdout.write(
                f"Dry run: nothing was written to Railway ({report.written} rows would be)."
            )
        elif report.verified:
            self.stdout.write("Verified: every local row is on Railway with identical content.")
        else:
            self.stdout.write(self.style.WARNING("Verification skipped (--skip-validation)."))

    def render_notices(self, notices: tuple[str, ...]) -> None:
        for notice in notices:
            self.stdout.write(self.style.WARNING(f"⚠ {notice}"))

    def render_status(self, report: StatusReport) -> None:
        if not report.connected:
            self.stdout.write(self.style.ERROR(f"❌ Railway connection failed: {report.problem}"))
            return
        self.stdout.write(self.style.SUCCESS(f"✅ Railway connection successful ({report.target})"))
        if self.verbosity >= 1:
            self.render_notices(report.notices)
            for table in report.tables:
                self.stdout.write(status_line(table))
        if report.problem:
            self.stdout.write(self.style.WARNING(f"⚠ {report.problem}"))
        if report.in_sync:
            self.stdout.write(self.style.SUCCESS("✅ Local and Railway databases are in sync"))
        else:
            self.stdout.write(self.style.WARNING("⚠ Data mismatch detected"))
        self.stdout.write(f"Recommendation: {report.recommendation}")


def sync_line(table: TableResult, dry_run: bool, verbosity: int = 1) -> str:
    seconds = f" ({table.seconds:.2f} s)" if verbosity >= 2 or not dry_run else ""
    if verbosity >= 2 and table.compared:
        seconds += f" [{table.compared} comparison]"
    if dry_run:
        if table.written == 0:
            return (
                f"  {table.table}: up to date, would write 0 rows "
                f"({table.unchanged} unchanged, {table.kept} kept Railway-only)"
            )
        return (
            f"  {table.table}: would insert {table.inserted}, update {table.updated}, "
            f"leave {table.unchanged} unchanged, keep {table.kept} Railway-only, "
            f"delete {table.deleted}"
        )
    if table.written == 0:
        kept = f", {table.kept} kept Railway-only" if table.kept else ""
        return f"  {table.table}: up to date, 0 rows written{kept}{seconds}"
    return (
        f"  {table.table}: {table.inserted} inserted, {table.updated} updated, "
        f"{table.unchanged} unchanged, {table.deleted} deleted"
        + (f", {table.kept} kept Railway-only" if table.kept else "")
        + seconds
    )


def status_line(table: Any) -> str:
    railway = "-" if table.railway_count is None else str(table.railway_count)
    if table.railway_count is None:
        verdict = "no table on Railway"
    elif table.in_sync:
        verdict = "✅ content matches"
    else:
        parts = []
        if table.missing_on_railway:
            parts.append(f"{table.missing_on_railway} missing on Railway")
        if table.differing:
            parts.append(f"{table.differing} differ")
        if table.railway_only:
            parts.append(f"{table.railway_only} only on Railway")
        verdict = "⚠ " + ", ".join(parts)
    return f"  {table.table}: {table.local_count} → {railway} ({verdict})"


# The JSON documents of --format json. Their shape is documented in the README and kept
# stable: fields may be added, never renamed or removed.
def sync_document(
    mode: str, dry_run: bool, report: SyncReport | None, error: str = ""
) -> dict[str, Any]:
    outcome = "failed" if error else "dry_run" if dry_run else "success"
    return {
        "command": "railway_sync",
        "outcome": outcome,
        "exit_code": 1 if error else 0,
        "mode": mode,
        "dry_run": dry_run,
        "verified": bool(report and report.verified),
        "rows_written": report.written if report and not dry_run else 0,
        "seconds": round(report.seconds, 3) if report else None,
        "guard_problems": list(report.guard_problems) if report else [],
        "notices": list(report.notices) if report else [],
        "tables": [
            {**dataclasses.asdict(table), "seconds": round(table.seconds, 3)}
            for table in (report.tables if report else ())
        ],
        "error": error or None,
    }


def status_document(
    report: StatusReport | None, last_success: Any, exit_code: int, error: str = ""
) -> dict[str, Any]:
    if error or report is None or not report.connected:
        outcome = "failed"
    else:
        outcome = "in_sync" if report.in_sync else "out_of_sync"
    return {
        "command": "railway_status",
        "outcome": outcome,
        "exit_code": exit_code,
        "railway": report.target if report else None,
        "connected": bool(report and report.connected),
        "in_sync": bool(report and report.in_sync),
        "tables": [
            {**dataclasses.asdict(table), "in_sync": table.in_sync}
            for table in (report.tables if report else ())
        ],
        "recommendation": report.recommendation if report else None,
        "notices": list(report.notices) if report else [],
        "last_successful_sync": last_success.finished_at.isoformat() if last_success else None,
        "error": error or (report.problem if report and report.problem else None),
    }


def connection_document(report: ConnectionReport | None, error: str = "") -> dict[str, Any]:
    return {
        "command": "railway_test_connection",
        "outcome": "failed" if error else "success",
        "exit_code": 1 if error else 0,
        "railway": report.target if report else None,
        "server_version": report.server_version if report else None,
        "database": report.database if report else None,
        "seconds": round(report.seconds, 3) if report else None,
        "error": error or None,
    }
