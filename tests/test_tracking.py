"""Change tracking finds every change on either side, and falls back to a full comparison
whenever its watermarks cannot be trusted."""

from __future__ import annotations

import json

from railway_sync.models import SYNCED_TABLES
from railway_sync.pg.grants import STATE_TABLE
from tests.conftest import DB, checksum, execute, run, scalar
from tests.helpers import sync_tables_json


def status_json(*args: str) -> dict:
    out, err, code = run("railway_status", "--format", "json", *args)
    return {table["table"]: table for table in json.loads(out)["tables"]}


def assert_in_sync() -> None:
    assert checksum("railway") == checksum("default")


@DB
def test_first_sync_copies_into_empty_tables_then_syncs_are_tracked(seeded):
    first = sync_tables_json()
    assert {t["compared"] for t in first.values()} == {"empty"}
    assert scalar("railway", f"SELECT count(*) FROM {STATE_TABLE}") == len(SYNCED_TABLES)

    second = sync_tables_json()

    assert {t["compared"] for t in second.values()} == {"tracked"}
    assert all(t["inserted"] + t["updated"] + t["deleted"] == 0 for t in second.values())
    assert second["animals"]["unchanged"] == 60
    assert_in_sync()


@DB
def test_tracked_sync_sees_every_kind_of_change_on_both_sides(seeded):
    sync_tables_json()
    execute("default", "UPDATE animals SET properties = '{\"moved\": true}' WHERE id = 10")
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url) VALUES (70, 'New', 1, 'u')",
    )
    execute("default", "DELETE FROM animal_images WHERE id = 4")
    execute("default", "INSERT INTO animal_images (id, animal_id, image_url) VALUES (30, 1, 'i')")
    execute(
        "default", "INSERT INTO service_regions (id, organization_id, country) VALUES (6, 2, 'YY')"
    )
    execute("railway", "UPDATE animals SET name = 'Edited on Railway' WHERE id = 20")
    execute("railway", "DELETE FROM scrape_logs WHERE id = 3")
    execute(
        "railway", "INSERT INTO service_regions (id, organization_id, country) VALUES (50, 1, 'ZZ')"
    )
    # Freezing rewrites tuple headers but keeps the raw xmin the tracking compares.
    execute("default", "VACUUM FREEZE animals")

    tables = sync_tables_json()

    assert {t["compared"] for t in tables.values()} == {"tracked"}
    assert (tables["animals"]["inserted"], tables["animals"]["updated"]) == (1, 2)
    assert (tables["animal_images"]["inserted"], tables["animal_images"]["kept"]) == (1, 1)
    assert (tables["scrape_logs"]["inserted"], tables["scrape_logs"]["updated"]) == (1, 0)
    # Region 50 is the site's row: kept, and no mismatch.
    assert (
        tables["service_regions"]["inserted"],
        tables["service_regions"]["kept"],
        tables["service_regions"]["site_rows"],
    ) == (1, 0, 1)
    deep = status_json("--deep")
    assert [t for t, v in deep.items() if not v["in_sync"]] == ["animal_images"]
    assert deep["animal_images"]["railway_only"] == 1
    assert (deep["service_regions"]["railway_only"], deep["service_regions"]["site_rows"]) == (0, 1)
    assert deep["animals"]["in_sync"] and deep["scrape_logs"]["in_sync"]


@DB
def test_status_fast_and_deep_agree_on_a_change_made_on_railway(seeded):
    sync_tables_json()
    execute("railway", "UPDATE scrape_logs SET status = 'tampered' WHERE id = 2")

    fast = status_json()
    deep = status_json("--deep")

    assert fast["scrape_logs"]["compared"] == "tracked"
    assert deep["scrape_logs"]["compared"] == "full"
    assert fast["scrape_logs"]["differing"] == deep["scrape_logs"]["differing"] == 1
    assert sync_tables_json()["scrape_logs"]["updated"] == 1
    assert status_json("--deep")["scrape_logs"]["in_sync"]


