"""The guide's tables: which of them the configuration names, and their first shape on
Railway, as railway_sync's own ``0001_initial`` creates them (``baseline.json``).

Below the migration files and the operations alike: ``CreateGuideTables`` (a step of that
migration) and the reading of the generated migrations both start from this shape.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from railway_sync import conf
from railway_sync.schema import tables
from railway_sync.schema.catalog import State

BASELINE = Path(__file__).parent.parent / "railway_schema" / "baseline.json"
# The migration of railway_sync that creates the baseline tables on Railway.
BASE_MIGRATION = ("railway_sync", "0001_initial")
# The scrapers' tables as the guide this project replaces lists them; 0001 creates those the
# configuration names.
GUIDE_TABLES = conf.DEFAULT_TABLES


def configured_guide_tables(local: str) -> tuple[str, ...]:
    """The guide's tables among those the configuration names (``tables.selected``: the
    setting's, or those the local database has of the five)."""
    names, _ = tables.selected(local)
    return tuple(t for t in GUIDE_TABLES if t in names)


def baseline(names: tuple[str, ...] = GUIDE_TABLES) -> State:
    """The guide's tables ``names`` as railway_sync's own ``0001_initial`` creates them on
    Railway (a foreign key to a table left out is left out too)."""
    loaded: State = json.loads(BASELINE.read_text())
    kept = {table: loaded[table] for table in names if table in loaded}
    for shape in kept.values():
        shape["constraints"] = {
            name: definition
            for name, definition in shape["constraints"].items()
            if not (referenced(definition) - set(kept))
        }
    return kept


def referenced(definition: str) -> set[str]:
    """The tables a foreign key definition points at."""
    match = re.search(r"REFERENCES ([^(]+)\(", definition)
    return {match.group(1).strip().strip('"')} if match else set()
