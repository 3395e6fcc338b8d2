"""The operations of the migrations ``railway_makemigrations`` writes for Railway.

Each is one step towards the local shape (add a column, create an enum, drop an index...).
Before ``railway_migrate`` runs a step it looks at Railway as it is (``step``), so a Railway
made by another tool is adopted step by step, checked rather than assumed:

- a step Railway already satisfies is recorded as applied without running (``adopted``);
- a step whose object exists on Railway with another definition is a ``conflict``: one line
  naming the table, the column or constraint, both definitions and what to run;
- a step that would drop a table or a column holding data is ``destructive``: it runs only
  with ``--confirm-destructive``, and the refusal says how many rows or values would go.

Django's ``sqlmigrate`` and ``migrate --plan`` read these migrations like any other; what they
show is each step's SQL as it would run on an empty Railway.

``SchemaState`` ends every generated migration: it changes nothing and states the shape the
migration leaves the synced tables in, so ``railway_makemigrations`` needs only the local
database and the migration files.
"""

from __future__ import annotations

from railway_sync.operations.base import (
    ADOPTED,
    DestructiveStep,
    Railway,
    RailwayOperation,
    SchemaConflict,
    Step,
    decided,
    deciding,
)
from railway_sync.operations.columns import AddColumn, AlterColumn, DropColumn
from railway_sync.operations.constraints import (
    AddConstraint,
    AddForeignKeys,
    AddIndex,
    DropConstraint,
    DropIndex,
)
from railway_sync.operations.state import SchemaState
from railway_sync.operations.tables import CreateGuideTables, CreateTable, DropTable
from railway_sync.operations.types import AlterType, CreateExtension, CreateType

__all__ = [
    "ADOPTED",
    "AddColumn",
    "AddConstraint",
    "AddForeignKeys",
    "AddIndex",
    "AlterColumn",
    "AlterType",
    "CreateExtension",
    "CreateGuideTables",
    "CreateTable",
    "CreateType",
    "DestructiveStep",
    "DropColumn",
    "DropConstraint",
    "DropIndex",
    "DropTable",
    "Railway",
    "RailwayOperation",
    "SchemaConflict",
    "SchemaState",
    "Step",
    "decided",
    "deciding",
]
