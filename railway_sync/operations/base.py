"""What every step of a generated migration is: decided against Railway (``step``), applied
to a copy of Railway's shape (``apply_to``), and run as decided (``database_forwards``)."""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import router
from django.db.migrations.operations.base import Operation

from railway_sync.errors import RailwaySyncError
from railway_sync.operations.live import LiveRailway, read_shape
from railway_sync.schema.catalog import Shape

SERIAL = {"integer": "serial", "bigint": "bigserial", "smallint": "smallserial"}
MIGRATE = "python manage.py railway_migrate"


class SchemaConflict(RailwaySyncError):
    """Railway holds an object a migration step would create, with another definition."""


class DestructiveStep(RailwaySyncError):
    """A migration step would drop data on Railway and was not confirmed."""


@dataclass(frozen=True)
class Step:
    """What one operation comes to on Railway as it is: ``run`` (its ``statements``),
    ``adopted`` (Railway already has it: nothing runs), ``conflict`` (``detail`` says what
    differs), ``destructive`` (runs only if confirmed; ``detail`` says what would be lost)."""

    outcome: str
    statements: tuple[str, ...] = ()
    detail: str = ""


ADOPTED = Step("adopted")


def on_railway(schema_editor: Any, app_label: str) -> bool:
    """Whether the router lets Railway's schema steps run on this connection (only the
    Railway alias: the local database is never altered)."""
    return bool(
        router.allow_migrate(schema_editor.connection.alias, app_label, railway_schema=True)
    )


class Railway(Protocol):
    """What a step asks Railway beyond the shape of its tables."""

    def same_constraint(self, table: str, first: str, second: str) -> bool: ...

    def same_index(self, table: str, first: str, second: str) -> bool: ...

    def same_default(self, first: str | None, second: str | None) -> bool: ...

    def same_generated(self, table: str, first: str | None, second: str | None) -> bool: ...

    def values(self, table: str, column: str) -> int: ...

    def rows(self, table: str) -> int: ...

    def cannot_create_extension(self, name: str) -> str | None: ...


# --- the operations ---------------------------------------------------------------------------


class RailwayOperation(Operation):
    """A step of a generated migration, checked against Railway before it runs."""

    reduces_to_sql = True
    reversible = True
    table: str = ""

    def forwards_sql(self) -> list[str]:
        raise NotImplementedError

    def backwards_sql(self) -> list[str]:
        raise NotImplementedError

    def step(self, railway: Shape, probe: Railway) -> Step:
        """What this operation comes to on Railway shaped like ``railway``."""
        raise NotImplementedError

    def apply_to(self, railway: Shape) -> None:
        """Make ``railway`` (a copy of Railway's shape) what it is after this step."""
        raise NotImplementedError

    def tables(self) -> tuple[str, ...]:
        """The tables this step reads or changes."""
        return (self.table,) if self.table else ()

    def types(self) -> tuple[str, ...]:
        """The types whose Railway definition deciding this step reads (those it creates or
        changes)."""
        return ()

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        # What a migration file writes: the constructor's arguments, each kept as an attribute
        # of the same name.
        parameters = inspect.signature(type(self).__init__).parameters
        return (
            self.__class__.__name__,
            [],
            {name: getattr(self, name) for name in parameters if name != "self"},
        )

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass  # Railway's synced tables have no Django models in this app's state

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if not on_railway(schema_editor, app_label):
            return
        if schema_editor.collect_sql:  # sqlmigrate, migrate --plan, dry runs
            statements: tuple[str, ...] = tuple(self.forwards_sql())
        else:
            statements = decided(self, schema_editor.connection.alias)
        for statement in statements:
            schema_editor.execute(statement, params=None)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if not on_railway(schema_editor, app_label):
            return
        for statement in self.backwards_sql():
            schema_editor.execute(statement, params=None)

    @property
    def migration_name_fragment(self) -> str:
        return self.table or "schema"


def run_step(statements: list[str]) -> Step:
    return Step("run", tuple(statements))


def conflict(detail: str) -> Step:
    return Step("conflict", detail=detail)


# --- deciding, then running -----------------------------------------------------------------

# What railway_migrate decided for each operation of the plan (by identity) before running any,
# and whether destructive steps were confirmed.
_decisions: contextvars.ContextVar[dict[int, Step] | None] = contextvars.ContextVar(
    "railway_sync_decisions", default=None
)
_confirmed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "railway_sync_confirmed", default=False
)
# Told of each step as it starts, so a failure can name it.
_starting: contextvars.ContextVar[Callable[[RailwayOperation], None] | None] = (
    contextvars.ContextVar("railway_sync_starting", default=None)
)


@contextmanager
def deciding(
    decisions: dict[int, Step],
    confirm_destructive: bool,
    starting: Callable[[RailwayOperation], None],
) -> Iterator[None]:
    """Run migrations with the steps ``railway_migrate`` decided beforehand; ``starting`` is
    called with each step before its statements are sent."""
    tokens = (
        _decisions.set(decisions),
        _confirmed.set(confirm_destructive),
        _starting.set(starting),
    )
    try:
        yield
    finally:
        _decisions.reset(tokens[0])
        _confirmed.reset(tokens[1])
        _starting.reset(tokens[2])


def decided(operation: RailwayOperation, alias: str) -> tuple[str, ...]:
    """The statements ``operation`` runs: as decided beforehand, or (run by Django's own
    ``migrate``) as Railway's catalog says right now."""
    starting = _starting.get()
    if starting is not None:
        starting(operation)
    decisions = _decisions.get()
    step = decisions.get(id(operation)) if decisions is not None else None
    if step is None:
        # Run by Django's own migrate, which does not decide beforehand: decided now.
        railway = read_shape(alias, operation.tables(), operation.types())
        step = operation.step(railway, LiveRailway(alias))
    if step.outcome == "conflict":
        raise SchemaConflict(f"{operation.describe()}: {step.detail}")
    if step.outcome == "destructive" and not _confirmed.get():
        raise DestructiveStep(
            f"{operation.describe()} would delete {step.detail} on Railway; run {MIGRATE} "
            "--confirm-destructive to drop it"
        )
    return step.statements
