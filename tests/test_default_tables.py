"""Defaults that fit today (issue 19, item 4): with RAILWAY_SYNC_TABLES unset, the tables are
those the local database has of the guide's five. Today's scrapers have four (animal_images
was dropped): every command that reads the tables says so in one warning line and goes on;
a table the setting names is still required."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from django.test import override_settings

from railway_sync import sample
from tests.conftest import DB, DEFAULT_TABLES, run, table_rows
from tests.helpers import create_today_tables, dashboard_rows, text

WARNING = (
    "⚠ The local database has no table animal_images: syncing the default tables it has, "
    "organizations, animals, scrape_logs, service_regions (set RAILWAY_SYNC_TABLES to choose "
    "the tables)."
)


@pytest.fixture
def today_local(clean, migrations_package) -> Iterator[dict[str, int]]:
    """Local as the scrapers have it today (four tables, animals with 40 columns), with rows;
    Railway fresh from railway_sync's migrations. ``migrations_package`` puts both back."""
    yield create_today_tables(
        "default", organizations=6, animals=60, scrape_logs=15, service_regions=5
    )


@DB
def test_without_the_setting_a_default_table_local_lacks_is_one_warning(today_local, admin_client):
    out, err, code = run("railway_makemigrations")

    assert code == 0, err
    assert out.splitlines()[0] == WARNING
    assert out.count(WARNING) == 1
    assert run("railway_migrate")[2] == 0

    out, err, code = run("railway_sync")

    assert code == 0, err
    lines = [re.sub(r" \(\d+\.\d\d s\)$", "", line) for line in out.splitlines()]
    assert lines[:6] == [
        "🚀 Starting Railway data sync...",
        WARNING,
        "  organizations: 6 inserted, 0 updated, 0 unchanged, 0 deleted",
        "  animals: 60 inserted, 0 updated, 0 unchanged, 0 deleted",
        "  scrape_logs: 15 inserted, 0 updated, 0 unchanged, 0 deleted",
        "  service_regions: 5 inserted, 0 updated, 0 unchanged, 0 deleted",
    ]
    for table in sample.TODAY_TABLES:
        assert table_rows("railway", table) == table_rows("default", table), table

    out, err, code = run("railway_status", "--check")

    assert (err, code) == ("", 0)
    assert out.splitlines()[0] == WARNING
    assert out.count(WARNING) == 1
    assert "✅ Local and Railway databases are in sync" in out.splitlines()

    # In the JSON documents too, as a notice.
    for command in ("railway_sync", "railway_status"):
        out, err, code = run(command, "--format", "json")
        assert code == 0, err
        assert json.loads(out)["notices"] == [WARNING[2:]]

    # The rebuild thresholds apply to the tables synced: none for the one left out.
    with override_settings(RAILWAY_SYNC_REBUILD_THRESHOLDS={"animal_images": 5}):
        out, err, code = run("railway_sync", "--mode", "rebuild", "--dry-run")
    assert code == 0, err
    assert "Guards: --mode rebuild would pass." in out.splitlines()

    # The admin's panel says so too, and lists (and browses) the tables synced.
    html = admin_client.get("/admin/").content.decode()
    assert WARNING in text(html)
    assert [row[:4] for row in dashboard_rows(html)] == [
        ["organizations", "6", "6", "in sync"],
        ["animals", "60", "60", "in sync"],
        ["scrape_logs", "15", "15", "in sync"],
        ["service_regions", "5", "5", "in sync"],
    ]
    assert "animal_images (" not in text(html)

    # Setup reads the tables at several steps: one warning still.
    out, err, code = run("railway_setup", "--dry-run")
    assert code == 0, err
    assert out.splitlines()[:2] == ["🚀 Starting Railway setup (dry run)...", WARNING]
    assert out.count(WARNING) == 1


@DB
def test_a_table_the_setting_names_is_still_required(today_local):
    named = ",".join(DEFAULT_TABLES)
    with override_settings(RAILWAY_SYNC_TABLES=named):
        out, err, code = run("railway_sync")

    assert (out.splitlines(), err, code) == (
        ["🚀 Starting Railway data sync..."],
        "❌ Railway data sync failed: The local database has no table animal_images. Check "
        "DATABASE_URL points at the scrapers' database, or RAILWAY_SYNC_TABLES.",
        1,
    )
