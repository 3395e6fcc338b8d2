"""Railway is shared (issue 10): the sync owns the rows it put there, the site owns the rest.

Each test is one "What must hold" of the issue, driven through the commands as a user runs
them, with the rows on both databases checked before and after.
"""

from __future__ import annotations

import json
from array import array

import pytest
from django.db import transaction

from railway_sync.engine.owned_record import record_sql
from railway_sync.engine.ownership import Ownership, local_ids
from railway_sync.models import SYNCED_TABLES, SyncRun
from railway_sync.pg.columns import live_columns
from railway_sync.pg.sql import ranges_literal, row_hash
from tests.conftest import DB, checksum, execute, fetch, run, scalar, table_rows
from tests.helpers import assert_refused_alone, table_line

SITE_START = 1_000_000_000
SITE_ANIMAL = (
    "INSERT INTO animals (name, organization_id, adoption_url) "
    "VALUES ('Site dog', %s, 'https://site.example/dog') RETURNING id"
)


def site_insert(sql: str, params: list | None = None) -> int:
    """Insert a row on Railway as the site does (through Railway's sequence); its id."""
    return fetch("railway", sql, params)[0][0]


def site_rows() -> dict[str, list[tuple]]:
    """Every Railway row whose id is in the site's range, per table."""
    return {
        table: fetch("railway", f"SELECT * FROM {table} WHERE id >= %s ORDER BY id", [SITE_START])
        for table in SYNCED_TABLES
    }


def assert_owned_rows_match_local(site: dict[str, list[tuple]]) -> None:
    """Railway holds exactly local's rows plus the site's rows ``site``."""
    for table in SYNCED_TABLES:
        owned = fetch("railway", f"SELECT * FROM {table} WHERE id < %s ORDER BY id", [SITE_START])
        assert owned == table_rows("default", table), table
        assert site_rows()[table] == site[table], table


def animal_without_images() -> int:
    return scalar(
        "default",
        "SELECT min(id) FROM animals a "
        "WHERE NOT EXISTS (SELECT 1 FROM animal_images i WHERE i.animal_id = a.id)",
    )


def assert_a_site_row_at_the_id_survives_a_prune(row_id: int, name: str) -> None:
    """The site puts an animal at ``row_id``, which the sync no longer owns: ``--prune``
    keeps it."""
    execute(
        "railway",
        "INSERT INTO animals (id, name, organization_id, adoption_url) "
        "VALUES (%s, %s, 1, 'https://site.example/dog')",
        [row_id, name],
    )

    out, err, code = run("railway_sync", "--prune", "--confirm-destructive")

    assert code == 0, err
    assert table_line(out, "animals") == "  animals: up to date, 0 rows written, 1 site row kept"
    assert scalar("railway", "SELECT name FROM animals WHERE id = %s", [row_id]) == name


@DB
def test_site_rows_never_block_incremental_and_survive_every_mode(seeded):
    assert run("railway_sync")[2] == 0
    # More scrape_logs than local has, an animal and an organization: all the site's.
    for _ in range(20):
        site_insert(
            "INSERT INTO scrape_logs (organization_id, started_at, status) "
            "VALUES (1, now(), 'site run') RETURNING id"
        )
    assert site_insert(SITE_ANIMAL, [1]) == SITE_START
    site_insert(
        "INSERT INTO organizations (name, website_url) VALUES ('Site org', 'https://s') "
        "RETURNING id"
    )
    site = site_rows()
    assert [len(site[t]) for t in ("organizations", "animals", "scrape_logs")] == [1, 1, 20]
    execute("default", "UPDATE animals SET name = 'Renamed' WHERE id = 2")

    out, err, code = run("railway_sync")

    assert code == 0, err
    assert table_line(out, "animals") == (
        "  animals: 0 inserted, 1 updated, 59 unchanged, 0 deleted, 1 site row kept"
    )
    assert table_line(out, "scrape_logs") == (
        "  scrape_logs: up to date, 0 rows written, 20 site rows kept"
    )
    assert_owned_rows_match_local(site)

    # --prune deletes only the row local deleted.
    gone = animal_without_images()
    execute("default", "DELETE FROM animals WHERE id = %s", [gone])
    out, err, code = run("railway_sync", "--prune")

    assert code == 0, err
    assert table_line(out, "animals") == (
        "  animals: 0 inserted, 0 updated, 59 unchanged, 1 deleted, 1 site row kept"
    )
    assert table_line(out, "scrape_logs") == (
        "  scrape_logs: up to date, 0 rows written, 20 site rows kept"
    )
    assert_owned_rows_match_local(site)

    for mode in ("rebuild", "force"):
        execute("default", "UPDATE organizations SET city = %s WHERE id = 3", [mode])
        out, err, code = run("railway_sync", "--mode", mode, "--confirm-destructive")

        assert code == 0, err
        assert table_line(out, "organizations") == (
            "  organizations: 0 inserted, 1 updated, 5 unchanged, 0 deleted, 1 site row kept"
        )
        assert table_line(out, "scrape_logs") == (
            "  scrape_logs: up to date, 0 rows written, 20 site rows kept"
        )
        assert_owned_rows_match_local(site)

    out, err, code = run(
        "railway_sync", "--mode", "rebuild", "--confirm-destructive", "--discard-railway-rows"
    )

    assert code == 0, err
    assert table_line(out, "organizations") == (
        "  organizations: 0 inserted, 0 updated, 6 unchanged, 1 deleted"
    )
    assert table_line(out, "scrape_logs") == (
        "  scrape_logs: 0 inserted, 0 updated, 15 unchanged, 20 deleted"
    )
    assert checksum("railway") == checksum("default")


