"""A row the site commits on Railway while a sync runs, at an id local also uses (issue 20):
kept as a conflict, never overwritten, never recorded as the sync's own.

The race is made deterministic with a lock, not a sleep: the test's Railway session holds
``animals`` in SHARE mode (reads pass, writes wait), starts the sync, waits until the sync's
write to ``animals`` is queued behind it (``pg_blocking_pids``), then inserts the site's rows
in that same session and commits. The sync has read ownership long before; its write is the
next thing it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from railway_sync.models import SyncRun
from tests.conftest import DB, checksum, execute, fetch, run, scalar
from tests.helpers import (
    blocked_by,
    both_urls,
    raw_connection,
    start_manage_py,
    table_line,
    wait_for,
)

NEW_LOCAL = range(61, 71)  # local's new animals, not synced yet
TAKEN = range(61, 64)  # the ids the site takes meanwhile


@pytest.fixture
def site() -> Iterator[Any]:
    """The site's session on Railway, in a transaction the test ends."""
    session = raw_connection("railway", autocommit=False)
    yield session
    session.rollback()
    session.close()


def insert_local_animals() -> None:
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url, slug) "
        "SELECT n, 'Local dog ' || n, 2, 'https://e.org/' || n, 'local-' || n "
        "FROM generate_series(%s, %s) n",
        [NEW_LOCAL[0], NEW_LOCAL[-1]],
    )


def insert_site_animals(site: Any) -> None:
    """The site's animals at ``TAKEN``, with an organization of its own (a rebuild into an
    empty Railway has not committed local's yet)."""
    site.cursor().execute(
        "INSERT INTO organizations (id, name, website_url) "
        "VALUES (900, 'Site org', 'https://site.example')"
    )
    site.cursor().execute(
        "INSERT INTO animals (id, name, organization_id, adoption_url, slug) "
        "SELECT n, 'Site dog ' || n, 900, 'https://site.example/' || n, 'site-' || n "
        "FROM generate_series(%s, %s) n",
        [TAKEN[0], TAKEN[-1]],
    )


def run_sync_in_race(
    site: Any,
    *args: str,
    meanwhile: Callable[[Any], None] = insert_site_animals,
) -> tuple[str, str, int]:
    """Run ``railway_sync *args`` in a process; when its write to Railway's animals waits
    behind ``site``'s SHARE lock, do ``meanwhile`` in that session and commit."""
    site.cursor().execute("LOCK TABLE animals IN SHARE MODE")
    pid = site.get_backend_pid()
    sync = start_manage_py(
        "railway_sync", *args, "--no-color", env=both_urls(RAILWAY_LOCK_TIMEOUT="600")
    )
    try:
        wait_for(lambda: bool(blocked_by("railway", pid)), "the sync to write animals")
        meanwhile(site)
        site.commit()
        out, err = sync.communicate(timeout=120)
    except BaseException:
        sync.kill()
        raise
    return out, err, sync.returncode


def site_animals() -> list[tuple]:
    return fetch(
        "railway",
        "SELECT id, name, slug FROM animals WHERE id BETWEEN %s AND %s ORDER BY id",
        [TAKEN[0], TAKEN[-1]],
    )


def owned_animals() -> str:
    return scalar(
        "railway", "SELECT ids::text FROM railway_sync_owned WHERE table_name = 'animals'"
    )


CONFLICT_LINES = [
    f"    ⚠ conflict: animals id {n} is the site's row on Railway (name 'Site dog {n}', slug "
    f"'site-{n}', external_id NULL); local's row (name 'Local dog {n}', slug 'local-{n}', "
    "external_id NULL) was not written"
    for n in TAKEN
]
CONFLICTS_LINE = (
    "⚠ Railway data sync kept the site's row at 3 ids that local also uses (conflicts above); "
    "everything else landed. To let local's rows replace them, run: python manage.py "
    "railway_sync --on-conflict local\n"
)
SITE_ROWS = [(n, f"Site dog {n}", f"site-{n}") for n in TAKEN]


