"""The record of sync runs kept in the local project database (``SyncRun``)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from railway_sync import conf
from railway_sync.dburl import scrub
from railway_sync.models import SyncRun
from railway_sync.report import SyncReport

logger = logging.getLogger(__name__)


def start(command: str, mode: str, dry_run: bool, options: dict[str, Any]) -> SyncRun | None:
    """Record that a run began; None when the history table is missing (run ``migrate``)."""
    try:
        return SyncRun.objects.using(conf.local_alias()).create(
            command=command,
            mode=mode,
            dry_run=dry_run,
            options=options,
            started_at=timezone.now(),
        )
    except DatabaseError:
        logger.warning("Sync history not recorded: run python manage.py migrate to create it.")
        return None


def finish(run: SyncRun | None, report: SyncReport | None, error: str = "") -> None:
    """Record how a run ended: its per-table figures, or its (password-free) error."""
    if run is None:
        return
    run.finished_at = timezone.now()
    run.outcome = SyncRun.OUTCOME_FAILED if error else SyncRun.OUTCOME_SUCCESS
    run.error = scrub(error)
    if report is not None:
        run.tables = [dataclasses.asdict(table) for table in report.tables]
    try:
        run.save(using=conf.local_alias())
    except DatabaseError:
        logger.warning("Sync history not recorded: the local database refused the write.")


def last_success() -> SyncRun | None:
    """The newest successful run that wrote (not a dry run), if the history table exists."""
    try:
        return (
            SyncRun.objects.using(conf.local_alias())
            .filter(outcome=SyncRun.OUTCOME_SUCCESS, dry_run=False)
            .order_by("-started_at")
            .first()
        )
    except DatabaseError:
        return None