@DB
def test_discard_railway_rows_needs_a_destructive_mode(seeded):
    out, err, code = run("railway_sync", "--discard-railway-rows")

    assert code == 1
    assert err == (
        "❌ Railway data sync failed: --discard-railway-rows goes with --mode rebuild or "
        "--mode force (and --confirm-destructive); nothing was touched."
    )


@DB
def test_few_owned_rows_deleted_locally_recommend_prune_and_fill_guard_problems(seeded):
    assert run("railway_sync")[2] == 0
    execute("default", "DELETE FROM scrape_logs WHERE id > 12")
    before = checksum("railway")
    problem = (
        "scrape_logs: local has 12 rows but Railway has 15 synced rows, 3 of them not in local"
    )

    out, err, code = run("railway_sync")

    # Issue 19: the table is refused alone (named with its fix), the others sync.
    assert_refused_alone(
        out,
        err,
        code,
        "  scrape_logs: refused, left as it was: rows the sync put on Railway are missing "
        "locally (local has 12 rows but Railway has 15 synced rows, 3 of them not in local)",
        "    ⚠ If local deleted these rows on purpose, run: python manage.py railway_sync "
        "--prune --confirm-destructive (it deletes only rows the sync put there).",
    )
    out, err, code = run("railway_sync", "--format", "json")
    document = json.loads(out)
    assert (code, document["outcome"], document["guard_problems"]) == (1, "partial", [problem])
    assert document["refused_tables"] == ["scrape_logs"]
    assert checksum("railway") == before

    out, err, code = run("railway_sync", "--prune", "--confirm-destructive")

    assert code == 0, err
    assert table_line(out, "scrape_logs") == (
        "  scrape_logs: 0 inserted, 0 updated, 12 unchanged, 3 deleted"
    )
    assert checksum("railway") == checksum("default")


@DB
def test_a_site_row_pointing_at_a_row_local_deleted_refuses_and_changes_nothing(seeded):
    assert run("railway_sync")[2] == 0
    site_animal = site_insert(SITE_ANIMAL, [6])
    for table in ("animal_images", "animals"):
        column = "animal_id IN (SELECT id FROM animals WHERE organization_id = 6)"
        execute(
            "default",
            f"DELETE FROM {table} WHERE "
            + (column if table == "animal_images" else "organization_id = 6"),
        )
    execute("default", "DELETE FROM scrape_logs WHERE organization_id = 6")
    execute("default", "DELETE FROM service_regions WHERE organization_id = 6")
    execute("default", "DELETE FROM organizations WHERE id = 6")
    before = checksum("railway")
    refusal = (
        "❌ Railway data sync failed: Refused: rows the site wrote on Railway point at rows "
        f"local deleted (animals {site_animal} (the site's) points at organizations 6, which "
        "local deleted); deleting those would break or delete the site's rows, so nothing was "
        "written. Repoint or delete the site's rows on Railway, or restore the rows locally, "
        "then sync again."
    )

    for args in (("--prune", "--confirm-destructive"), ("--mode", "rebuild")):
        out, err, code = run("railway_sync", *args, "--confirm-destructive")

        assert (err, code) == (refusal, 1)
        assert checksum("railway") == before

    out, err, code = run("railway_sync", "--prune", "--confirm-destructive", "--dry-run")

    assert code == 0, err
    assert (
        f"Guards: --mode incremental would refuse: animals {site_animal} (the site's) points "
        "at organizations 6, which local deleted"
    ) in out.splitlines()


