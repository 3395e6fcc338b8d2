"""Partial success, as the guide promises (issue 19, item 5): in incremental mode a table whose
guard refuses is left as it was and named with its fix, every other table syncs in its own
transaction, rows that need the refused table's new rows wait with it, and the run exits 1
without calling itself a success."""

from __future__ import annotations

import json

from railway_sync.models import SyncRun
from tests.conftest import DB, checksum, execute, fetch, run, table_rows
from tests.helpers import run_rows, without_timing

ORGANIZATIONS_REFUSED = (
    "  organizations: refused, left as it was: rows the sync put on Railway are missing "
    "locally (local has {} rows but Railway has {} synced rows, 1 of them not in local)"
)
PRUNE_FIX = (
    "    ⚠ If local deleted these rows on purpose, run: python manage.py railway_sync --prune "
    "--confirm-destructive (it deletes only rows the sync put there)."
)


@DB
def test_a_cascade_deleting_one_of_six_rows_refuses_that_table_alone(seeded):
    """The issue's case: the scrapers delete 1 of 6 organizations (moving its dogs and logs
    first); the delete cascades to its service region, 1 of 6. Both tables are refused; the
    updates and inserts of the other tables land."""
    execute("default", "INSERT INTO service_regions (organization_id, country) VALUES (6, 'IE')")
    assert run("railway_sync")[2] == 0
    execute("default", "UPDATE animals SET organization_id = 5 WHERE organization_id = 6")
    execute("default", "UPDATE scrape_logs SET organization_id = 5 WHERE organization_id = 6")
    execute("default", "DELETE FROM organizations WHERE id = 6")  # cascades to its region
    execute("default", "UPDATE organizations SET name = 'Renamed' WHERE id = 2")
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url) "
        "VALUES (61, 'New dog', 1, 'https://e.org/61')",
    )
    organizations = table_rows("railway", "organizations")
    regions = table_rows("railway", "service_regions")

    out, err, code = run("railway_sync")

    assert code == 1
    assert err == (
        "⚠ Railway data sync refused organizations, service_regions (see above) and synced "
        "every other table. Run the fix named above, then sync again."
    )
    assert without_timing(out) == [
        "🚀 Starting Railway data sync...",
        ORGANIZATIONS_REFUSED.format(5, 6),
        PRUNE_FIX,
        "  animals: 1 inserted, 5 updated, 55 unchanged, 0 deleted",
        "  animal_images: up to date, 0 rows written",
        "  scrape_logs: 0 inserted, 1 updated, 14 unchanged, 0 deleted",
        "  service_regions: refused, left as it was: rows the sync put on Railway are missing "
        "locally (local has 5 rows but Railway has 6 synced rows, 1 of them not in local)",
        PRUNE_FIX,
        "Verified: every local row of the other tables is on Railway with identical content "
        "(organizations, service_regions left as it was).",
    ]
    # The refused tables as they were (the rename not written); the others as local.
    assert table_rows("railway", "organizations") == organizations
    assert table_rows("railway", "service_regions") == regions
    for table in ("animals", "animal_images", "scrape_logs"):
        assert table_rows("railway", table) == table_rows("default", table), table

    out, err, code = run("railway_sync", "--prune", "--confirm-destructive")

    assert code == 0, err
    assert checksum("railway") == checksum("default")


