"""Whether two printed definitions (a CHECK, an index, a default, a generation expression)
mean the same to PostgreSQL, whatever server printed them.

``pg_get_constraintdef`` and friends print what the catalog holds, and the catalog holds what
the statement that made the object parsed to: after ``pg_dump`` and a restore, or between
PostgreSQL 15 and 18, the same CHECK prints as ``(ARRAY['a'::varchar, ...])::text[]`` on one
side and ``ARRAY[('a'::varchar)::text, ...]`` on the other. So texts that differ are given to
the planner, on one server, as the expression of ``EXPLAIN (VERBOSE) SELECT <expr> FROM
table``: it folds constants and casts the same way for both, and prints one form. EXPLAIN
reads nothing and writes nothing, so this works on a read-only or standby database too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import connections, transaction
from django.db.utils import DatabaseError

from railway_sync.pg.sql import quote_name
from railway_sync.schema.catalog import is_sequence

_CHECK = re.compile(r"^CHECK \((?P<expression>.*)\)(?P<rest>( NO INHERIT)?( NOT VALID)?)$", re.S)
_INDEX = re.compile(
    r"^CREATE (?P<unique>UNIQUE )?INDEX \S+ ON (?P<rest>.*?)(?: WHERE (?P<predicate>.*))?$", re.S
)
_GENERATED = re.compile(
    r"^GENERATED ALWAYS AS \((?P<expression>.*)\) (?P<kind>STORED|VIRTUAL)$", re.S
)
_DEFERRED = " DEFERRABLE INITIALLY DEFERRED"


def _spaces(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Meaning:
    """Compares definitions on database ``alias``, asking its planner where texts differ;
    remembers what it asked (one command's worth)."""

    alias: str
    _canonical: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def _expression(self, table: str | None, expression: str) -> str | None:
        """The planner's form of ``expression`` over ``table`` (None: it did not parse here,
        e.g. a column this server's table lacks)."""
        key = (table or "", expression)
        if key not in self._canonical:
            source = f" FROM ONLY {quote_name(table)}" if table else ""
            try:
                # A savepoint: a failed EXPLAIN must not end a surrounding transaction.
                with (
                    transaction.atomic(using=self.alias),
                    connections[self.alias].cursor() as cursor,
                ):
                    cursor.execute(f"EXPLAIN (VERBOSE, COSTS OFF) SELECT ({expression}){source}")
                    lines = [row[0] for row in cursor.fetchall()]
                found = next((line for line in lines if line.strip().startswith("Output: ")), None)
                self._canonical[key] = found.strip()[len("Output: ") :] if found else None
            except DatabaseError:
                self._canonical[key] = None
        return self._canonical[key]

    def _same_expression(self, table: str | None, first: str, second: str) -> bool:
        if _spaces(first) == _spaces(second):
            return True
        one, other = self._expression(table, first), self._expression(table, second)
        return one is not None and one == other

    def canonical_constraint(self, table: str, definition: str) -> str:
        """``definition`` with a CHECK's expression in the planner's form on this server."""
        check = _CHECK.match(definition)
        if check is None:
            return _spaces(definition)
        expression = self._expression(table, check["expression"])
        return f"CHECK ({expression}){check['rest']}" if expression else _spaces(definition)

    def same_constraint(self, table: str, first: str, second: str) -> bool:
        """Whether constraint definitions ``first`` and ``second`` on ``table`` are the same."""
        if _spaces(first) == _spaces(second):
            return True
        one, other = _CHECK.match(first), _CHECK.match(second)
        if not (one and other) or one["rest"] != other["rest"]:
            return False
        return self._same_expression(table, one["expression"], other["expression"])

    def same_index(self, table: str, first: str, second: str) -> bool:
        """Whether index definitions ``first`` and ``second`` on ``table`` index the same
        (their names aside)."""
        one, other = _INDEX.match(_spaces(first)), _INDEX.match(_spaces(second))
        if not (one and other):
            return _spaces(first) == _spaces(second)
        if (one["unique"], one["rest"]) != (other["unique"], other["rest"]):
            return False
        if one["predicate"] is None or other["predicate"] is None:
            return one["predicate"] == other["predicate"]
        return self._same_expression(table, one["predicate"], other["predicate"])

    def same_default(self, first: str | None, second: str | None) -> bool:
        """Whether two column defaults are the same (id sequences' always are: each table
        has its own)."""
        if first is None or second is None:
            return first == second
        if is_sequence(first) and is_sequence(second):
            return True
        return self._same_expression(None, first, second)

    def same_generated(self, table: str, first: str | None, second: str | None) -> bool:
        """Whether two ``GENERATED ALWAYS AS (...)`` clauses compute the same."""
        if first is None or second is None:
            return first == second
        one, other = _GENERATED.match(first), _GENERATED.match(second)
        if not (one and other) or one["kind"] != other["kind"]:
            return False
        return self._same_expression(table, one["expression"], other["expression"])


def without_deferral(definition: str) -> str:
    """A unique key's definition without ``DEFERRABLE INITIALLY DEFERRED``: Railway's unique
    keys are checked at commit (so a value moving between rows syncs), local's need not be."""
    return definition.replace(_DEFERRED, "")


def deferred(definition: str) -> str:
    """``definition`` as Railway holds it: unique keys checked at commit."""
    if definition.startswith("UNIQUE") and "DEFERRABLE" not in definition:
        return definition + _DEFERRED
    return definition