@DB
def test_a_site_row_at_an_id_local_also_uses_is_a_reported_conflict(seeded):
    assert run("railway_sync")[2] == 0
    # The site inserts animal 61 explicitly; local's scrapers insert their own animal 61.
    execute(
        "railway",
        "INSERT INTO animals (id, name, organization_id, adoption_url, slug) "
        "VALUES (61, 'Site dog', 1, 'https://site.example/61', 'site-dog')",
    )
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url, slug, external_id) "
        "VALUES (61, 'New dog', 2, 'https://e.org/61', 'new-dog', 'ext-61'), "
        "(62, 'Other dog', 2, 'https://e.org/62', NULL, NULL)",
    )
    execute("default", "UPDATE animals SET name = 'Renamed' WHERE id = 5")
    # A photo of local's dog 61 must not be attached to the site's dog 61.
    execute(
        "default",
        "INSERT INTO animal_images (id, animal_id, image_url) VALUES (21, 61, 'https://e/61.jpg')",
    )
    held = "1 held back (they point at a conflict)"
    site_dog = fetch("railway", "SELECT * FROM animals WHERE id = 61")
    conflict = (
        "    ⚠ conflict: animals id 61 is the site's row on Railway (name 'Site dog', slug "
        "'site-dog', external_id NULL); local's row (name 'New dog', slug 'new-dog', "
        "external_id 'ext-61') was not written"
    )
    conflict_line = (
        "⚠ Railway data sync kept the site's row at 1 id that local also uses (conflicts "
        "above); everything else landed. To let local's rows replace them, run: python "
        "manage.py railway_sync --on-conflict local"
    )

    out, err, code = run("railway_sync", "--dry-run")

    assert code == 0, err
    lines = out.splitlines()
    assert (
        "  animals: would insert 1, update 1, leave 59 unchanged, keep 0 Railway-only, "
        "delete 0, 1 site row kept, 1 conflict" in lines
    )
    assert (
        "  animal_images: would insert 0, update 0, leave 20 unchanged, keep 0 Railway-only, "
        f"delete 0, {held}" in lines
    )
    assert lines[lines.index(conflict) - 1].startswith("  animals: ")
    assert conflict_line.replace("kept", "would keep").replace("landed", "would land") in lines

    # The next sync, with nothing changed on either side, reports it again.
    for written in (
        "1 inserted, 1 updated, 59 unchanged, 0 deleted",
        "0 inserted, 0 updated, 61 unchanged, 0 deleted",
    ):
        out, err, code = run("railway_sync")

        assert (err, code) == (conflict_line, 1)
        lines = out.splitlines()
        assert table_line(out, "animals") == f"  animals: {written}, 1 site row kept, 1 conflict"
        assert lines[lines.index(conflict) - 1].startswith("  animals: ")
        assert table_line(out, "animal_images") == (
            f"  animal_images: 0 inserted, 0 updated, 20 unchanged, 0 deleted, {held}"
        )
        assert scalar("railway", "SELECT count(*) FROM animal_images WHERE id = 21") == 0
        assert lines[-1] == "Verified: every local row is on Railway with identical content."
        assert fetch("railway", "SELECT * FROM animals WHERE id = 61") == site_dog
        for animal in (5, 62):
            assert fetch("railway", "SELECT * FROM animals WHERE id = %s", [animal]) == fetch(
                "default", "SELECT * FROM animals WHERE id = %s", [animal]
            )

    out, err, code = run("railway_sync", "--format", "json")
    document = json.loads(out)
    animals = document["tables"][1]
    assert (code, document["outcome"], document["exit_code"]) == (1, "conflicts", 1)
    # The run history says so too, as the admin shows it: not a success.
    last_run = SyncRun.objects.using("default").order_by("-started_at").first()
    assert last_run is not None and last_run.outcome == "conflicts"
    assert (animals["conflicts"], animals["site_rows"]) == (1, 1)
    assert animals["conflict_rows"] == [
        {
            "id": 61,
            "local": {"name": "New dog", "slug": "new-dog", "external_id": "ext-61"},
            "railway": {"name": "Site dog", "slug": "site-dog", "external_id": None},
        }
    ]

    out, err, code = run("railway_status", "--check")

    assert code == 1
    lines = out.splitlines()
    assert "  animals: 62 → 62 (⚠ 1 conflict, 1 site row)" in lines
    assert lines[lines.index("  animals: 62 → 62 (⚠ 1 conflict, 1 site row)") + 1] == conflict
    assert (
        "Recommendation: The site's rows on Railway hold ids that local also uses (conflicts "
        "above); syncs keep the site's row and exit 1. To let local's rows replace them, run: "
        "python manage.py railway_sync --on-conflict local"
    ) in lines
    out, err, code = run("railway_status", "--format", "json")
    assert json.loads(out)["tables"][1]["conflicts"] == 1

    out, err, code = run("railway_sync", "--on-conflict", "local")

    assert code == 0, err
    assert table_line(out, "animals") == "  animals: 0 inserted, 1 updated, 61 unchanged, 0 deleted"
    assert table_line(out, "animal_images") == (
        "  animal_images: 1 inserted, 0 updated, 20 unchanged, 0 deleted"
    )
    assert checksum("railway") == checksum("default")
    out, err, code = run("railway_status", "--check")
    assert code == 0, out
    assert "  animals: 62 → 62 (✅ content matches)" in out.splitlines()


