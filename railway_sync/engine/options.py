"""What a sync is asked to do: one frozen value, checked once when it is made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from railway_sync import conf
from railway_sync.errors import GuardRefused

MODES = ("incremental", "rebuild", "force")
DESTRUCTIVE_MODES = ("rebuild", "force")
ON_CONFLICT = ("report", "local")
ON_RAILWAY_EDIT = ("local", "keep", "fail")


@dataclass(frozen=True)
class SyncOptions:
    """The options of one sync; an invalid combination raises :class:`GuardRefused`.

    ``incremental`` inserts and updates and keeps Railway-only rows (``prune`` deletes the
    owned ones afterwards); ``rebuild`` and ``force`` make the owned rows exactly local's in
    one transaction and need ``confirm_destructive`` unless it is a dry run;
    ``discard_railway_rows`` makes them delete the site's rows too. ``on_conflict`` says who
    wins at an id both local and a site row hold: ``report`` keeps the site's row, ``local``
    writes local's.
    """

    mode: str = "incremental"
    dry_run: bool = False
    confirm_destructive: bool = False
    skip_validation: bool = False
    verify_all: bool = False
    prune: bool = False
    on_conflict: str = "report"
    on_railway_edit: str = "local"
    discard_railway_rows: bool = False
    batch_size: int = field(default_factory=conf.batch_size)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise GuardRefused(f"Unknown mode {self.mode!r}; choose one of {', '.join(MODES)}.")
        if self.batch_size <= 0:
            raise GuardRefused(
                f"--batch-size must be a positive number of rows, not {self.batch_size}."
            )
        if self.destructive and not self.confirm_destructive and not self.dry_run:
            raise GuardRefused(
                f"--mode {self.mode} replaces Railway's data and needs --confirm-destructive; "
                "nothing was touched. Preview it with: python manage.py railway_sync "
                f"--mode {self.mode} --dry-run"
            )
        if self.on_conflict not in ON_CONFLICT:
            raise GuardRefused(
                f"Unknown --on-conflict {self.on_conflict!r}; choose one of "
                f"{', '.join(ON_CONFLICT)}."
            )
        if self.on_railway_edit not in ON_RAILWAY_EDIT:
            raise GuardRefused(
                f"Unknown --on-railway-edit {self.on_railway_edit!r}; choose one of "
                f"{', '.join(ON_RAILWAY_EDIT)}."
            )
        if self.discard_railway_rows and not self.destructive:
            raise GuardRefused(
                "--discard-railway-rows goes with --mode rebuild or --mode force "
                "(and --confirm-destructive); nothing was touched."
            )
        if self.prune and self.destructive:
            raise GuardRefused(
                f"--prune goes with --mode incremental; --mode {self.mode} already deletes the "
                "rows that are not in local."
            )

    @property
    def destructive(self) -> bool:
        return self.mode in DESTRUCTIVE_MODES

    @property
    def local_wins(self) -> bool:
        """Whether local's row replaces a site row at the same id (discarding the site's rows
        implies it)."""
        return self.on_conflict == "local" or self.discard_railway_rows

    @property
    def verify(self) -> bool:
        return not self.skip_validation

    @property
    def needs_confirmation(self) -> bool:
        """A dry run of a mode that, run for real, would also need --confirm-destructive."""
        return self.destructive and not self.confirm_destructive

    def recorded(self) -> dict[str, Any]:
        """The options as the run history keeps them (mode and dry run have columns of their own)."""
        return {key: value for key, value in asdict(self).items() if key not in ("mode", "dry_run")}
