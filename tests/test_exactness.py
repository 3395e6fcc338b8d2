"""Exact, whatever the data: two rows are the same only if every column's text form is the
same.

Each value pair below is a local edit from the first value to the second. The sync must carry
it to Railway, and ``railway_status`` (change tracking and ``--deep``) must see it before.
Then the planner's full comparison (no usable watermark, as on a first sync onto a non-empty
Railway) and ``--verify-all`` must see the edit back to the first value.

No synced table has a float column, the only type that keeps ``-0`` apart from ``0``: jsonb
and numeric store ``-0`` as ``0``, and the numeric columns (``numeric(10,2)``,
``numeric(3,2)``) store ``5.5`` as ``5.50``. Those pairs are one value, so they are checked
to write nothing and to leave status in sync.
"""

from __future__ import annotations

import json

import pytest

from railway_sync.diff import quote_name
from railway_sync.tracking import STATE_TABLE
from tests.conftest import DB, execute, run, scalar

# Columns as (table, column, SQL type); every edit is made to the row with id 1.
PROPERTIES = ("animals", "properties", "jsonb")
METRICS = ("scrape_logs", "detailed_metrics", "jsonb")
DURATION = ("scrape_logs", "duration_seconds", "numeric")
QUALITY = ("scrape_logs", "data_quality_score", "numeric")

# A column, then its first and second value.
DIFFERENT = [
    pytest.param(*PROPERTIES, '{"a": [[1], 2]}', '{"a": [[1, 2]]}', id="jsonb-array-end"),
    pytest.param(
        *PROPERTIES, '{"a": {"b": 1}, "c": 2}', '{"a": {"b": 1, "c": 2}}', id="jsonb-key-moved"
    ),
    pytest.param(*PROPERTIES, "[[[7]]]", "[7]", id="jsonb-depth"),
    pytest.param(*PROPERTIES, "1", "[1]", id="jsonb-scalar-to-array"),
    pytest.param(*PROPERTIES, "5.5", "5.50", id="jsonb-trailing-zero"),
    pytest.param(*METRICS, '{"score": 0.5}', '{"score": 0.500}', id="jsonb-nested-trailing-zeros"),
    pytest.param("animals", "breed", "varchar", "", None, id="empty-string-to-null"),
    pytest.param("scrape_logs", "error_message", "text", None, "", id="null-to-empty-string"),
    pytest.param(
        "animals",
        "last_seen_at",
        "timestamp",
        "2024-02-29 23:59:59.999998",
        "2024-02-29 23:59:59.999999",
        id="timestamp-last-microsecond",
    ),
    pytest.param("animals", "name", "varchar", "Zo\u00e9", "Zoe\u0301", id="unicode-nfc-to-nfd"),
]

# Pairs that the column's type stores as one value: nothing to write, nothing to report.
SAME = [
    pytest.param(*DURATION, "5.5", "5.50", id="numeric(10,2)-scale"),
    pytest.param(*DURATION, "0", "-0", id="numeric-negative-zero"),
    pytest.param(*QUALITY, "0.00", "-0.00", id="numeric(3,2)-negative-zero"),
    pytest.param(*PROPERTIES, '{"n": 0}', '{"n": -0}', id="jsonb-negative-zero"),
    pytest.param(*PROPERTIES, '{"b": 1, "a": 2}', '{"a":2,"b":1}', id="jsonb-key-order"),
]


def set_value(table: str, column: str, sql_type: str, value: str | None) -> None:
    execute(
        "default",
        f"UPDATE {quote_name(table)} SET {quote_name(column)} = %s::{sql_type} WHERE id = 1",
        [value],
    )


def text_of(alias: str, table: str, column: str) -> str | None:
    return scalar(alias, f"SELECT {quote_name(column)}::text FROM {quote_name(table)} WHERE id = 1")


def sync_tables(*args: str) -> dict[str, dict]:
    out, err, code = run("railway_sync", "--format", "json", *args)
    assert code == 0, err
    return {table["table"]: table for table in json.loads(out)["tables"]}


def status_check(*args: str) -> tuple[list[str], int]:
    out, err, code = run("railway_status", "--check", *args)
    return out.splitlines(), code


def rows_in(table: str) -> int:
    return scalar("default", f"SELECT count(*) FROM {quote_name(table)}")


@DB
@pytest.mark.parametrize(("table", "column", "sql_type", "first", "second"), DIFFERENT)
def test_an_edit_between_values_that_differ_only_in_text_form_syncs_and_status_sees_it(
    seeded, table, column, sql_type, first, second
):
    set_value(table, column, sql_type, first)
    assert sync_tables()[table]["inserted"] == rows_in(table)
    first_text = text_of("default", table, column)
    set_value(table, column, sql_type, second)
    second_text = text_of("default", table, column)
    assert first_text != second_text
    differs = f"  {table}: {rows_in(table)} → {rows_in(table)} (⚠ 1 differ)"
    matches = f"  {table}: {rows_in(table)} → {rows_in(table)} (✅ content matches)"

    # Change tracking names the row; its content must then compare as different.
    for args in ((), ("--deep",)):
        lines, code = status_check(*args)
        assert (code, differs in lines) == (1, True), (args, lines)
    tables = sync_tables()
    assert (tables[table]["compared"], tables[table]["updated"]) == ("tracked", 1)
    assert text_of("railway", table, column) == second_text
    for args in ((), ("--deep",)):
        lines, code = status_check(*args)
        assert (code, matches in lines) == (0, True), (args, lines)

    # Without a usable watermark every row is hashed on both sides; --verify-all then
    # compares every row again before commit.
    set_value(table, column, sql_type, first)
    execute("railway", f"DELETE FROM {quote_name(STATE_TABLE)}")
    lines, code = status_check()
    assert (code, differs in lines) == (1, True), lines
    tables = sync_tables("--verify-all")
    assert (tables[table]["compared"], tables[table]["updated"]) == ("full", 1)
    assert text_of("railway", table, column) == first_text
    for args in ((), ("--deep",)):
        lines, code = status_check(*args)
        assert (code, matches in lines) == (0, True), (args, lines)


@DB
@pytest.mark.parametrize(("table", "column", "sql_type", "first", "second"), SAME)
def test_values_the_column_stores_alike_write_nothing(
    seeded, table, column, sql_type, first, second
):
    set_value(table, column, sql_type, first)
    sync_tables()
    first_text = text_of("default", table, column)
    set_value(table, column, sql_type, second)
    assert text_of("default", table, column) == first_text

    tables = sync_tables()

    assert tables[table]["updated"] == 0
    assert text_of("railway", table, column) == first_text
    lines, code = status_check("--deep")
    assert code == 0, lines
    assert f"  {table}: {rows_in(table)} → {rows_in(table)} (✅ content matches)" in lines