@DB
def test_site_inserts_take_ids_in_a_high_range_that_never_moves_back(seeded, settings):
    settings.RAILWAY_SYNC_SITE_ID_START = None  # as before issue 10: just past max(id)
    assert run("railway_setup")[2] == 0
    assert site_insert(SITE_ANIMAL, [1]) == 61

    del settings.RAILWAY_SYNC_SITE_ID_START  # the default
    assert run("railway_sync")[2] == 0
    assert site_insert(SITE_ANIMAL, [1]) == SITE_START
    assert run("railway_sync")[2] == 0
    assert site_insert(SITE_ANIMAL, [1]) == SITE_START + 1

    # A lower start never moves a sequence back below what the site used; a start beyond
    # what the sequence can hand out is not applied.
    for start in (1000, 2**40):
        settings.RAILWAY_SYNC_SITE_ID_START = start
        out, err, code = run("railway_sync")
        assert code == 0, err
    assert site_insert(SITE_ANIMAL, [1]) == SITE_START + 2
    assert (
        site_insert(
            "INSERT INTO scrape_logs (organization_id, started_at, status) "
            "VALUES (1, now(), 'site run') RETURNING id"
        )
        == SITE_START
    )


@DB
def test_a_column_only_railway_has_is_the_sites_and_never_synced(seeded):
    assert run("railway_sync")[2] == 0
    execute("railway", "ALTER TABLE animals ADD COLUMN site_score integer DEFAULT 7")
    execute("railway", "UPDATE animals SET site_score = 42 WHERE id IN (1, 2)")
    execute("default", "UPDATE animals SET name = 'Renamed' WHERE id = 1")
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url) "
        "VALUES (61, 'New dog', 1, 'https://e.org/61')",
    )

    for args in ((), ("--verify-all",), ("--mode", "rebuild", "--confirm-destructive")):
        out, err, code = run("railway_sync", *args)

        assert code == 0, err

    assert fetch(
        "railway", "SELECT id, site_score FROM animals WHERE id IN (1, 2, 3, 61) ORDER BY id"
    ) == [
        (1, 42),
        (2, 42),
        (3, 7),
        (61, 7),
    ]
    local_columns = "id, name, organization_id, adoption_url, properties, slug"
    assert fetch("railway", f"SELECT {local_columns} FROM animals ORDER BY id") == fetch(
        "default", f"SELECT {local_columns} FROM animals ORDER BY id"
    )
    out, err, code = run("railway_status", "--check")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[lines.index("  animals: 61 → 61 (✅ content matches)") + 1] == (
        "  animals.site_score: only on Railway (the site's column, not synced)"
    )
    out, err, code = run("railway_status", "--format", "json")
    assert [t["site_columns"] for t in json.loads(out)["tables"]] == [
        [],
        ["site_score"],
        [],
        [],
        [],
    ]


