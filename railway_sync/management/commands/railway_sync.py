from __future__ import annotations

import json
import signal
import time
from collections.abc import Mapping
from typing import Any

from django.core.management.base import CommandError, CommandParser

from railway_sync import conf
from railway_sync.engine import api
from railway_sync.engine import watch as watching
from railway_sync.engine.options import MODES, ON_CONFLICT, ON_RAILWAY_EDIT, SyncOptions
from railway_sync.engine.watch import Cycle
from railway_sync.management.base import RailwayCommand
from railway_sync.management.documents import SyncDocument, sync_document
from railway_sync.management.render import (
    conflicts_line,
    railway_edits_line,
    refused_line,
    render_sync,
)
from railway_sync.operator import history
from railway_sync.operator.watch_history import WatchHistory
from railway_sync.report import SyncReport

# The parsed options that make a SyncOptions, each named as its field.
OPTIONS = (
    "mode",
    "dry_run",
    "confirm_destructive",
    "skip_validation",
    "verify_all",
    "prune",
    "on_conflict",
    "on_railway_edit",
    "discard_railway_rows",
    "batch_size",
)


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(value)
    return number


positive_int.__name__ = "positive whole number"


def positive_seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(value)
    return number


positive_seconds.__name__ = "positive number of seconds"


class Command(RailwayCommand):
    help = (
        "Copy the tables RAILWAY_SYNC_TABLES names (default: those of organizations, animals, "
        "animal_images, scrape_logs, service_regions the local database has) from the local "
        "database to Railway, matching rows by primary key."
    )
    failure_line = "❌ Railway data sync failed"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--mode",
            choices=MODES,
            default="incremental",
            help=(
                "incremental (default): insert new and update changed rows, keep rows that "
                "exist only on Railway, each table in its own transaction; a table where more "
                "than RAILWAY_PRUNE_MAX_SHARE of the rows it put on Railway are missing "
                "locally is refused and left as it was (the others sync; exit 1). rebuild: "
                "make the rows the sync "
                "put on Railway exactly the local rows, in one transaction, keeping the "
                "site's rows; refused when local is below the safety thresholds. force: "
                "rebuild without the threshold guard (emergencies)."
            ),
        )
        parser.add_argument(
            "--confirm-destructive",
            action="store_true",
            help="Required by --mode rebuild and --mode force, which delete Railway rows.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=(
                "Report per table what would be inserted, updated, left unchanged, kept or "
                "deleted, and whether the guards pass; write nothing."
            ),
        )
        parser.add_argument(
            "--skip-validation",
            action="store_true",
            help=(
                "Skip the check, after writing, that every local row is on Railway with "
                "identical content."
            ),
        )
        parser.add_argument(
            "--verify-all",
            action="store_true",
            help=(
                "After writing, compare every row of every table on both sides (hashes of "
                "all rows), not only the rows written; slower, for a periodic deep check."
            ),
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help=(
                "With --mode incremental: after writing, delete the Railway rows the sync put "
                "there whose ids no longer exist locally (children before parents; the site's "
                "rows stay). Refused when it would delete more "
                "than RAILWAY_PRUNE_MAX_SHARE (10%%) of a table, unless --confirm-destructive."
            ),
        )
        parser.add_argument(
            "--on-conflict",
            choices=ON_CONFLICT,
            default="report",
            help=(
                "When a row the site wrote on Railway holds an id local also uses: report "
                "(default) keeps the site's row, syncs everything else and exits 1; local "
                "writes local's row over it (the row is then the sync's)."
            ),
        )
        parser.add_argument(
            "--on-railway-edit",
            choices=ON_RAILWAY_EDIT,
            default="local",
            help=(
                "When a row the sync put on Railway was edited there since the last sync (a "
                "repair in production) and local's differs: local (default) writes local's "
                "over it and names it; keep leaves Railway's, names it as a conflict and "
                "exits 1 (railway_pull brings it home); fail refuses before writing."
            ),
        )
        parser.add_argument(
            "--discard-railway-rows",
            action="store_true",
            help=(
                "With --mode rebuild or force (and --confirm-destructive): also delete the "
                "rows the site wrote on Railway, making Railway exactly local."
            ),
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=None,
            help="Rows per write batch (default: RAILWAY_SYNC_BATCH_SIZE, 5000).",
        )
        parser.add_argument(
            "--watch",
            action="store_true",
            help=(
                "Keep running: sync now, then as soon as the local tables change (checked "
                "every --interval seconds, asking Railway nothing meanwhile), one line (or one "
                "JSON document) per sync; the successful syncs of an hour are one row of the run "
                "history. Stops on SIGTERM or Ctrl-C after the sync in progress."
            ),
        )
        parser.add_argument(
            "--interval",
            type=positive_seconds,
            default=10.0,
            help="With --watch: seconds between checks of the local tables (default 10).",
        )
        self.add_format_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["watch"]:
            self.watch(options)
            return
        mode, dry_run = options["mode"], options["dry_run"]
        # As the history has always kept them: batch_size None when not given.
        recorded = {key: options[key] for key in OPTIONS if key not in ("mode", "dry_run")}
        # The options are made inside the block, so a refused combination (--mode rebuild
        # without --confirm-destructive, ...) is recorded as a failed run like any other.
        with history.recording("railway_sync", mode, dry_run, recorded) as run:
            if self.verbosity >= 1:
                self.stdout.write(
                    "🚀 Starting Railway data sync..." + (" (dry run)" if dry_run else "")
                )
            given = {key: options[key] for key in OPTIONS if options[key] is not None}
            report = run.report = api.sync(SyncOptions(**given), progress=self.on_progress)
        if self.as_json:
            self.emit_json(sync_document(mode, dry_run, report, notices=self.notices))
        else:
            render_sync(self.stdout, self.style, report, self.verbosity)
        if not dry_run and (report.refused_tables or report.conflicts):
            # Landed, but not all of it: exit 1 with the line that says what is left.
            if report.refused_tables and report.conflicts:
                self.stderr.write(conflicts_line(report))
            last = refused_line(report) if report.refused_tables else conflicts_line(report)
            raise CommandError(last, returncode=1)
        if self.as_json:
            return
        if report.conflicts:
            self.stdout.write(self.style.WARNING(conflicts_line(report)))
        if dry_run and (report.would_refuse or report.needs_confirmation):
            self.stdout.write(
                self.style.WARNING(
                    "⚠ Railway data sync dry run completed: the sync itself would be refused "
                    "(see above)"
                )
            )
        elif dry_run and report.refused_tables:
            self.stdout.write(self.style.WARNING(refused_line(report)))
        elif dry_run:
            self.stdout.write("✅ Railway data sync dry run completed")
        else:
            deleted = f", {report.rows_deleted} deleted" if report.rows_deleted else ""
            self.stdout.write(
                self.style.SUCCESS(
                    f"✅ Railway data sync completed successfully "
                    f"({report.rows_written} rows written{deleted} in {report.seconds:.2f} s)"
                )
            )

    def failure_document(
        self, error: str, options: Mapping[str, Any], problems: tuple[str, ...] = ()
    ) -> SyncDocument:
        return sync_document(
            options["mode"],
            options["dry_run"],
            None,
            error,
            problems,
            seconds=self.elapsed(),
            notices=self.notices,
        )

    def watch(self, options: Mapping[str, Any]) -> None:
        """``--watch``: a sync per local change until SIGTERM or Ctrl-C, one line (or JSON
        document) each; in the history an hour of successful syncs is one row."""
        if options["dry_run"] or options["mode"] != "incremental":
            raise CommandError(
                "❌ railway_sync: --watch syncs incrementally; leave out --dry-run and --mode "
                "(see --help)",
                returncode=1,
            )
        recorded = {key: options[key] for key in OPTIONS if key not in ("mode", "dry_run")}
        given = {key: options[key] for key in OPTIONS if options[key] is not None}
        sync_options = SyncOptions(**given)
        names = api.check_local(progress=self.on_progress).names
        runs = WatchHistory(recorded)

        def sync_once() -> SyncReport:
            with runs.cycle() as run:
                run.report = api.sync(sync_options, progress=self.on_progress)
            return run.report

        stop: list[int] = []
        handlers = {
            signum: signal.signal(signum, lambda received, frame: stop.append(received))
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        if not self.as_json:
            self.stdout.write(
                f"👀 Watching the local tables ({', '.join(names)}); a sync whenever they "
                f"change, checked every {options['interval']:g} s. Stop with Ctrl-C or SIGTERM."
            )
        try:
            cycles = watching.watch(
                sync_once,
                interval=options["interval"],
                on_cycle=self.on_cycle,
                stopping=lambda: bool(stop),
                local=conf.local_alias(),
                railway=conf.railway_alias(),
                names=names,
            )
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        if not self.as_json:
            self.stdout.write(f"⏹ Watch stopped after {cycles} sync(s).")

    def on_cycle(self, cycle: Cycle) -> None:
        if self.as_json:
            document = sync_document("incremental", False, cycle.report, cycle.error)
            self.json_stream.write(json.dumps(document, separators=(",", ":")) + "\n")
            self.json_stream.flush()
            return
        now = time.strftime("%H:%M:%S")
        if cycle.report is None:
            self.stderr.write(
                f"[{now}] {self.failure_line}: {cycle.error} (trying again in {cycle.retry_in:g} s)"
            )
            return
        if self.verbosity >= 2:
            render_sync(self.stdout, self.style, cycle.report, self.verbosity)
        report = cycle.report
        if report.railway_edits or report.railway_edits_kept:
            self.stdout.write(self.style.WARNING(f"[{now}] {railway_edits_line(report)}"))
        line = (
            f"[{now}] ✅ synced: {report.rows_written} rows written, {report.rows_deleted} "
            f"deleted ({report.seconds:.2f} s)"
        )
        if report.conflicts or report.refused_tables:
            last = refused_line(report) if report.refused_tables else conflicts_line(report)
            self.stdout.write(self.style.WARNING(f"{line}; {last}"))
        else:
            self.stdout.write(line)