@DB
def test_rows_that_need_a_refused_tables_new_rows_wait_for_it(seeded, admin_client):
    execute(
        "default",
        "INSERT INTO organizations (id, name, website_url, slug) "
        "VALUES (7, 'Gone soon', 'https://7.example', 'gone-soon')",
    )
    assert run("railway_sync")[2] == 0
    # Local deletes organization 7 (1 of 7: refused), and adds organization 8 with a dog and
    # a service region: those two need it. A dog at organization 1 and an edit do not.
    execute("default", "DELETE FROM organizations WHERE id = 7")
    execute(
        "default",
        "INSERT INTO organizations (id, name, website_url, slug) "
        "VALUES (8, 'New rescue', 'https://8.example', 'new-rescue')",
    )
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url) "
        "VALUES (61, 'Needs 8', 8, 'https://e.org/61'), (62, 'At 1', 1, 'https://e.org/62')",
    )
    execute(
        "default", "INSERT INTO service_regions (id, organization_id, country) VALUES (6, 8, 'NL')"
    )
    execute("default", "UPDATE animals SET name = 'Edited' WHERE id = 1")
    before = checksum("railway")
    waiting = "they point at rows of organizations not written (refused)"

    out, err, code = run("railway_sync", "--dry-run")

    assert (err, code) == ("", 0)
    assert out.splitlines() == [
        "🚀 Starting Railway data sync... (dry run)",
        "  organizations: refused, would be left as it was: rows the sync put on Railway are "
        "missing locally (local has 7 rows but Railway has 7 synced rows, 1 of them not in "
        "local)",
        PRUNE_FIX,
        "  animals: would insert 1, update 1, leave 59 unchanged, keep 0 Railway-only, "
        f"delete 0, 1 held back ({waiting})",
        "  animal_images: up to date, would write 0 rows (20 unchanged, 0 kept Railway-only)",
        "  scrape_logs: up to date, would write 0 rows (15 unchanged, 0 kept Railway-only)",
        "  service_regions: would insert 0, update 0, leave 5 unchanged, keep 0 Railway-only, "
        f"delete 0, 1 held back ({waiting})",
        "Guards: --mode incremental would refuse organizations (see above) and pass for the "
        "other tables.",
        "Dry run: nothing was written to Railway (it would write 2 rows and delete 0).",
        "⚠ Railway data sync dry run completed: the sync would refuse organizations (see "
        "above) and sync every other table but 2 rows that wait for it",
    ]
    assert checksum("railway") == before

    out, err, code = run("railway_sync")

    assert code == 1
    assert err == (
        "⚠ Railway data sync refused organizations (see above) and synced every other table "
        "but 2 rows that wait for it. Run the fix named above, then sync again."
    )
    assert without_timing(out) == [
        "🚀 Starting Railway data sync...",
        ORGANIZATIONS_REFUSED.format(7, 7),
        PRUNE_FIX,
        f"  animals: 1 inserted, 1 updated, 59 unchanged, 0 deleted, 1 held back ({waiting})",
        "  animal_images: up to date, 0 rows written",
        "  scrape_logs: up to date, 0 rows written",
        f"  service_regions: 0 inserted, 0 updated, 5 unchanged, 0 deleted, 1 held back "
        f"({waiting})",
        "Verified: every local row of the other tables is on Railway with identical content "
        "(organizations left as it was).",
    ]
    assert fetch("railway", "SELECT id FROM organizations WHERE id > 6") == [(7,)]
    assert fetch("railway", "SELECT id, name FROM animals WHERE id IN (1, 61, 62) ORDER BY id") == [
        (1, "Edited"),
        (62, "At 1"),
    ]
    assert fetch("railway", "SELECT count(*) FROM service_regions") == [(5,)]

    # The history does not call it a success, and the admin shows it as it shows conflicts.
    last = SyncRun.objects.using("default").order_by("-started_at").first()
    assert last is not None
    assert (last.outcome, last.error) == (
        "partial",
        "Refused organizations, left as it was: rows the sync put on Railway are missing "
        "locally (local has 7 rows but Railway has 7 synced rows, 1 of them not in local). If "
        "local deleted these rows on purpose, run: python manage.py railway_sync --prune "
        "--confirm-destructive (it deletes only rows the sync put there).",
    )
    html = admin_client.get("/admin/").content.decode()
    assert '<span class="railway-badge partial">partial</span>' in html
    assert run_rows(html)[0][3] == "partial"

    # Nothing of it is forgotten: the next sync sees the same, in JSON too.
    out, err, code = run("railway_sync", "--format", "json")
    document = json.loads(out)
    assert (code, document["outcome"], document["exit_code"]) == (1, "partial", 1)
    assert document["refused_tables"] == ["organizations"]
    tables = {entry["table"]: entry for entry in document["tables"]}
    assert tables["organizations"]["refused"] == (
        "rows the sync put on Railway are missing locally (local has 7 rows but Railway has 7 "
        "synced rows, 1 of them not in local). If local deleted these rows on purpose, run: "
        "python manage.py railway_sync --prune --confirm-destructive (it deletes only rows the "
        "sync put there)."
    )
    assert [(t["table"], t["held_back"], t["waiting_for"]) for t in document["tables"]] == [
        ("organizations", 0, []),
        ("animals", 1, ["organizations"]),
        ("animal_images", 0, []),
        ("scrape_logs", 0, []),
        ("service_regions", 1, ["organizations"]),
    ]

    out, err, code = run("railway_sync", "--prune", "--confirm-destructive")

    assert code == 0, err
    assert checksum("railway") == checksum("default")
    assert run("railway_status", "--check")[2] == 0