@DB
def test_an_adopted_railway_owns_the_ids_local_has_and_leaves_the_rest_to_the_site(seeded):
    # An earlier tool copied the organizations; one was edited on Railway since, and the site
    # added one of its own.
    for row in table_rows("default", "organizations"):
        placeholders = ", ".join(["%s"] * len(row))
        execute(
            "railway",
            f"INSERT INTO organizations VALUES ({placeholders})",
            [json.dumps(v) if isinstance(v, (dict, list)) else v for v in row],
        )
    execute("railway", "UPDATE organizations SET name = 'Edited on Railway' WHERE id = 2")
    execute("railway", "INSERT INTO organizations (id, name, website_url) VALUES (99, 's', 'w')")

    out, err, code = run("railway_sync")

    assert code == 0, err
    assert table_line(out, "organizations") == (
        "  organizations: 0 inserted, 1 updated, 5 unchanged, 0 deleted, 1 site row kept"
    )
    assert fetch("railway", "SELECT table_name, ids::text FROM railway_sync_owned ORDER BY 1") == [
        ("animal_images", "{[1,21)}"),
        ("animals", "{[1,61)}"),
        ("organizations", "{[1,7)}"),
        ("scrape_logs", "{[1,16)}"),
        ("service_regions", "{[1,6)}"),
    ]
    out, err, code = run("railway_sync", "--prune")
    assert code == 0, err
    assert scalar("railway", "SELECT name FROM organizations WHERE id = 99") == "s"
    out, err, code = run("railway_status", "--check")
    assert code == 0, out
    assert "  organizations: 6 → 7 (✅ content matches, 1 site row)" in out.splitlines()


@DB
def test_upgrading_to_migration_0005_adopts_railway_as_it_stands(seeded):
    assert run("railway_sync")[2] == 0
    # Railway as the previous version left it: a row local deleted since (kept by incremental
    # syncs), and no record of ownership.
    execute("default", "DELETE FROM service_regions WHERE id = 5")
    run("migrate", "railway_sync", "0004", "--database", "railway", "--verbosity", "0")
    assert scalar("railway", "SELECT to_regclass('railway_sync_owned')") is None

    out, err, code = run("railway_status")
    assert "  service_regions: 4 → 5 (✅ content matches, 1 site row)" in out.splitlines()
    out, err, code = run("railway_sync")
    assert (out, err, code) == (
        "🚀 Starting Railway data sync...\n",
        "❌ Railway data sync failed: Railway's schema is behind this version of railway_sync "
        "(no railway_sync_owned table). Run: python manage.py railway_migrate",
        1,
    )

    out, err, code = run("railway_migrate")
    assert code == 0, err
    assert "  Applied railway_sync.0005_owned_rows" in out.splitlines()
    out, err, code = run("railway_sync", "--prune")

    assert code == 0, err
    assert table_line(out, "service_regions") == (
        "  service_regions: up to date, 0 rows written, 1 site row kept"
    )
    assert scalar("railway", "SELECT count(*) FROM service_regions") == 5
    assert fetch(
        "railway",
        "SELECT ids::text FROM railway_sync_owned WHERE table_name = %s",
        ["service_regions"],
    ) == [("{[1,5)}",)]


def recorded_at(table: str):
    return scalar(
        "railway", "SELECT recorded_at FROM railway_sync_owned WHERE table_name = %s", [table]
    )


@DB
def test_a_sync_that_writes_nothing_keeps_the_ownership_record_unless_railway_moved_under_it(
    seeded,
):
    assert run("railway_sync")[2] == 0
    before = {table: recorded_at(table) for table in SYNCED_TABLES}

    out, err, code = run("railway_sync", "--format", "json")

    # Nothing written, nothing adopted, every recorded row still there: not rewritten.
    assert code == 0, err
    assert json.loads(out)["rows_written"] == 0
    assert {table: recorded_at(table) for table in SYNCED_TABLES} == before

    # Local deleted an animal, and so did someone on Railway: the record still names its id.
    gone = animal_without_images()
    execute("default", "DELETE FROM animals WHERE id = %s", [gone])
    execute("railway", "DELETE FROM animals WHERE id = %s", [gone])

    out, err, code = run("railway_sync", "--format", "json")

    assert code == 0, err
    assert json.loads(out)["rows_written"] == 0
    assert recorded_at("animals") != before["animals"]  # rewritten without the id
    assert recorded_at("organizations") == before["organizations"]
    # So a row the site puts at that id later is the site's: --prune keeps it.
    assert_a_site_row_at_the_id_survives_a_prune(gone, "Site dog at a freed id")


@DB
def test_a_row_the_site_puts_at_an_id_a_prune_freed_is_the_sites(seeded):
    assert run("railway_sync")[2] == 0
    gone = animal_without_images()
    execute("default", "DELETE FROM animals WHERE id = %s", [gone])

    out, err, code = run("railway_sync", "--prune", "--confirm-destructive")

    assert code == 0, err
    assert scalar("railway", "SELECT count(*) FROM animals WHERE id = %s", [gone]) == 0
    # The site reuses the id (an operator's repair, say): the row is its own from the start.
    assert_a_site_row_at_the_id_survives_a_prune(gone, "Site dog at a pruned id")