@DB
def test_untrustworthy_watermarks_fall_back_to_a_full_comparison(seeded):
    sync_tables_json()
    execute(
        "railway",
        f"UPDATE {STATE_TABLE} SET local_database = 'another-db#1@5432' "
        "WHERE table_name = 'organizations'",
    )
    execute(
        "railway",
        f"UPDATE {STATE_TABLE} SET local_watermark = local_watermark - 3000000000 "
        "WHERE table_name = 'animals'",
    )
    execute(
        "railway",
        f"UPDATE {STATE_TABLE} SET columns_signature = 'old' WHERE table_name = 'scrape_logs'",
    )
    execute("railway", f"DELETE FROM {STATE_TABLE} WHERE table_name = 'service_regions'")
    # A change that only a full comparison can see: its xmin is older than the (forged)
    # watermark of animals... so the fallback must be what finds it.
    execute("railway", "UPDATE animals SET name = 'stale' WHERE id = 5")

    tables = sync_tables_json()

    assert tables["organizations"]["compared"] == "full"
    assert tables["animals"]["compared"] == "full"
    assert tables["scrape_logs"]["compared"] == "full"
    assert tables["service_regions"]["compared"] == "full"
    assert tables["animal_images"]["compared"] == "tracked"
    assert tables["animals"]["updated"] == 1
    assert {t["compared"] for t in sync_tables_json().values()} == {"tracked"}
    assert_in_sync()


@DB
def test_verify_all_plans_from_every_row_and_a_failed_sync_keeps_the_old_watermark(seeded):
    sync_tables_json()
    before = scalar(
        "railway", f"SELECT local_watermark FROM {STATE_TABLE} WHERE table_name = 'animals'"
    )
    out, err, code = run("railway_sync", "--verify-all", "--verbosity", "2")
    assert code == 0, err
    assert "[full comparison]" in out

    execute("default", "UPDATE animals SET breed = 'Rejected breed' WHERE id = 30")
    execute(
        "railway",
        "ALTER TABLE animals ADD CONSTRAINT no_rejected "
        "CHECK (breed IS DISTINCT FROM 'Rejected breed')",
    )
    assert run("railway_sync")[2] == 1
    after = scalar(
        "railway", f"SELECT local_watermark FROM {STATE_TABLE} WHERE table_name = 'animals'"
    )
    assert after >= before
    execute("railway", "ALTER TABLE animals DROP CONSTRAINT no_rejected")
    # The failed sync's change is still found from the watermark the last success left.
    assert sync_tables_json()["animals"]["updated"] == 1
    assert_in_sync()


@DB
def test_sync_refuses_when_railway_lacks_the_state_table(seeded):
    run("migrate", "railway_sync", "0002", "--database", "railway", "--verbosity", "0")

    out, err, code = run("railway_sync")

    assert code == 1
    assert (
        "Railway's schema is behind this version of railway_sync (no railway_sync_state "
        "table). Run: python manage.py railway_migrate"
    ) in err


@DB
def test_a_difference_only_a_deep_status_sees_is_repaired_by_verify_all(seeded):
    sync_tables_json()
    # A change tracking cannot see: Railway's row edited, then the watermark moved past it
    # by a record that reads as the sync's own (its railway_xid the transaction writing it).
    execute("railway", "UPDATE animals SET name = 'Edited behind tracking' WHERE id = 7")
    execute(
        "railway",
        f"UPDATE {STATE_TABLE} SET railway_watermark = "
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
        "railway_xid = pg_current_xact_id()::text::bigint",
    )
    assert status_json()["animals"]["differing"] == 0
    out, err, code = run("railway_status", "--deep", "--check")
    assert code == 1
    assert "  animals: 60 → 60 (⚠ 1 differ)" in out.splitlines()
    assert "Recommendation: Run: python manage.py railway_sync --verify-all" in out.splitlines()

    assert sync_tables_json()["animals"]["updated"] == 0
    repaired = sync_tables_json("--verify-all")

    assert repaired["animals"]["updated"] == 1
    assert {t["compared"] for t in repaired.values()} == {"full"}
    assert_in_sync()
