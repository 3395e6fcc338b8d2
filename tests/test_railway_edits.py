"""Rows the sync owns, repaired on Railway since the last sync (issue 23): never overwritten
without a word. ``--on-railway-edit local`` (default) overwrites and names them, ``keep``
leaves Railway's version as a conflict, ``fail`` refuses before writing."""

from __future__ import annotations

import json

from railway_sync.models import SyncRun
from tests.conftest import DB, checksum, execute, fetch, run

REPAIRED = "SELECT id, name FROM animals WHERE id IN (17, 30) ORDER BY id"


def repaired_in_production() -> None:
    """Synced twice (so the next sync is tracked), then two animals repaired on Railway, one
    of them edited locally too, and another local change elsewhere."""
    assert run("railway_sync")[2] == 0
    assert run("railway_sync")[2] == 0
    execute("railway", "UPDATE animals SET name = 'Repaired in production' WHERE id IN (17, 30)")
    execute("default", "UPDATE animals SET name = 'Renamed by a scraper' WHERE id = 30")
    execute("default", "UPDATE organizations SET name = 'Local change' WHERE id = 2")


def animals_entry(out: str) -> dict:
    return next(t for t in json.loads(out)["tables"] if t["table"] == "animals")


@DB
def test_by_default_the_edits_are_overwritten_and_named(seeded, admin_client):
    repaired_in_production()

    out, err, code = run("railway_sync", "--dry-run", "--format", "json")
    entry = animals_entry(out)
    assert (entry["compared"], entry["railway_edits"], entry["railway_edit_ids"]) == (
        "tracked",
        2,
        [17, 30],
    )

    out, err, code = run("railway_sync")

    assert code == 0, out + err
    assert (
        "⚠ 2 rows edited on Railway since the last sync were overwritten from local: animals 17, 30"
    ) in out.splitlines()
    assert checksum("railway") == checksum("default")
    # The run history says so too, in the admin.
    latest = SyncRun.objects.using("default").first()
    page = admin_client.get(f"/admin/railway_sync/syncrun/{latest.pk}/change/").content.decode()
    assert (
        '<p class="railway-edits">2 row(s) edited on Railway since the last sync were '
        "overwritten from local: animals 17, 30</p>"
    ) in page


@DB
def test_keep_leaves_railways_version_as_a_conflict_until_it_is_resolved(seeded):
    repaired_in_production()

    out, err, code = run("railway_sync", "--on-railway-edit", "keep")

    assert code == 1
    assert err.splitlines()[-1] == (
        "⚠ Railway data sync kept 2 rows edited on Railway since the last sync as Railway has "
        "them (see above); everything else landed. Bring them home with python manage.py "
        "railway_pull, or let local's replace them: python manage.py railway_sync "
        "--on-railway-edit local"
    )
    assert fetch("railway", REPAIRED) == [
        (17, "Repaired in production"),
        (30, "Repaired in production"),
    ]
    assert fetch("railway", "SELECT name FROM organizations WHERE id = 2") == [("Local change",)]

    # Still named by the next sync: kept edits do not move the watermark past them.
    out, err, code = run("railway_sync", "--on-railway-edit", "keep", "--format", "json")
    assert code == 1
    assert animals_entry(out)["railway_edits_kept"] == 2
    assert json.loads(out)["outcome"] == "conflicts"


@DB
def test_fail_refuses_before_anything_is_written(seeded):
    repaired_in_production()
    railway = checksum("railway")

    out, err, code = run("railway_sync", "--on-railway-edit", "fail")

    assert code == 1
    assert err.splitlines()[-1] == (
        "❌ Railway data sync failed: 2 rows edited on Railway since the last sync would be "
        "overwritten from local: animals 17, 30; nothing was written. Bring them home with "
        "python manage.py railway_pull, keep Railway's with --on-railway-edit keep, or "
        "overwrite them with --on-railway-edit local."
    )
    assert checksum("railway") == railway