@DB
def test_the_record_is_rewritten_from_itself_and_a_vanished_one_is_not_made_up(seeded):
    # With a record on Railway, the closing statement goes by it, without local's ids; were
    # the record gone by then, it stores nothing rather than a record of the written rows.
    assert run("railway_sync")[2] == 0
    columns = live_columns("default", "animals") or []
    own = Ownership("animals", owned_count=0)
    nothing = array("q")
    by_local_ids = record_sql(
        "railway", "animals", columns, local_ids("default", "animals"), nothing, own, nothing
    )
    by_record = record_sql("railway", "animals", columns, None, nothing, own, nothing)
    owned = "SELECT ids::text FROM railway_sync_owned WHERE table_name = 'animals'"
    before = fetch("railway", owned)
    with transaction.atomic(using="railway"):
        execute("railway", "DELETE FROM animals WHERE id = (SELECT max(id) FROM animals)")
        execute("railway", by_local_ids)
        after_local_ids = fetch("railway", owned)
        execute("railway", by_record)
        after_record = fetch("railway", owned)
        execute("railway", "DELETE FROM railway_sync_owned WHERE table_name = 'animals'")
        execute("railway", by_record)
        vanished = fetch("railway", owned)
        execute("railway", by_local_ids)
        rebuilt = fetch("railway", owned)
        transaction.set_rollback(True, using="railway")

    assert before != after_local_ids  # the deleted row left the record
    assert after_record == after_local_ids
    assert vanished == []
    assert rebuilt == after_local_ids
    assert fetch("railway", owned) == before


@DB
@pytest.mark.parametrize(("id_type", "bits"), [("bigint", 64), ("integer", 32)])
def test_the_record_keeps_exactly_the_owned_ids_still_there_to_either_end_of_the_id_type(
    seeded, id_type, bits
):
    # The record is counted range by range on the primary key's index: ranges at the type's
    # very ends (the largest bigint's range has no upper end) and ranges with ids gone must
    # come out as exactly the ids still there, with the rows written and adopted.
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    ids = [low, low + 1, low + 2, -5, -4, -3, 0, 1, 2, 3, 10, high - 2, high - 1, high]
    table = "railway_sync_edge"
    owned = f"SELECT ids::text FROM railway_sync_owned WHERE table_name = '{table}'"
    with transaction.atomic(using="railway"):
        execute("railway", f"CREATE TABLE {table} (id {id_type} PRIMARY KEY, name text)")
        execute("railway", f"INSERT INTO {table} SELECT unnest(%s::bigint[]), 'ours'", [ids])
        execute(
            "railway",
            "INSERT INTO railway_sync_owned (table_name, ids, recorded_at) "
            f"VALUES ('{table}', {ranges_literal(ids)}, now())",
        )
        # Gone since: one id at each end, one in the middle (the site's deletes, or a prune).
        execute("railway", f"DELETE FROM {table} WHERE id IN (%s, -4, %s)", [low + 1, high - 1])
        # The site's rows: -2 and 30 never local's, 40 and 41 found identical to local's when
        # the sync looked, and 41 changed since; the sync writes 20 and 21.
        execute(
            "railway",
            f"INSERT INTO {table} VALUES (-2, 'site'), (30, 'site'), (40, 'same'), (41, 'same')",
        )
        columns = live_columns("railway", table) or []
        seen = scalar("railway", f"SELECT {row_hash(columns)} FROM {table} WHERE id = 40")
        execute("railway", f"UPDATE {table} SET name = 'changed' WHERE id = 41")
        execute("railway", f"INSERT INTO {table} VALUES (20, 'written'), (21, 'written')")
        own = Ownership(table, 0, adopted=array("q", [40, 41]), adopted_hashes=(seen, seen))
        written = array("q", [20, 21])
        execute("railway", record_sql("railway", table, columns, None, array("q"), own, written))
        recorded = scalar("railway", owned)
        transaction.set_rollback(True, using="railway")

    top = "" if bits == 64 else str(high + 1)
    assert recorded == (
        f"{{[{low},{low + 1}),[{low + 2},{low + 3}),[-5,-4),[-3,-2),[0,4),[10,11),[20,22),"
        f"[40,41),[{high - 2},{high - 1}),[{high},{top})}}"
    )
