"""railway_sync as users run it: rows on Railway before and after, exit codes, messages."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from railway_sync import sample
from railway_sync.models import SYNCED_TABLES
from tests.conftest import DB, checksum, execute, fetch, run, scalar, table_rows
from tests.helpers import assert_refused_alone


def assert_railway_matches_local() -> None:
    """Same Python values and the same text form of every row, table by table."""
    for table in SYNCED_TABLES:
        assert table_rows("railway", table) == table_rows("default", table), table
        as_text = f"SELECT t::text FROM {table} t ORDER BY id"
        assert fetch("railway", as_text) == fetch("default", as_text), table


@DB
def test_setup_from_empty_railway_then_three_syncs_write_nothing(seeded):
    run("migrate", "railway_sync", "zero", "--database", "railway", "--verbosity", "0")
    assert scalar("railway", "SELECT to_regclass('animals')") is None

    out, err, code = run("railway_setup")

    assert code == 0, err
    assert "Step 1/4: Database schema migration" in out
    assert "  animals: 60 inserted, 0 updated, 0 unchanged, 0 deleted" in out
    assert "✅ Local and Railway databases are in sync" in out
    assert out.rstrip().endswith("✅ Railway setup completed successfully")
    assert_railway_matches_local()
    for _ in range(3):
        out, err, code = run("railway_sync")
        assert code == 0, err
        for table in SYNCED_TABLES:
            assert f"  {table}: up to date, 0 rows written" in out
        assert "✅ Railway data sync completed successfully (0 rows written" in out
    assert_railway_matches_local()


@DB
def test_sync_output_lines_and_exit_code(seeded):
    out, err, code = run("railway_sync")

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "🚀 Starting Railway data sync..."
    assert lines[1].startswith("  organizations: 6 inserted, 0 updated, 0 unchanged, 0 deleted (")
    assert lines[2].startswith("  animals: 60 inserted, 0 updated, 0 unchanged, 0 deleted (")
    assert lines[-2] == "Verified: every local row is on Railway with identical content."
    assert lines[-1].startswith("✅ Railway data sync completed successfully (106 rows written")


@DB
def test_every_column_round_trips_exactly(clean):
    sample.insert(
        "default",
        sample.generate(organizations=1, animals=0, images=0, scrape_logs=0, service_regions=0),
    )
    huge = {"story": "🐕 Ünïcödé " + "x" * 1_000_000, "nested": {"list": [1, 2.5, None, True]}}
    execute(
        "default",
        """
        INSERT INTO animals (id, name, organization_id, animal_type, external_id, adoption_url,
            properties, created_at, updated_at, last_seen_at, last_scraped_at,
            source_last_updated, slug, active, availability_confidence, language)
        VALUES (1, 'Zoë 🐶 "quoted" \\ back', 1, 'dog', NULL, 'https://e.org/a?x=1&y=2',
            %s, '2024-02-29 23:59:59.123456', '1999-12-31 00:00:00', NULL,
            '2025-06-01 12:00:00.000001', NULL, NULL, FALSE, 'low', NULL),
            (2, E'tab\\there\\nnewline', 1, 'cat', 'ext-2', 'u', '{"a": []}', NULL, NULL, NULL,
            NULL, NULL, 'cat-2', TRUE, 'medium', 'de')
        """,
        [json.dumps(huge)],
    )
    execute(
        "default",
        """
        INSERT INTO scrape_logs (id, organization_id, started_at, status, duration_seconds,
            data_quality_score, detailed_metrics, error_message)
        VALUES (1, 1, '2025-01-01 00:00:00', 'success', 12345678.91, 0.99,
                '{"float": 0.1, "big": 12345678901234567890}', NULL),
               (2, 1, '2025-01-01 00:00:01', 'failure', 0.00, 0.00, NULL, 'Ошибка: 💥')
        """,
    )
    execute("default", "INSERT INTO animal_images (id, animal_id, image_url) VALUES (1, 1, 'i')")
    execute(
        "default",
        "INSERT INTO service_regions (id, organization_id, country, region) "
        "VALUES (1, 1, 'España', NULL)",
    )

    out, err, code = run("railway_sync")

    assert code == 0, err
    assert_railway_matches_local()
    properties = scalar("railway", "SELECT properties FROM animals WHERE id = 1")
    assert (json.loads(properties) if isinstance(properties, str) else properties) == huge
    assert fetch(
        "railway", "SELECT duration_seconds, data_quality_score FROM scrape_logs ORDER BY id"
    ) == [(Decimal("12345678.91"), Decimal("0.99")), (Decimal("0.00"), Decimal("0.00"))]
    assert scalar("railway", "SELECT created_at FROM animals WHERE id = 1") == dt.datetime(
        2024, 2, 29, 23, 59, 59, 123456
    )


@DB
def test_local_inserts_and_updates_propagate_and_railway_only_rows_survive(seeded):
    assert run("railway_sync")[2] == 0
    execute(
        "default",
        "UPDATE animals SET status = 'adopted', properties = '{\"new\": 1}', "
        "last_seen_at = '2030-01-01' WHERE id IN (3, 4)",
    )
    execute("default", "UPDATE organizations SET description = 'changed' WHERE id = 2")
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url) "
        "VALUES (61, 'New dog', 1, 'https://e.org/61')",
    )
    # The site wrote a row of its own on Railway.
    execute(
        "railway",
        "INSERT INTO animals (id, name, organization_id, adoption_url) "
        "VALUES (1000, 'Site dog', 1, 'https://e.org/site')",
    )

    out, err, code = run("railway_sync")

    assert code == 0, err
    assert "  organizations: 0 inserted, 1 updated, 5 unchanged, 0 deleted" in out
    assert "  animals: 1 inserted, 2 updated, 58 unchanged, 0 deleted, 1 site row kept" in out
    assert table_rows("railway", "organizations") == table_rows("default", "organizations")
    local_animals = table_rows("default", "animals")
    railway_animals = table_rows("railway", "animals")
    assert railway_animals[:-1] == local_animals
    assert railway_animals[-1][1] == "Site dog"


@DB
def test_after_sync_railway_inserts_without_id_succeed_in_every_table_in_the_site_range(seeded):
    execute("railway", "SELECT setval('scrape_logs_id_seq', 3)")  # the old tool's fault

    assert run("railway_sync")[2] == 0

    execute("railway", "INSERT INTO organizations (name, website_url) VALUES ('o', 'w')")
    execute(
        "railway", "INSERT INTO animals (name, organization_id, adoption_url) VALUES ('a', 1, 'u')"
    )
    execute("railway", "INSERT INTO animal_images (animal_id, image_url) VALUES (1, 'i')")
    execute(
        "railway",
        "INSERT INTO scrape_logs (organization_id, started_at, status) "
        "VALUES (1, now(), 'success')",
    )
    execute("railway", "INSERT INTO service_regions (organization_id, country) VALUES (1, 'XX')")
    # The site's inserts take ids from RAILWAY_SYNC_SITE_ID_START on, which local's
    # sequences will not reach.
    for table in seeded:
        assert scalar("railway", f"SELECT max(id) FROM {table}") == 1_000_000_000


@DB
def test_guide_scenario_cleared_scrape_logs(seeded):
    # Railway holds 413 scrape_logs the sync put there; local's are cleared down to 88.
    insert_log = (
        "INSERT INTO scrape_logs (id, organization_id, started_at, status, created_at) "
        "VALUES (%s, 1, %s, 'success', '2025-01-01')"
    )
    execute("default", "DELETE FROM scrape_logs")
    for i in range(1, 414):
        execute("default", insert_log, [i, dt.datetime(2025, 1, 1) + dt.timedelta(hours=i)])
    assert run("railway_sync")[2] == 0
    execute("default", "DELETE FROM scrape_logs WHERE id > 88")
    before = checksum("railway")

    out, err, code = run("railway_sync")

    # scrape_logs is refused alone, with its fix; the other tables had nothing to write.
    assert_refused_alone(
        out,
        err,
        code,
        "  scrape_logs: refused, left as it was: rows the sync put on Railway are missing "
        "locally (local has 88 rows but Railway has 413 synced rows, 325 of them not in local)",
        "    ⚠ If local was rebuilt on purpose, run: python manage.py railway_sync --mode "
        "rebuild --confirm-destructive (the site's rows stay).",
    )
    assert checksum("railway") == before
    out, err, code = run("railway_status")
    assert "  scrape_logs: 88 → 413 (⚠ 325 only on Railway)" in out.splitlines()
    assert (
        "Recommendation: Many rows the sync put on Railway are no longer in local. If local was "
        "rebuilt on purpose, run: python manage.py railway_sync --mode rebuild "
        "--confirm-destructive (the site's rows stay)"
    ) in out.splitlines()

    out, err, code = run("railway_sync", "--mode", "rebuild", "--confirm-destructive")

    assert code == 0, err
    assert "  scrape_logs: 0 inserted, 0 updated, 88 unchanged, 325 deleted" in out
    assert_railway_matches_local()
    out, err, code = run("railway_status", "--check")
    assert code == 0, err
    assert "  scrape_logs: 88 → 88 (✅ content matches)" in out
    assert "✅ Local and Railway databases are in sync" in out


@DB
def test_rebuild_below_thresholds_and_destructive_modes_without_confirmation_refused(seeded):
    assert run("railway_sync")[2] == 0
    execute("default", "DELETE FROM animal_images")
    execute("default", "DELETE FROM animals WHERE id > 10")
    before = checksum("railway")

    out, err, code = run("railway_sync", "--mode", "rebuild", "--confirm-destructive")

    assert code == 1
    assert (
        "Rebuild refused: local data is below the safety thresholds (animals: local has "
        "10 rows, below the rebuild threshold of 50)"
    ) in err
    assert checksum("railway") == before
    for mode in ("rebuild", "force"):
        out, err, code = run("railway_sync", "--mode", mode)
        assert code == 1
        assert (
            f"❌ Railway data sync failed: --mode {mode} replaces Railway's data and needs "
            "--confirm-destructive; nothing was touched."
        ) in err
        assert checksum("railway") == before

    out, err, code = run("railway_sync", "--mode", "force", "--confirm-destructive")

    assert code == 0, err
    assert "  animals: 0 inserted, 0 updated, 10 unchanged, 50 deleted" in out
    assert_railway_matches_local()


@DB
@pytest.mark.parametrize("mode", ["rebuild", "force"])
def test_rebuild_failing_partway_leaves_railway_unchanged(seeded, mode):
    assert run("railway_sync")[2] == 0
    execute("default", "UPDATE organizations SET name = 'renamed' WHERE id = 1")
    execute("default", "UPDATE animals SET breed = 'Rejected breed' WHERE id = 30")
    execute("railway", "DELETE FROM service_regions")  # so the rebuild has rows to write late
    # Railway rejects one animal row; organizations were already written by then.
    execute(
        "railway",
        "ALTER TABLE animals ADD CONSTRAINT no_rejected "
        "CHECK (breed IS DISTINCT FROM 'Rejected breed')",
    )
    before = checksum("railway")

    out, err, code = run("railway_sync", "--mode", mode, "--confirm-destructive")

    assert code == 1
    assert (
        "❌ Railway data sync failed: Railway rejected a row of animals: new row for relation "
        '"animals" violates check constraint "no_rejected".'
    ) in err
    assert "Railway was left unchanged" in err
    assert checksum("railway") == before


@DB
def test_incremental_failure_in_one_table_keeps_earlier_tables_and_rolls_back_that_table(seeded):
    execute("default", "UPDATE animals SET breed = 'Rejected breed' WHERE id = 30")
    execute(
        "railway",
        "ALTER TABLE animals ADD CONSTRAINT no_rejected "
        "CHECK (breed IS DISTINCT FROM 'Rejected breed')",
    )

    out, err, code = run("railway_sync")

    assert code == 1
    assert "Railway rejected a row of animals" in err
    assert "nothing in animals was written" in err
    assert table_rows("railway", "organizations") == table_rows("default", "organizations")
    assert scalar("railway", "SELECT count(*) FROM animals") == 0


@DB
def test_moved_slug_and_moved_external_id_sync_in_one_run(seeded):
    assert run("railway_sync")[2] == 0
    org = scalar("default", "SELECT organization_id FROM animals WHERE id = 5")
    execute("default", "UPDATE animals SET organization_id = %s WHERE id = 6", [org])
    assert run("railway_sync")[2] == 0
    # Animal 5 hands its slug and its (external_id, organization_id) to animal 6.
    execute("default", "UPDATE animals SET slug = 'tmp', external_id = 'tmp' WHERE id = 5")
    execute("default", "UPDATE animals SET slug = 'dog-5', external_id = 'ext-5' WHERE id = 6")
    execute("default", "UPDATE animals SET slug = 'dog-6', external_id = 'ext-6' WHERE id = 5")
    execute("default", "UPDATE organizations SET slug = 'swap' WHERE id = 1")
    execute("default", "UPDATE organizations SET slug = 'rescue-org-1' WHERE id = 2")
    execute("default", "UPDATE organizations SET slug = 'rescue-org-2' WHERE id = 1")

    out, err, code = run("railway_sync")

    assert code == 0, err
    assert "  animals: 0 inserted, 2 updated, 58 unchanged, 0 deleted" in out
    assert_railway_matches_local()


@DB
@pytest.mark.parametrize(
    ("alter", "expected"),
    [
        (
            "ALTER TABLE animals DROP COLUMN breed_group",
            "  animals.breed_group: missing on Railway (local has character varying(100))",
        ),
        (
            "ALTER TABLE scrape_logs ALTER COLUMN duration_seconds TYPE numeric(12,3)",
            "  scrape_logs.duration_seconds: type is numeric(10,2) locally but numeric(12,3) on "
            "Railway",
        ),
        (
            "ALTER TABLE organizations ALTER COLUMN city SET NOT NULL",
            "  organizations.city: NULL locally but NOT NULL on Railway",
        ),
    ],
)
def test_schema_drift_is_refused_before_any_write(seeded, alter, expected):
    execute("railway", alter)
    before = checksum("railway")

    out, err, code = run("railway_sync")

    assert code == 1
    assert (
        "❌ Railway data sync failed: Railway's columns differ from local in 1 place(s); "
        "nothing was written. Run: python manage.py railway_makemigrations && python "
        "manage.py railway_migrate"
    ) in err
    assert expected in err.splitlines()
    assert checksum("railway") == before


@DB
def test_missing_railway_table_is_refused(seeded):
    execute("railway", "DROP TABLE service_regions")

    out, err, code = run("railway_sync")

    assert code == 1
    assert (
        "❌ Railway data sync failed: Railway has no table service_regions. Run: python "
        "manage.py railway_makemigrations && python manage.py railway_migrate"
    ) in err
    assert scalar("railway", "SELECT count(*) FROM organizations") == 0


@DB
def test_sync_dry_run_reports_and_writes_nothing(seeded):
    assert run("railway_sync")[2] == 0
    execute("default", "UPDATE animals SET name = 'Renamed' WHERE id = 1")
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url) VALUES (61, 'New', 1, 'u')",
    )
    # Local deleted a scrape_log the sync put on Railway; the site added one of its own.
    execute("default", "DELETE FROM scrape_logs WHERE id = 15")
    execute(
        "railway",
        "INSERT INTO scrape_logs (id, organization_id, started_at, status) "
        "VALUES (999, 1, now(), 'x')",
    )
    before = checksum("railway")

    out, err, code = run("railway_sync", "--dry-run")

    assert code == 0, err
    assert (
        "  animals: would insert 1, update 1, leave 59 unchanged, keep 0 Railway-only, "
        "delete 0" in out.splitlines()
    )
    assert (
        "  scrape_logs: up to date, would write 0 rows (14 unchanged, 1 kept Railway-only, "
        "1 site row kept)" in out.splitlines()
    )
    assert "Guards: --mode incremental would pass." in out.splitlines()
    assert (
        "Dry run: nothing was written to Railway (it would write 2 rows and delete 0)."
        in out.splitlines()
    )
    assert out.endswith("✅ Railway data sync dry run completed\n")
    assert checksum("railway") == before

    out, err, code = run("railway_sync", "--mode", "rebuild", "--dry-run")

    assert code == 0, err
    assert (
        "  scrape_logs: would insert 0, update 0, leave 14 unchanged, keep 0 Railway-only, "
        "delete 1, 1 site row kept" in out.splitlines()
    )
    assert "--mode rebuild would also need --confirm-destructive." in out.splitlines()
    assert checksum("railway") == before

    out, err, code = run("railway_sync", "--mode", "rebuild", "--discard-railway-rows", "--dry-run")

    assert code == 0, err
    assert (
        "  scrape_logs: would insert 0, update 0, leave 14 unchanged, keep 0 Railway-only, "
        "delete 2" in out.splitlines()
    )
    assert checksum("railway") == before


@DB
def test_migrate_dry_run_and_second_run(seeded):
    run("migrate", "railway_sync", "zero", "--database", "railway", "--verbosity", "0")

    out, err, code = run("railway_migrate", "--dry-run")

    assert code == 0, err
    assert (
        "Would apply 8 migration(s) to Railway:\n  railway_sync.0001_initial\n  railway_sync.0002_history_and_admin\n  railway_sync.0003_sync_state\n  railway_sync.0004_state_local_position\n  railway_sync.0005_owned_rows\n  railway_sync.0006_pull_state\n  railway_sync.0007_run_cycles\n  railway_sync.0008_quiet_syncs\n"
        in out
    )
    assert 'CREATE TABLE "animals" (' in out.splitlines()
    assert out.rstrip().endswith("Dry run: nothing was changed on Railway.")
    assert scalar("railway", "SELECT to_regclass('animals')") is None

    out, err, code = run("railway_migrate")
    assert code == 0, err
    assert "✅ Railway database migration completed successfully" in out
    assert scalar("railway", "SELECT to_regclass('animals')") is not None
    assert scalar("default", "SELECT count(*) FROM animals") == 60  # local untouched
    # Each synced table notes its writes in Railway's write log (railway_sync.pg.write_log).
    assert fetch(
        "railway",
        "SELECT array_agg(tgrelid::regclass::text ORDER BY tgrelid::regclass::text), "
        "bool_and(tgenabled = 'A') "
        "FROM pg_trigger WHERE tgname = 'railway_sync_write_log'",
    ) == [(sorted(SYNCED_TABLES), True)]

    out, err, code = run("railway_migrate")
    assert code == 0, err
    assert out.splitlines()[-1] == "✅ Railway schema is up to date: no migrations to apply"


@DB
def test_setup_dry_run_changes_nothing(seeded):
    run("migrate", "railway_sync", "zero", "--database", "railway", "--verbosity", "0")

    out, err, code = run("railway_setup", "--dry-run")

    assert code == 0, err
    assert (
        "  Would apply 8 migration(s): railway_sync.0001_initial, "
        "railway_sync.0002_history_and_admin, railway_sync.0003_sync_state, "
        "railway_sync.0004_state_local_position, railway_sync.0005_owned_rows, "
        "railway_sync.0006_pull_state, railway_sync.0007_run_cycles, "
        "railway_sync.0008_quiet_syncs" in out
    )
    assert "  animals: would insert 60, update 0, leave 0 unchanged" in out
    assert "✅ Railway setup dry run completed: nothing was changed on Railway" in out
    assert scalar("railway", "SELECT to_regclass('animals')") is None


@DB
def test_batch_size_splits_writes_and_rejects_non_positive(seeded):
    out, err, code = run("railway_sync", "--batch-size", "7")
    assert code == 0, err
    assert_railway_matches_local()
    for bad in ("0", "-3", "many"):
        out, err, code = run("railway_sync", "--batch-size", bad)
        assert code != 0
        assert "--batch-size" in err


@DB
def test_status_reports_content_mismatch_with_equal_counts(seeded):
    assert run("railway_sync")[2] == 0
    execute("railway", "UPDATE animals SET name = 'Tampered' WHERE id = 7")

    out, err, code = run("railway_status", "--check")

    assert code == 1
    assert "  animals: 60 → 60 (⚠ 1 differ)" in out
    assert "⚠ Data mismatch detected" in out
    assert "Recommendation: Run: python manage.py railway_sync" in out
    assert "⚠ Local and Railway databases are not in sync" in err

    assert run("railway_sync")[2] == 0
    out, err, code = run("railway_status", "--check")
    assert code == 0, err
    assert "✅ Local and Railway databases are in sync" in out


@DB
def test_skip_validation_writes_and_says_it_skipped(seeded):
    out, err, code = run("railway_sync", "--skip-validation")

    assert code == 0, err
    assert "Verification skipped (--skip-validation)." in out
    assert "Verified:" not in out
    assert_railway_matches_local()


@DB
def test_verbosity_zero_is_silent_and_two_shows_progress(seeded):
    out, err, code = run("railway_sync", "--verbosity", "0")
    assert (out, err, code) == ("", "", 0)

    execute("default", "UPDATE animals SET name = 'Changed' WHERE id = 9")
    out, err, code = run("railway_sync", "--verbosity", "2")

    assert code == 0, err
    assert "  animals: 0 inserted, 1 updated, 59 unchanged, 0 deleted (" in out
    assert "] write animals 0/1" in err
    assert "] verify animals" in err

    out, err, code = run("railway_sync", "--mode", "bogus", "--verbosity", "0")
    assert code == 1
    assert "invalid choice: 'bogus'" in err


@DB
def test_setup_on_an_adopted_railway_keeps_site_rows_and_says_so(seeded):
    execute("railway", "INSERT INTO organizations (id, name, website_url) VALUES (99, 's', 'w')")

    out, err, code = run("railway_setup")

    assert code == 0, err
    assert "⚠ Railway keeps 1 rows that are not in local (the site's rows)." in out
    assert out.rstrip().endswith("✅ Railway setup completed successfully")
    assert scalar("railway", "SELECT name FROM organizations WHERE id = 99") == "s"
