"""COPY into an empty table (issue 24): on Railway its plain indexes are built once the rows are
in, inside the sync's transaction; on either side (a sync, a pull) what was sent is verified by
reading the table back as COPY sends it, falling back to comparing row by row when that
differs."""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from railway_sync.engine.load import copied_digest, copy_into_empty
from railway_sync.pg.columns import binary_copyable, live_columns
from tests.conftest import DB, execute, fetch, run, scalar, table_rows, truncate
from tests.helpers import raw_connection, without_timing

PLAIN_INDEXES = (
    "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indexrelid::int FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
    "AND NOT i.indisprimary "
    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
    "ORDER BY 1"
)


FOREIGN_KEYS = (
    "SELECT conname, pg_get_constraintdef(oid), oid::int FROM pg_constraint "
    "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY 1"
)


UNIQUE_CONSTRAINTS = (
    "SELECT conname, pg_get_constraintdef(oid), conindid::int FROM pg_constraint "
    "WHERE conrelid = %s::regclass AND contype = 'u' ORDER BY 1"
)


def unique_constraints(table: str) -> list[tuple[str, str, int]]:
    return fetch("railway", UNIQUE_CONSTRAINTS, [table])


@contextmanager
def names_shouted(alias: str, table: str) -> Iterator[None]:
    """A trigger on ``alias`` that upper-cases ``table``'s names as rows are inserted."""
    execute(
        alias,
        "CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$",
    )
    execute(
        alias,
        f"CREATE TRIGGER shout BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION shout()",
    )
    try:
        yield
    finally:
        execute(alias, f"DROP TRIGGER shout ON {table}")
        execute(alias, "DROP FUNCTION shout()")


def plain_indexes(table: str) -> list[tuple[str, str, int]]:
    return fetch("railway", PLAIN_INDEXES, [table])


def foreign_keys(table: str) -> list[tuple[str, str, int]]:
    return fetch("railway", FOREIGN_KEYS, [table])


def definitions(indexes: list[tuple[str, str, int]]) -> list[tuple[str, str]]:
    return [(name, definition) for name, definition, _oid in indexes]


@DB
def test_indexes_are_built_and_keys_checked_after_the_rows_are_copied(seeded, settings):
    settings.RAILWAY_SYNC_INDEXES_AFTER_ROWS = 10
    before, keys_before = plain_indexes("animals"), foreign_keys("animals")
    assert before, "the test needs animals to have plain indexes on Railway"
    assert keys_before, "the test needs animals to have a foreign key on Railway"

    out, err, code = run("railway_sync")

    assert code == 0, err
    assert without_timing(out)[2] == "  animals: 60 inserted, 0 updated, 0 unchanged, 0 deleted"
    after, keys_after = plain_indexes("animals"), foreign_keys("animals")
    # The same indexes and keys, defined alike, but made anew (new objects) once the rows
    # were in.
    assert definitions(after) == definitions(before)
    assert {oid for *_, oid in after}.isdisjoint({oid for *_, oid in before})
    assert definitions(keys_after) == definitions(keys_before)
    assert {oid for *_, oid in keys_after}.isdisjoint({oid for *_, oid in keys_before})
    assert table_rows("railway", "animals") == table_rows("default", "animals")
    # Built from the rows: the planner can use them, and they hold every row.
    assert scalar("railway", "SELECT count(*) FROM animals WHERE organization_id > 0") == 60


@DB
def test_unique_constraints_are_added_back_after_the_rows_are_copied(seeded, settings):
    settings.RAILWAY_SYNC_INDEXES_AFTER_ROWS = 10
    before = unique_constraints("animals")
    assert before, "the test needs animals to have unique constraints on Railway"

    out, err, code = run("railway_sync")

    assert code == 0, err
    after = unique_constraints("animals")
    # The same constraints, defined alike, each on an index built once the rows were in.
    assert definitions(after) == definitions(before)
    assert {index for *_, index in after}.isdisjoint({index for *_, index in before})
    assert table_rows("railway", "animals") == table_rows("default", "animals")


@DB
def test_a_value_a_unique_constraint_refuses_fails_the_load_as_the_copy_did(seeded, settings):
    settings.RAILWAY_SYNC_INDEXES_AFTER_ROWS = 10
    # A unique constraint of the site's own on Railway that local's rows break (local has no
    # such constraint): added back after the load, it refuses them, and the sync ends as it
    # did when the COPY met it.
    execute("railway", "ALTER TABLE animals ADD CONSTRAINT site_one_per_type UNIQUE (animal_type)")
    before = unique_constraints("animals")
    try:
        out, err, code = run("railway_sync", "--mode", "rebuild", "--confirm-destructive")
        after = unique_constraints("animals")
    finally:
        execute("railway", "ALTER TABLE animals DROP CONSTRAINT site_one_per_type")

    assert code == 1
    assert err.splitlines()[0] == (
        "❌ Railway data sync failed: Railway rejected a row of animals: duplicate key value "
        'violates unique constraint "site_one_per_type". Key (animal_type)=(dog) already exists. '
        "(Railway was left unchanged; fix the row locally, or the constraint on Railway, then "
        "sync again)."
    )
    assert scalar("railway", "SELECT count(*) FROM animals") == 0
    assert scalar("railway", "SELECT count(*) FROM organizations") == 0
    assert after == before


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
def test_a_site_writing_a_parent_keeps_the_keys_and_indexes_in_place(seeded, settings):
    settings.RAILWAY_SYNC_INDEXES_AFTER_ROWS = 10
    before, keys_before = plain_indexes("animals"), foreign_keys("animals")
    site = raw_connection("railway", autocommit=False)
    try:
        with site.cursor() as cursor:
            # A site's transaction writing organizations: adding animals' key back would wait
            # for it, so the load keeps the key (and the indexes) in place.
            cursor.execute("UPDATE organizations SET name = name WHERE false")

            out, err, code = run("railway_sync")

            assert code == 0, err
            assert (plain_indexes("animals"), foreign_keys("animals")) == (before, keys_before)
    finally:
        site.rollback()
        site.close()
    assert table_rows("railway", "animals") == table_rows("default", "animals")