def assert_conflicts_reported(
    out: str, err: str, code: int, animals: str, animal_images: str
) -> tuple[list[str], int]:
    """The sync kept the site's 3 animals as conflicts: exit 1 with the conflicts line, the
    ``animals`` and ``animal_images`` lines, the 3 conflict lines; (lines, first conflict's)."""
    assert (code, err) == (1, CONFLICTS_LINE)
    assert table_line(out, "animals") == animals
    assert table_line(out, "animal_images") == animal_images
    lines = out.splitlines()
    at = lines.index(CONFLICT_LINES[0])
    assert lines[at : at + 3] == CONFLICT_LINES
    return lines, at


def assert_kept_and_reported_again() -> None:
    """The next sync, with nothing changed, finds the same conflicts and writes nothing."""
    before = checksum("railway")
    out, err, code = run("railway_sync")

    assert (err, code) == (CONFLICTS_LINE.rstrip("\n"), 1)
    assert table_line(out, "animals") == (
        "  animals: 0 inserted, 0 updated, 67 unchanged, 0 deleted, 3 site rows kept, 3 conflicts"
    )
    lines = out.splitlines()
    assert lines[lines.index(CONFLICT_LINES[0]) : lines.index(CONFLICT_LINES[0]) + 3] == (
        CONFLICT_LINES
    )
    assert checksum("railway") == before
    assert site_animals() == SITE_ROWS


@DB
@pytest.mark.parametrize(
    "mode", [(), ("--mode", "rebuild", "--confirm-destructive")], ids=["incremental", "rebuild"]
)
def test_a_site_insert_committed_just_before_the_write_is_kept_as_a_conflict(seeded, site, mode):
    assert run("railway_sync")[2] == 0
    insert_local_animals()
    # A photo of local's dog 61 must not be attached to the site's dog 61.
    execute(
        "default",
        "INSERT INTO animal_images (id, animal_id, image_url) VALUES (21, 61, 'https://e/61.jpg')",
    )

    out, err, code = run_sync_in_race(site, *mode)

    lines, at = assert_conflicts_reported(
        out,
        err,
        code,
        "  animals: 7 inserted, 0 updated, 60 unchanged, 0 deleted, 3 site rows kept, 3 conflicts",
        "  animal_images: 0 inserted, 0 updated, 20 unchanged, 0 deleted, "
        "1 held back (they point at a conflict)",
    )
    assert lines[at - 1].startswith("  animals: ")
    assert "Verified: every local row is on Railway with identical content." in lines
    # The site's rows are as the site wrote them, and not the sync's; its organization, at
    # an id local lacks, is no row a rebuild must delete or verify.
    assert site_animals() == SITE_ROWS
    assert scalar("railway", "SELECT name FROM organizations WHERE id = 900") == "Site org"
    assert owned_animals() == "{[1,61),[64,71)}"
    for animal in range(64, 71):
        assert fetch("railway", "SELECT * FROM animals WHERE id = %s", [animal]) == fetch(
            "default", "SELECT * FROM animals WHERE id = %s", [animal]
        )
    assert scalar("railway", "SELECT count(*) FROM animal_images WHERE id = 21") == 0
    last_run = SyncRun.objects.using("default").order_by("-started_at").first()
    assert last_run is not None and last_run.outcome == "conflicts"
    animals = next(t for t in last_run.tables if t["table"] == "animals")
    assert (animals["conflicts"], animals["site_rows"]) == (3, 3)
    assert_kept_and_reported_again()


@DB
@pytest.mark.parametrize(
    "mode", [(), ("--mode", "rebuild", "--confirm-destructive")], ids=["incremental", "rebuild"]
)
def test_a_site_insert_into_a_table_surveyed_empty_is_kept_as_a_conflict(seeded, site, mode):
    """The first sync COPYs into empty tables; the site's rows committed before the COPY of
    animals make it fail, and animals is written again through the upsert, which keeps them.
    The photo of local's dog 61 is held back, and the other photos still go by COPY."""
    insert_local_animals()
    execute(
        "default",
        "INSERT INTO animal_images (id, animal_id, image_url) VALUES (21, 61, 'https://e/61.jpg')",
    )

    out, err, code = run_sync_in_race(site, *mode)

    assert_conflicts_reported(
        out,
        err,
        code,
        "  animals: 67 inserted, 0 updated, 0 unchanged, 0 deleted, 3 site rows kept, 3 conflicts",
        "  animal_images: 20 inserted, 0 updated, 0 unchanged, 0 deleted, "
        "1 held back (they point at a conflict)",
    )
    assert site_animals() == SITE_ROWS
    assert owned_animals() == "{[1,61),[64,71)}"
    assert scalar("railway", "SELECT count(*) FROM animal_images WHERE id = 21") == 0
    assert_kept_and_reported_again()


