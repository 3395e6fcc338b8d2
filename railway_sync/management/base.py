"""The base of every railway_* command: failures as one line, progress, and ``--format``.

What a command prints for a report lives in ``render.py``; its JSON documents in
``documents.py``.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Never, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser, SystemCheckError

from railway_sync import conf

if TYPE_CHECKING:
    # Imported where bars are drawn (a terminal): its import costs cron's runs 25 ms.
    from tqdm import tqdm
from railway_sync.errors import RailwaySyncError
from railway_sync.management.documents import Document
from railway_sync.pg.connection import describe, require_configured
from railway_sync.report import Progress

# RAILWAY_SYNC_LOG_LEVEL=INFO: one line per phase with its duration, and one when the command
# ends, for cron logs.
logger = logging.getLogger("railway_sync.commands")


class RailwayCommand(BaseCommand):
    """A command that turns railway_sync errors into one ``❌`` line on stderr and exit 1."""

    failure_line = "❌ Railway command failed"
    # railway_sync's own checks only (they read settings): the project's whole set imports
    # its URLconf and the admin and checks every model, 0.05 to 0.1 s of every cron run;
    # `manage.py check` runs them all.
    requires_system_checks = [conf.SYSTEM_CHECK_TAG]

    verbosity = 1
    as_json = False
    _called_from_command_line: bool  # set by Django's run_from_argv (its stubs omit it)

    def execute(self, *args: Any, **options: Any) -> str | None:
        self.started = time.monotonic()
        self._phase: tuple[str, str] | None = None
        self._phase_started = self.started
        self.verbosity = int(options.get("verbosity", 1))
        # The engine's warnings (a default table the local database lacks), each shown once.
        self.notices: list[str] = []
        self._bars: dict[str, tqdm[Never]] = {}
        self.json_stream: TextIO = options.get("stdout") or sys.stdout
        # Bars draw on the raw stream: tqdm moves the cursor, which OutputWrapper's line
        # endings would break.
        self.terminal: TextIO = options.get("stderr") or sys.stderr
        self.as_json = options.get("format") == "json"
        if self.verbosity == 0 or self.as_json:
            # Verbosity 0 is silent but for errors (stderr); with --format json the JSON
            # document is the only thing on stdout.
            options["stdout"] = io.StringIO()
        try:
            try:
                result = super().execute(*args, **options)
                self._log_end("finished")
                return result
            except RailwaySyncError as exc:
                self._log_end("failed")
                if self.as_json:
                    document = self.failure_document(
                        str(exc), options, getattr(exc, "problems", ())
                    )
                    if document is not None:
                        self.emit_json(document)
                raise self.fail(str(exc)) from None
            except CommandError:
                self._log_end("failed")
                raise
        except CommandError as exc:
            # Django's run_from_argv would print "CommandError: " before the message; a
            # failure the user reads is the message alone, one line starting with ❌ (or ⚠).
            if (
                not self._called_from_command_line
                or options.get("traceback")
                or isinstance(exc, SystemCheckError)
            ):
                raise
            self.stderr.write(str(exc))
            sys.exit(exc.returncode)

    def elapsed(self) -> float:
        """Seconds since the command started, rounded as the JSON documents give them."""
        return round(time.monotonic() - self.started, 3)

    def masked_railway(self) -> str | None:
        """Railway's URL with the password masked, or None when none is configured."""
        alias = conf.railway_alias()
        try:
            require_configured(alias)
        except RailwaySyncError:
            return None
        return describe(alias)

    def failure_document(
        self, error: str, options: Mapping[str, Any], problems: tuple[str, ...] = ()
    ) -> Document | None:
        """The JSON document printed with ``--format json`` when the command fails with
        ``error``; None for a command without a JSON format. ``options`` are the parsed ones;
        ``problems`` what a guard found, when a guard refused."""
        return None

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

    def emit_json(self, document: Document) -> None:
        # Written straight to the stream: verbosity 0 silences text, never the JSON asked for.
        self.json_stream.write(json.dumps(document, indent=2) + "\n")

    def notice(self, message: str) -> None:
        """Show a warning the engine gave, once per command however often it comes (setup
        reads the tables at every step): a ``⚠`` line on stdout, and in the JSON document's
        ``notices``."""
        if message in self.notices:
            return
        self.notices.append(message)
        if self.verbosity >= 1:
            self.stdout.write(self.style.WARNING(f"⚠ {message}"))

    # Progress goes to stderr, so stdout stays the report alone: a bar per table on a
    # terminal, and timestamped phase lines at verbosity 2. Notices are not progress: they
    # are part of what the command reports.
    def on_progress(self, event: Progress) -> None:
        if event.phase == "notice":
            self.notice(event.message)
            return
        self._log_phase(event)
        if self.verbosity >= 1 and self.stderr.isatty():
            self._update_bar(event)
        if self.verbosity < 2:
            return
        where = f" {event.table}" if event.table else ""
        figures = f" {event.done}/{event.total}" if event.total else ""
        message = f" {event.message}" if event.message else ""
        line = f"  [{time.strftime('%H:%M:%S')}] {event.phase}{where}{figures}{message}"
        if self._bars:
            from tqdm import tqdm

            # Through tqdm, so the line lands above the bars instead of through them.
            tqdm.write(line, file=self.terminal)
        else:
            self.stderr.write(line)

    def _update_bar(self, event: Progress) -> None:
        if event.phase != "write" or not event.total:
            return
        bar = self._bars.get(event.table)
        if bar is None:
            from tqdm import tqdm

            bar = self._bars[event.table] = tqdm(
                total=event.total,
                desc=event.table,
                unit=" rows",
                file=self.terminal,
                leave=True,
                dynamic_ncols=True,
            )
        bar.update(event.done - bar.n)
        if event.done >= event.total:
            bar.close()

    def _log_phase(self, event: Progress) -> None:
        # A phase ends when an event of another phase (or table) arrives.
        key = (event.phase, event.table)
        if key == self._phase:
            return
        now = time.monotonic()
        self._log_phase_end(now)
        if event.phase != "done":  # "done" marks the end of a table's phases, not a phase
            self._phase, self._phase_started = key, now

    def _log_phase_end(self, now: float) -> None:
        if self._phase is None:
            return
        phase, table = self._phase
        logger.info(
            "%s: %s%s took %.2f s",
            self._name(),
            phase,
            f" {table}" if table else "",
            now - self._phase_started,
        )
        self._phase = None

    def _log_end(self, how: str) -> None:
        now = time.monotonic()
        self._log_phase_end(now)
        logger.info("%s: %s in %.2f s", self._name(), how, now - self.started)

    def _name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1]