@DB
def test_a_row_its_key_refuses_fails_the_load_and_leaves_railway_as_it_was(seeded, settings):
    settings.RAILWAY_SYNC_INDEXES_AFTER_ROWS = 10
    # A key of the site's own on Railway, to a table of its own that lacks animal 5's
    # organization: added back after the load, it refuses the row as checking row by row
    # would have.
    execute("railway", "CREATE TABLE site_partners (id bigint PRIMARY KEY)")
    execute("railway", "INSERT INTO site_partners SELECT id FROM generate_series(1, 100) id")
    organization = scalar("default", "SELECT organization_id FROM animals WHERE id = 5")
    execute("railway", f"DELETE FROM site_partners WHERE id = {organization}")
    execute(
        "railway",
        "ALTER TABLE animals ADD CONSTRAINT site_partner FOREIGN KEY (organization_id) "
        "REFERENCES site_partners (id)",
    )
    keys_before = foreign_keys("animals")
    try:
        out, err, code = run("railway_sync", "--mode", "rebuild", "--confirm-destructive")
        keys_after = foreign_keys("animals")
    finally:
        execute("railway", "ALTER TABLE animals DROP CONSTRAINT site_partner")
        execute("railway", "DROP TABLE site_partners")

    assert code == 1
    assert err.splitlines()[0] == (
        "❌ Railway data sync failed: Railway rejected a row of animals: insert or update on "
        'table "animals" violates foreign key constraint "site_partner". Key '
        f'(organization_id)=({organization}) is not present in table "site_partners". (Railway '
        "was left unchanged; fix the row locally, or the constraint on Railway, then sync again)."
    )
    assert scalar("railway", "SELECT count(*) FROM animals") == 0
    assert scalar("railway", "SELECT count(*) FROM organizations") == 0
    assert keys_after == keys_before


@DB
def test_a_row_changed_on_its_way_in_fails_verification(seeded):
    # A trigger on Railway rewrites what the COPY sends: the table read back differs from
    # what was sent, and the row-by-row comparison names it.
    with names_shouted("railway", "organizations"):
        out, err, code = run("railway_sync")

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
    with names_shouted("default", "animals"):
        out, err, code = run("railway_pull")

    assert code == 1
    assert err.splitlines()[0] == (
        "❌ Pull from Railway failed: Verification failed for the local animals: 60 rows with "
        "different content; the local transaction was rolled back, nothing was changed. Run "
        "python manage.py railway_pull again."
    )
    assert scalar("default", "SELECT count(*) FROM animals") == 0


def copy_and_read_back(
    table: str, text_column: str, batch_size: int
) -> tuple[bool, bytes | None, bytes, bytes]:
    """COPY local's ``table`` into Railway's (empty) in batches, as a sync does, and read it
    back, inside a transaction rolled back after: (binary or not, the digest of what was
    sent, of what was read back, and of what was read back after one row's ``text_column``
    changed)."""
    columns = live_columns("default", table) or []
    ids = array("q", [row[0] for row in fetch("default", f"SELECT id FROM {table} ORDER BY id")])
    with transaction.atomic(using="railway"):
        binary = binary_copyable(columns)
        copied = copy_into_empty(
            "default", "railway", table, columns, ids, batch_size, lambda rows: None, binary=binary
        )
        read_back = copied_digest("railway", table, columns, binary=binary)
        execute("railway", f"UPDATE {table} SET id = id WHERE id = {ids[-1]}")
        unchanged_after_update = copied_digest("railway", table, columns, binary=binary)
        execute("railway", f"UPDATE {table} SET {text_column} = {text_column} || '.' WHERE id = 1")
        changed = copied_digest("railway", table, columns, binary=binary)
        transaction.set_rollback(True, using="railway")
    assert unchanged_after_update == read_back  # the same rows in another place on disk
    return binary, copied.sent_digest, read_back, changed


@DB
def test_rows_copied_in_binary_batches_read_back_as_they_were_sent(seeded):
    # Every column of organizations is of a built-in type: COPY goes in binary form, each
    # batch with a header and a trailer of its own, which the digests leave out.
    binary, sent, read_back, changed = copy_and_read_back("organizations", "name", batch_size=2)

    assert binary
    assert sent == read_back
    assert changed != read_back
    assert read_back != hashlib.sha256().digest()


@DB
def test_a_type_of_the_databases_own_is_copied_as_text_and_reads_back_as_sent(seeded):
    for alias in ("default", "railway"):
        execute(
            alias,
            "CREATE TYPE kennel_mood AS ENUM ('calm', 'busy'); "
            "CREATE TABLE kennel_days (id bigint PRIMARY KEY, note text, mood kennel_mood)",
        )
    execute(
        "default",
        "INSERT INTO kennel_days SELECT i, E'tab\\there\\nnew line \\\\ ' || i, "
        "CASE WHEN i % 2 = 0 THEN 'calm' ELSE 'busy' END::kennel_mood "
        "FROM generate_series(1, 9) i",
    )
    try:
        binary, sent, read_back, changed = copy_and_read_back("kennel_days", "note", batch_size=4)
    finally:
        for alias in ("default", "railway"):
            execute(alias, "DROP TABLE kennel_days; DROP TYPE kennel_mood")

    assert not binary
    assert sent == read_back
    assert changed != read_back