@DB
def test_on_conflict_local_writes_over_a_site_row_committed_meanwhile(seeded, site):
    """Told that local wins, the sync writes local's rows over the site's, as over any
    conflict, and owns them from then on."""
    assert run("railway_sync")[2] == 0
    insert_local_animals()

    out, err, code = run_sync_in_race(site, "--on-conflict", "local")

    assert (code, err) == (0, "")
    assert table_line(out, "animals") == (
        "  animals: 7 inserted, 3 updated, 60 unchanged, 0 deleted"
    )
    assert fetch("railway", "SELECT * FROM animals ORDER BY id") == fetch(
        "default", "SELECT * FROM animals ORDER BY id"
    )
    assert owned_animals() == "{[1,71)}"


@DB
def test_a_site_row_edited_after_it_was_found_identical_is_not_adopted(seeded, site):
    """A site row identical to local's is adopted (owned from then on) by the sync that
    finds it; edited by the site after that sync looked, it stays the site's."""
    assert run("railway_sync")[2] == 0
    insert_local_animals()
    execute("default", "DELETE FROM animals WHERE id > 61")
    (row,) = fetch("default", "SELECT t::text FROM animals t WHERE id = 61")
    execute("railway", "INSERT INTO animals SELECT (%s::animals).*", [row[0]])
    execute("default", "UPDATE animals SET name = 'Renamed' WHERE id = 5")

    def edit(session: Any) -> None:
        session.cursor().execute("UPDATE animals SET name = 'Site edit' WHERE id = 61")

    out, err, code = run_sync_in_race(site, meanwhile=edit)

    assert (code, err) == (0, "")
    assert table_line(out, "animals") == "  animals: 0 inserted, 1 updated, 60 unchanged, 0 deleted"
    assert owned_animals() == "{[1,61)}"
    assert scalar("railway", "SELECT name FROM animals WHERE id = 61") == "Site edit"

    out, err, code = run("railway_sync")

    assert code == 1
    assert table_line(out, "animals") == (
        "  animals: 0 inserted, 0 updated, 60 unchanged, 0 deleted, 1 site row kept, 1 conflict"
    )
    assert scalar("railway", "SELECT name FROM animals WHERE id = 61") == "Site edit"


def insert_site_animal_elsewhere(site: Any) -> None:
    """The site's animal 500, at an id local lacks, with an organization of its own."""
    site.cursor().execute(
        "INSERT INTO organizations (id, name, website_url) "
        "VALUES (900, 'Site org', 'https://site.example')"
    )
    site.cursor().execute(
        "INSERT INTO animals (id, name, organization_id, adoption_url, slug) "
        "VALUES (500, 'Site dog 500', 900, 'https://site.example/500', 'site-500')"
    )


@DB
@pytest.mark.parametrize(
    "mode", [(), ("--mode", "rebuild", "--confirm-destructive")], ids=["incremental", "rebuild"]
)
def test_a_site_row_at_another_id_of_a_table_copied_into_is_not_recorded_as_the_syncs(
    seeded, site, mode
):
    # The COPY into the empty animals waits behind the site, which commits a row of its own
    # at an id local lacks: the COPY then succeeds, and the sync owns exactly what it COPYed.
    out, err, code = run_sync_in_race(site, *mode, meanwhile=insert_site_animal_elsewhere)

    assert code == 0, err
    assert owned_animals() == "{[1,61)}"
    assert fetch("railway", "SELECT id, name FROM animals WHERE id = 500") == [
        (500, "Site dog 500")
    ]
    assert fetch("railway", "SELECT * FROM animals WHERE id < 500 ORDER BY id") == fetch(
        "default", "SELECT * FROM animals ORDER BY id"
    )
    out, err, code = run("railway_sync", "--prune")
    assert code == 0, err
    assert scalar("railway", "SELECT count(*) FROM animals WHERE id = 500") == 1
