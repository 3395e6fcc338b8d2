"""COPY into an empty table (issue 24): on Railway its plain indexes are built once the rows are
in, inside the sync's transaction; on either side (a sync, a pull) what was sent is verified by
reading the table back as COPY sends it, falling back to comparing row by row when that
differs."""

from __future__ import annotations

from tests.conftest import DB, execute, fetch, run, scalar, table_rows, truncate
from tests.helpers import raw_connection, without_timing

PLAIN_INDEXES = (
    "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indexrelid::int FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
    "AND NOT i.indisprimary "
    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
    "ORDER BY 1"
)


def plain_indexes(table: str) -> list[tuple[str, str, int]]:
    return fetch("railway", PLAIN_INDEXES, [table])


def definitions(indexes: list[tuple[str, str, int]]) -> list[tuple[str, str]]:
    return [(name, definition) for name, definition, _oid in indexes]


@DB
def test_indexes_are_built_after_the_rows_are_copied(seeded, settings):
    settings.RAILWAY_SYNC_INDEXES_AFTER_ROWS = 10
    before = plain_indexes("animals")
    assert before, "the test needs animals to have plain indexes on Railway"

    out, err, code = run("railway_sync")

    assert code == 0, err
    assert without_timing(out)[2] == "  animals: 60 inserted, 0 updated, 0 unchanged, 0 deleted"
    after = plain_indexes("animals")
    # The same indexes, defined alike, but built anew (new objects) once the rows were in.
    assert definitions(after) == definitions(before)
    assert {oid for *_, oid in after}.isdisjoint({oid for *_, oid in before})
    assert table_rows("railway", "animals") == table_rows("default", "animals")
    # Built from the rows: the planner can use them, and they hold every row.
    assert scalar("railway", "SELECT count(*) FROM animals WHERE organization_id > 0") == 60


@DB
def test_a_site_reading_the_table_keeps_the_indexes_in_place(seeded, settings):
    settings.RAILWAY_SYNC_INDEXES_AFTER_ROWS = 10
    before = plain_indexes("animals")
    site = raw_connection("railway", autocommit=False)
    try:
        with site.cursor() as cursor:
            # A site's long request: its transaction holds a lock on animals until it ends.
            cursor.execute("SELECT count(*) FROM animals")
            assert cursor.fetchone() == (0,)

            out, err, code = run("railway_sync")

            assert code == 0, err
            assert plain_indexes("animals") == before
    finally:
        site.rollback()
        site.close()
    assert table_rows("railway", "animals") == table_rows("default", "animals")


@DB
def test_a_row_changed_on_its_way_in_fails_verification(seeded):
    # A trigger on Railway rewrites what the COPY sends: the table read back differs from
    # what was sent, and the row-by-row comparison names it.
    execute(
        "railway",
        "CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$",
    )
    execute(
        "railway",
        "CREATE TRIGGER shout BEFORE INSERT ON organizations FOR EACH ROW EXECUTE FUNCTION shout()",
    )
    try:
        out, err, code = run("railway_sync")
    finally:
        execute("railway", "DROP TRIGGER shout ON organizations")
        execute("railway", "DROP FUNCTION shout()")

    assert code == 1
    assert err.splitlines()[0] == (
        "❌ Railway data sync failed: Verification failed for organizations on Railway: 6 rows "
        "with different content; the transaction was rolled back. Run python manage.py "
        "railway_status --deep for details."
    )
    assert scalar("railway", "SELECT count(*) FROM organizations") == 0


@DB
def test_a_pulled_row_changed_on_its_way_in_fails_the_pulls_verification(seeded):
    assert run("railway_sync")[2] == 0
    truncate("default")  # local lost its rows: what a pull recovers from
    # A local trigger (a scraper's) rewrites what the pull's COPY sends.
    execute(
        "default",
        "CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$",
    )
    execute(
        "default",
        "CREATE TRIGGER shout BEFORE INSERT ON animals FOR EACH ROW EXECUTE FUNCTION shout()",
    )
    try:
        out, err, code = run("railway_pull")
    finally:
        execute("default", "DROP TRIGGER shout ON animals")
        execute("default", "DROP FUNCTION shout()")

    assert code == 1
    assert err.splitlines()[0] == (
        "❌ Pull from Railway failed: Verification failed for the local animals: 60 rows with "
        "different content; the local transaction was rolled back, nothing was changed. Run "
        "python manage.py railway_pull again."
    )
    assert scalar("default", "SELECT count(*) FROM animals") == 0
