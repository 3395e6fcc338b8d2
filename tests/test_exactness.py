"""Exact, whatever the data: two rows are the same only if every column's text form is the
same, and ids anywhere in the integer range survey, sync and verify.

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

from array import array
from collections.abc import Iterator

import pytest

from railway_sync.engine.id_survey import id_differences, survey_ids
from railway_sync.pg.grants import STATE_TABLE
from railway_sync.pg.sql import quote_name
from tests.conftest import DB, execute, fetch, run, scalar, wait_for_a_quiet_server
from tests.helpers import sync_tables_json

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
    wait_for_a_quiet_server()
    assert sync_tables_json()[table]["inserted"] == rows_in(table)
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
    tables = sync_tables_json()
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
    tables = sync_tables_json("--verify-all")
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
    sync_tables_json()
    first_text = text_of("default", table, column)
    set_value(table, column, sql_type, second)
    assert text_of("default", table, column) == first_text

    tables = sync_tables_json()

    assert tables[table]["updated"] == 0
    assert text_of("railway", table, column) == first_text
    lines, code = status_check("--deep")
    assert code == 0, lines
    assert f"  {table}: {rows_in(table)} → {rows_in(table)} (✅ content matches)" in lines


IDS = [-2147483648, -5, 0, 1, 5000, 2147483647]


def add_organizations(ids: list[int]) -> None:
    for organization_id in ids:
        execute(
            "default",
            "INSERT INTO organizations (id, name, website_url) VALUES (%s, %s, 'https://e.org')",
            [organization_id, f"Org {organization_id}"],
        )


def organization_ids(alias: str) -> list[int]:
    return [row[0] for row in fetch(alias, "SELECT id FROM organizations ORDER BY id")]


@DB
def test_ids_across_the_integer_range_set_up_sync_and_verify(clean):
    # Ids far apart: the survey's id ranges (at most 4096) span many ids each.
    add_organizations([-5, 0, 1, 5000])

    out, err, code = run("railway_setup")

    assert code == 0, err
    assert out.rstrip().endswith("✅ Railway setup completed successfully")
    assert "  organizations: 4 → 4 (✅ content matches)" in out.splitlines()
    assert organization_ids("railway") == [-5, 0, 1, 5000]

    add_organizations([-2147483648, 2147483647])
    assert sync_tables_json()["organizations"]["inserted"] == 2
    assert organization_ids("railway") == IDS

    # The site deletes rows at both ends and adds one of its own below every local id.
    execute("railway", "DELETE FROM organizations WHERE id IN (-2147483648, -5, 2147483647)")
    execute(
        "railway",
        "INSERT INTO organizations (id, name, website_url) VALUES (-2147483647, 'Site', 'u')",
    )
    lines, code = status_check()
    assert code == 1
    assert "  organizations: 6 → 4 (⚠ 3 missing on Railway, 1 site row)" in lines

    tables = sync_tables_json("--verify-all")

    assert (tables["organizations"]["inserted"], tables["organizations"]["site_rows"]) == (3, 1)
    assert organization_ids("railway") == sorted([*IDS, -2147483647])

    # Local deletes its highest id: --prune deletes it on Railway and keeps the site's row.
    execute("default", "DELETE FROM organizations WHERE id = 2147483647")
    tables = sync_tables_json("--prune", "--confirm-destructive")

    assert (tables["organizations"]["deleted"], tables["organizations"]["site_rows"]) == (1, 1)
    assert organization_ids("railway") == sorted([*IDS[:-1], -2147483647])
    for args in ((), ("--deep",)):
        lines, code = status_check(*args)
        assert code == 0, lines
        assert "  organizations: 5 → 6 (✅ content matches, 1 site row)" in lines

    # A destructive sync re-checks the ids on both sides before commit.
    add_organizations([2147483647])
    execute("railway", "DELETE FROM organizations WHERE id = -5")
    tables = sync_tables_json("--mode", "force", "--confirm-destructive", "--discard-railway-rows")
    assert (tables["organizations"]["inserted"], tables["organizations"]["deleted"]) == (2, 1)
    assert organization_ids("railway") == IDS


BIGINT_TABLE = "exactness_bigint_ids"


@pytest.fixture
def bigint_table() -> Iterator[str]:
    """A table with bigint ids on both databases (the synced tables' ids are integers)."""
    for alias in ("default", "railway"):
        execute(alias, f"CREATE TABLE {quote_name(BIGINT_TABLE)} (id bigint PRIMARY KEY)")
    yield BIGINT_TABLE
    for alias in ("default", "railway"):
        execute(alias, f"DROP TABLE {quote_name(BIGINT_TABLE)}")


@DB
@pytest.mark.parametrize(
    ("local_ids", "railway_ids"),
    [
        # Spread over more than half the bigint range: id - origin would overflow bigint.
        ([-(2**63), -5, 0, 2**63 - 1], [-(2**63), 0, 7, 2**63 - 1]),
        ([-(2**40), -5, 0, 2**62], [-(2**40), 0, 7, 2**62]),
    ],
    ids=["whole-bigint-range", "beyond-integer-range"],
)
def test_bigint_ids_survey_without_overflow(bigint_table, local_ids, railway_ids):
    for alias, ids in (("default", local_ids), ("railway", railway_ids)):
        execute(alias, f"INSERT INTO {quote_name(bigint_table)} SELECT unnest(%s::bigint[])", [ids])

    survey = survey_ids("default", "railway", bigint_table)

    assert (survey.local_count, survey.railway_count) == (4, 4)
    assert id_differences("default", "railway", bigint_table, survey) == (
        array("q", [-5]),
        array("q", [7]),
    )


@DB
@pytest.mark.parametrize("empty_side", ["railway", "default"])
def test_ids_on_one_side_only_are_all_different_up_to_the_largest_bigint(bigint_table, empty_side):
    """Where one side has no ids at all (a first sync, a rebuild into an empty Railway), the
    other's are read as ranges: every id comes back, the largest bigint too."""
    ids = [-(2**63), -5, 1, 2, 3, 10, 2**63 - 2, 2**63 - 1]
    filled = "default" if empty_side == "railway" else "railway"
    execute(filled, f"INSERT INTO {quote_name(bigint_table)} SELECT unnest(%s::bigint[])", [ids])

    differences = id_differences("default", "railway", bigint_table)

    expected = (
        (array("q", ids), array("q")) if filled == "default" else (array("q"), array("q", ids))
    )
    assert differences == expected
