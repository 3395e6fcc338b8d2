"""What the commands print and the JSON they write, from report values built by hand: no
database, no command, just facts in and whole lines (or whole documents) out.

These tests request no database fixture, so pytest-django refuses any query they would make.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management.base import OutputWrapper
from django.core.management.color import no_style
from django.test import override_settings

from railway_sync.management import documents, render
from railway_sync.models import SyncRun
from railway_sync.report import (
    Conflict,
    ConnectionReport,
    StatusReport,
    SyncReport,
    TableResult,
    TableStatus,
)
from tests.helpers import STATUS_TABLE_KEYS, SYNC_KEYS, SYNC_TABLE_KEYS

SITE_DOG = Conflict(
    id=61,
    local={"name": "Local dog", "slug": "local-61", "external_id": None},
    railway={"name": "Site dog", "slug": "site-61", "external_id": None},
)
CONFLICT_LINE = (
    "    ⚠ conflict: animals id 61 is the site's row on Railway (name 'Site dog', slug "
    "'site-61', external_id NULL); local's row (name 'Local dog', slug 'local-61', "
    "external_id NULL) was not written"
)
ANIMALS = TableResult("animals", 61, 60, inserted=1, updated=5, unchanged=55, seconds=0.123)
IMAGES = TableResult("animal_images", 20, 20, unchanged=20, seconds=0.004)
REFUSED_LOGS = TableResult(
    "scrape_logs",
    12,
    15,
    unchanged=12,
    refused="rows the sync put on Railway are missing locally",
    refused_fix="Run: python manage.py railway_sync --prune --confirm-destructive",
)


def rendered(render_function, report, verbosity: int = 1) -> list[str]:
    """The lines ``render_function`` writes for ``report``, as a command's stdout gets them."""
    stream = StringIO()
    render_function(OutputWrapper(stream), no_style(), report, verbosity)
    return stream.getvalue().splitlines()


# -- one table's sync line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "dry_run", "verbosity", "line"),
    [
        pytest.param(
            ANIMALS,
            False,
            1,
            "  animals: 1 inserted, 5 updated, 55 unchanged, 0 deleted (0.12 s)",
            id="written",
        ),
        pytest.param(
            TableResult("animals", 60, 63, inserted=2, unchanged=58, kept=3, deleted=1),
            False,
            1,
            "  animals: 2 inserted, 0 updated, 58 unchanged, 1 deleted, 3 kept Railway-only "
            "(0.00 s)",
            id="written-with-kept",
        ),
        pytest.param(
            IMAGES, False, 1, "  animal_images: up to date, 0 rows written (0.00 s)", id="idle"
        ),
        pytest.param(
            TableResult("animals", 60, 62, unchanged=60, kept=2, seconds=1.5),
            False,
            1,
            "  animals: up to date, 0 rows written, 2 kept Railway-only (1.50 s)",
            id="idle-with-kept",
        ),
        pytest.param(
            TableResult("animals", 60, 60, unchanged=60, seconds=0.3, compared="tracked"),
            False,
            2,
            "  animals: up to date, 0 rows written (0.30 s) [tracked comparison]",
            id="verbosity-2-names-the-comparison",
        ),
        pytest.param(
            ANIMALS,
            True,
            1,
            "  animals: would insert 1, update 5, leave 55 unchanged, keep 0 Railway-only, "
            "delete 0",
            id="dry-run",
        ),
        pytest.param(
            ANIMALS,
            True,
            2,
            "  animals: would insert 1, update 5, leave 55 unchanged, keep 0 Railway-only, "
            "delete 0",
            id="dry-run-verbosity-2-says-no-time",
        ),
        pytest.param(
            IMAGES,
            True,
            1,
            "  animal_images: up to date, would write 0 rows (20 unchanged, 0 kept Railway-only)",
            id="dry-run-idle",
        ),
        pytest.param(
            TableResult(
                "animals", 67, 70, inserted=7, unchanged=60, site_rows=3, conflicts=3, seconds=0.2
            ),
            False,
            1,
            "  animals: 7 inserted, 0 updated, 60 unchanged, 0 deleted, 3 site rows kept, "
            "3 conflicts (0.20 s)",
            id="site-rows-and-conflicts",
        ),
        pytest.param(
            TableResult("animals", 60, 61, unchanged=60, site_rows=1, conflicts=1),
            False,
            1,
            "  animals: 0 inserted, 0 updated, 60 unchanged, 0 deleted, 1 site row kept, 1 conflict "
            "(0.00 s)",
            id="a-conflict-is-not-up-to-date",
        ),
        pytest.param(
            TableResult("animals", 60, 63, unchanged=60, site_rows=3),
            False,
            1,
            "  animals: up to date, 0 rows written, 3 site rows kept (0.00 s)",
            id="site-rows-alone-are-up-to-date",
        ),
        pytest.param(
            TableResult("animal_images", 21, 20, unchanged=20, held_back=1),
            False,
            1,
            "  animal_images: 0 inserted, 0 updated, 20 unchanged, 0 deleted, 1 held back (they "
            "point at a conflict) (0.00 s)",
            id="held-back-behind-a-conflict",
        ),
        pytest.param(
            TableResult(
                "animals", 61, 60, unchanged=60, held_back=2, waiting_for=("organizations",)
            ),
            False,
            1,
            "  animals: 0 inserted, 0 updated, 60 unchanged, 0 deleted, 2 held back (they point at "
            "rows of organizations not written (refused)) (0.00 s)",
            id="held-back-behind-a-refused-table",
        ),
        pytest.param(
            TableResult(
                "animals",
                61,
                60,
                unchanged=59,
                conflicts=1,
                site_rows=1,
                held_back=2,
                waiting_for=("organizations", "scrape_logs"),
            ),
            False,
            1,
            "  animals: 0 inserted, 0 updated, 59 unchanged, 0 deleted, 1 site row kept, 1 conflict, "
            "2 held back (they point at a conflict, or at rows of organizations, scrape_logs not written "
            "(refused)) (0.00 s)",
            id="held-back-behind-both",
        ),
        pytest.param(
            REFUSED_LOGS,
            False,
            1,
            "  scrape_logs: refused, left as it was: rows the sync put on Railway are missing "
            "locally",
            id="refused",
        ),
        pytest.param(
            REFUSED_LOGS,
            True,
            1,
            "  scrape_logs: refused, would be left as it was: rows the sync put on Railway are "
            "missing locally",
            id="refused-dry-run",
        ),
    ],
)
def test_sync_line(table, dry_run, verbosity, line):
    assert render.sync_line(table, dry_run, verbosity) == line


def test_conflict_lines_describe_each_row_and_count_the_rest():
    nameless = Conflict(id=62, local={}, railway={"name": "It's", "slug": None})

    lines = render.conflict_lines("animals", (SITE_DOG, nameless), 5)

    assert lines == [
        CONFLICT_LINE,
        "    ⚠ conflict: animals id 62 is the site's row on Railway (name \"It's\", slug NULL); "
        "local's row (no row) was not written",
        "    ⚠ … and 3 more conflicts in animals",
    ]
    assert render.conflict_lines("animals", (SITE_DOG,), 1) == [CONFLICT_LINE]
    assert render.conflict_lines("animals", (), 0) == []


# -- a whole sync's output ------------------------------------------------------------------


def test_a_verified_sync_prints_a_line_per_table_then_the_verdict():
    report = SyncReport(
        "incremental",
        False,
        (ANIMALS, IMAGES),
        verified=True,
        notices=("animals compared row by row: the local database was restored",),
    )

    assert rendered(render.render_sync, report) == [
        "⚠ animals compared row by row: the local database was restored",
        "  animals: 1 inserted, 5 updated, 55 unchanged, 0 deleted (0.12 s)",
        "  animal_images: up to date, 0 rows written (0.00 s)",
        "Verified: every local row is on Railway with identical content.",
    ]
    assert rendered(render.render_sync, report, verbosity=0) == []


def test_a_sync_with_a_refused_table_and_a_conflict_prints_the_fix_and_the_conflict():
    animals = TableResult("animals", 61, 61, unchanged=60, site_rows=1, conflicts=1)
    animals = TableResult(**{**animals.__dict__, "conflict_rows": (SITE_DOG,)})
    report = SyncReport("incremental", False, (animals, REFUSED_LOGS), verified=True)

    assert rendered(render.render_sync, report) == [
        "  animals: 0 inserted, 0 updated, 60 unchanged, 0 deleted, 1 site row kept, 1 conflict "
        "(0.00 s)",
        CONFLICT_LINE,
        "  scrape_logs: refused, left as it was: rows the sync put on Railway are missing locally",
        "    ⚠ Run: python manage.py railway_sync --prune --confirm-destructive",
        "Verified: every local row of the other tables is on Railway with identical content "
        "(scrape_logs left as it was).",
    ]
    assert render.conflicts_line(report) == (
        "⚠ Railway data sync kept the site's row at 1 id that local also uses (conflicts "
        "above); everything else landed. To let local's rows replace them, run: python "
        "manage.py railway_sync --on-conflict local"
    )
    assert render.refused_line(report) == (
        "⚠ Railway data sync refused scrape_logs (see above) and synced every other table. "
        "Run the fix named above, then sync again."
    )


def test_a_sync_without_verification_says_it_was_skipped():
    report = SyncReport("incremental", False, (IMAGES,), verified=False)

    assert rendered(render.render_sync, report) == [
        "  animal_images: up to date, 0 rows written (0.00 s)",
        "Verification skipped (--skip-validation).",
    ]


def test_a_dry_run_says_what_would_happen_and_that_nothing_was_written():
    report = SyncReport("incremental", True, (ANIMALS, IMAGES), verified=False)

    assert rendered(render.render_sync, report) == [
        "  animals: would insert 1, update 5, leave 55 unchanged, keep 0 Railway-only, delete 0",
        "  animal_images: up to date, would write 0 rows (20 unchanged, 0 kept Railway-only)",
        "Guards: --mode incremental would pass.",
        "Dry run: nothing was written to Railway (it would write 6 rows and delete 0).",
    ]


def test_a_dry_run_of_a_destructive_mode_into_an_empty_railway_names_every_obstacle():
    rebuild = TableResult("animals", 60, 0, inserted=60, deleted=3)
    report = SyncReport(
        "rebuild",
        True,
        (rebuild,),
        verified=False,
        guard_problems=("animals: local has 60 rows, fewer than 100",),
        needs_confirmation=True,
        schema_missing=True,
        would_refuse=True,
    )

    assert rendered(render.render_sync, report) == [
        "  animals: would insert 60, update 0, leave 0 unchanged, keep 0 Railway-only, delete 3",
        "Railway has no schema yet: railway_migrate would create it.",
        "Guards: --mode rebuild would refuse: animals: local has 60 rows, fewer than 100",
        "--mode rebuild would also need --confirm-destructive.",
        "Dry run: nothing was written to Railway (it would write 60 rows and delete 3).",
    ]


def test_a_dry_run_that_would_refuse_some_tables_names_them_and_the_rows_they_hold_back():
    organizations = TableResult("organizations", 5, 7, unchanged=5, refused="7 rows missing")
    regions = TableResult("service_regions", 5, 6, unchanged=5, refused="1 row missing")
    animals = TableResult(
        "animals", 61, 60, unchanged=60, held_back=2, waiting_for=("organizations",)
    )
    report = SyncReport("incremental", True, (organizations, regions, animals), verified=False)

    assert rendered(render.render_sync, report)[-2:] == [
        "Guards: --mode incremental would refuse organizations, service_regions (see above) "
        "and pass for the other tables.",
        "Dry run: nothing was written to Railway (it would write 0 rows and delete 0).",
    ]
    assert render.refused_line(report) == (
        "⚠ Railway data sync dry run completed: the sync would refuse organizations, "
        "service_regions (see above) and sync every other table but 2 rows that wait for them"
    )
    one_table = SyncReport("incremental", False, (organizations, animals), verified=True)
    assert render.refused_line(one_table) == (
        "⚠ Railway data sync refused organizations (see above) and synced every other table "
        "but 2 rows that wait for it. Run the fix named above, then sync again."
    )
    kept = SyncReport("incremental", True, (TableResult("animals", 3, 5, conflicts=2),), False)
    assert render.conflicts_line(kept) == (
        "⚠ Railway data sync would keep the site's row at 2 ids that local also uses "
        "(conflicts above); everything else would land. To let local's rows replace them, "
        "run: python manage.py railway_sync --on-conflict local"
    )


# -- status ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "line"),
    [
        pytest.param(
            TableStatus("animals", 60, None), "  animals: 60 → - (no table on Railway)", id="none"
        ),
        pytest.param(
            TableStatus("animals", 60, 60), "  animals: 60 → 60 (not compared)", id="not-compared"
        ),
        pytest.param(
            TableStatus("animals", 60, 60, compared="full"),
            "  animals: 60 → 60 (✅ content matches)",
            id="matches",
        ),
        pytest.param(
            TableStatus("animals", 60, 62, compared="tracked", site_rows=2),
            "  animals: 60 → 62 (✅ content matches, 2 site rows)",
            id="matches-with-site-rows",
        ),
        pytest.param(
            TableStatus(
                "animals",
                61,
                62,
                missing_on_railway=1,
                differing=2,
                railway_only=3,
                compared="tracked",
                site_rows=1,
                conflicts=1,
            ),
            "  animals: 61 → 62 (⚠ 1 conflict, 1 missing on Railway, 2 differ, 3 only on "
            "Railway, 1 site row)",
            id="every-difference",
        ),
        pytest.param(
            TableStatus("scrape_logs", 88, 413, railway_only=325, compared="full"),
            "  scrape_logs: 88 → 413 (⚠ 325 only on Railway)",
            id="only-on-railway",
        ),
    ],
)
def test_status_line(table, line):
    assert render.status_line(table) == line


def test_status_of_an_unreachable_railway_is_one_error_line():
    report = StatusReport("postgresql://u:***@h/db", False, problem="connection refused")

    assert rendered(render.render_status, report) == [
        "❌ Railway connection failed: connection refused"
    ]


def test_status_lists_tables_site_columns_and_conflicts_then_the_verdict():
    animals = TableStatus(
        "animals",
        60,
        61,
        compared="tracked",
        site_rows=1,
        conflicts=1,
        conflict_rows=(SITE_DOG,),
        site_columns=("featured",),
    )
    images = TableStatus("animal_images", 20, 20, compared="tracked")
    report = StatusReport(
        "postgresql://u:***@h/db",
        True,
        (animals, images),
        recommendation="Run: python manage.py railway_sync --on-conflict local",
    )

    assert rendered(render.render_status, report) == [
        "✅ Railway connection successful (postgresql://u:***@h/db)",
        "  animals: 60 → 61 (⚠ 1 conflict, 1 site row)",
        CONFLICT_LINE,
        "  animals.featured: only on Railway (the site's column, not synced)",
        "  animal_images: 20 → 20 (✅ content matches)",
        "⚠ Data mismatch detected",
        "Recommendation: Run: python manage.py railway_sync --on-conflict local",
    ]
    in_sync = StatusReport("h", True, (images,), recommendation="Nothing to do.")
    assert rendered(render.render_status, in_sync, verbosity=0) == [
        "✅ Railway connection successful (h)",
        "✅ Local and Railway databases are in sync",
        "Recommendation: Nothing to do.",
    ]


def test_status_that_could_not_compare_gives_the_reason_and_each_difference():
    report = StatusReport(
        "h",
        True,
        (TableStatus("animals", 60, 60),),
        problem="Railway's columns differ from local in 1 place(s)",
        details=("  animals.breed: missing on Railway (local has text)",),
        recommendation="Run: python manage.py railway_makemigrations",
    )

    assert rendered(render.render_status, report) == [
        "✅ Railway connection successful (h)",
        "  animals: 60 → 60 (not compared)",
        "⚠ Railway's columns differ from local in 1 place(s)",
        "  animals.breed: missing on Railway (local has text)",
        "Recommendation: Run: python manage.py railway_makemigrations",
    ]
    assert render.not_compared_line(report) == (
        "❌ Railway status could not compare the rows: Railway's columns differ from local in "
        "1 place(s)"
    )


def test_last_sync_lines_count_whole_minutes():
    now = dt.datetime(2026, 1, 2, 3, 4, 5)
    finished = dt.datetime(2026, 1, 2, 2, 0, 6)

    assert render.last_sync_line(finished, now) == (
        "Last successful sync: 2026-01-02 02:00:06 (63 minutes ago)"
    )
    assert render.unrecorded_sync_line(finished, now, "run: python manage.py migrate") == (
        "Last successful sync: 2026-01-02 02:00:06 (63 minutes ago), from Railway's record; "
        "local sync history is not recorded: run: python manage.py migrate"
    )
    assert render.unrecorded_sync_line(None, now, "the local database is read-only") == (
        "Local sync history is not recorded: the local database is read-only"
    )


# -- JSON documents -------------------------------------------------------------------------


def test_the_sync_document_of_a_successful_sync():
    report = SyncReport("incremental", False, (ANIMALS,), verified=True, seconds=1.23456)

    document = documents.sync_document("incremental", False, report, notices=["catalog note"])

    assert set(document) == SYNC_KEYS
    assert set(document["tables"][0]) == SYNC_TABLE_KEYS
    assert {key: value for key, value in document.items() if key != "tables"} == {
        "command": "railway_sync",
        "outcome": "success",
        "exit_code": 0,
        "mode": "incremental",
        "dry_run": False,
        "verified": True,
        "rows_written": 6,
        "rows_deleted": 0,
        "seconds": 1.235,
        "guard_problems": [],
        "refused_tables": [],
        "notices": ["catalog note"],
        "error": None,
    }
    assert document["tables"] == [
        {
            "table": "animals",
            "local_count": 61,
            "railway_count": 60,
            "inserted": 1,
            "updated": 5,
            "unchanged": 55,
            "kept": 0,
            "deleted": 0,
            "seconds": 0.123,
            "compared": "",
            "site_rows": 0,
            "conflicts": 0,
            "conflict_rows": [],
            "held_back": 0,
            "refused": None,
            "waiting_for": [],
            "railway_edits": 0,
            "railway_edits_kept": 0,
            "railway_edit_ids": [],
        }
    ]


@pytest.mark.parametrize(
    ("tables", "dry_run", "outcome", "exit_code"),
    [
        pytest.param((TableResult("animals", 3, 5, conflicts=2),), False, "conflicts", 1, id="c"),
        pytest.param((REFUSED_LOGS, TableResult("a", 1, 2, conflicts=1)), False, "partial", 1),
        pytest.param((REFUSED_LOGS, ANIMALS), True, "dry_run", 0, id="dry-run"),
    ],
)
def test_the_sync_document_outcome(tables, dry_run, outcome, exit_code):
    report = SyncReport("incremental", dry_run, tables, verified=True)

    document = documents.sync_document("incremental", dry_run, report)

    assert (document["outcome"], document["exit_code"]) == (outcome, exit_code)


def test_a_dry_run_document_writes_no_rows_and_a_refused_table_carries_its_fix():
    report = SyncReport("incremental", True, (ANIMALS, REFUSED_LOGS), verified=False)

    document = documents.sync_document("incremental", True, report)

    assert (document["rows_written"], document["rows_deleted"]) == (0, 0)
    assert document["refused_tables"] == ["scrape_logs"]
    assert document["tables"][1]["refused"] == (
        "rows the sync put on Railway are missing locally. Run: python manage.py railway_sync "
        "--prune --confirm-destructive"
    )


def test_the_sync_document_of_a_failure_has_its_error_and_guard_problems():
    document = documents.sync_document(
        "rebuild",
        False,
        None,
        error="Refused: animals has 3 rows",
        guard_problems=("animals: local has 3 rows",),
        seconds=0.5,
    )

    assert {key: value for key, value in document.items()} == {
        "command": "railway_sync",
        "outcome": "failed",
        "exit_code": 1,
        "mode": "rebuild",
        "dry_run": False,
        "verified": False,
        "rows_written": 0,
        "rows_deleted": 0,
        "seconds": 0.5,
        "guard_problems": ["animals: local has 3 rows"],
        "refused_tables": [],
        "notices": [],
        "tables": [],
        "error": "Refused: animals has 3 rows",
    }


def test_the_status_document_of_a_pair_in_sync():
    animals = TableStatus(
        "animals",
        60,
        61,
        compared="full",
        site_rows=1,
        site_columns=("featured",),
    )
    report = StatusReport("h", True, (animals,), recommendation="Nothing to do.")
    last = SyncRun(finished_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC))

    document = documents.status_document(report, last, 0)

    assert document == {
        "command": "railway_status",
        "outcome": "in_sync",
        "exit_code": 0,
        "railway": "h",
        "connected": True,
        "in_sync": True,
        "tables": [
            {
                "table": "animals",
                "local_count": 60,
                "railway_count": 61,
                "missing_on_railway": 0,
                "differing": 0,
                "railway_only": 0,
                "compared": "full",
                "in_sync": True,
                "site_rows": 1,
                "conflicts": 0,
                "conflict_rows": [],
                "site_columns": ["featured"],
            }
        ],
        "recommendation": "Nothing to do.",
        "notices": [],
        "last_successful_sync": "2026-01-02T03:04:05+00:00",
        "local_history": "recorded",
        "error": None,
    }
    assert set(document["tables"][0]) == STATUS_TABLE_KEYS


def test_the_status_document_outcomes():
    differing = TableStatus("animals", 60, 60, differing=1, compared="tracked")
    out_of_sync = documents.status_document(StatusReport("h", True, (differing,)), None, 1)
    not_compared = documents.status_document(
        StatusReport("h", True, (), problem="columns differ", details=("  animals.x: ...",)),
        None,
        1,
    )
    failed = documents.status_document(None, None, 1, error="no URL", railway="postgresql://h")

    assert (out_of_sync["outcome"], out_of_sync["in_sync"], out_of_sync["error"]) == (
        "out_of_sync",
        False,
        None,
    )
    assert (not_compared["outcome"], not_compared["error"]) == (
        "not_compared",
        "columns differ\n  animals.x: ...",
    )
    assert {key: failed[key] for key in ("outcome", "railway", "connected", "local_history")} == {
        "outcome": "failed",
        "railway": "postgresql://h",
        "connected": False,
        "local_history": None,
    }
    assert failed["error"] == "no URL"


def test_without_local_history_the_last_sync_is_railways_record():
    synced_at = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    report = StatusReport("h", True, (), railway_synced_at=synced_at)
    local_run = SyncRun(finished_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))

    document = documents.status_document(report, local_run, 0, history="read_only")

    assert (document["last_successful_sync"], document["local_history"]) == (
        "2026-03-04T05:06:07+00:00",
        "read_only",
    )


def test_the_connection_document_on_success_and_on_failure():
    report = ConnectionReport("postgresql://u:***@h/db", "PostgreSQL 18.1", "railway", 0.04567)

    assert documents.connection_document(report) == {
        "command": "railway_test_connection",
        "outcome": "success",
        "exit_code": 0,
        "railway": "postgresql://u:***@h/db",
        "server_version": "PostgreSQL 18.1",
        "database": "railway",
        "seconds": 0.046,
        "error": None,
    }
    assert documents.connection_document(
        None, error="refused", railway="postgresql://u:***@h/db", seconds=1.5
    ) == {
        "command": "railway_test_connection",
        "outcome": "failed",
        "exit_code": 1,
        "railway": "postgresql://u:***@h/db",
        "server_version": None,
        "database": None,
        "seconds": 1.5,
        "error": "refused",
    }


@override_settings(TIME_ZONE="Europe/Berlin")
def test_iso_timestamps_carry_their_offset_to_the_second():
    aware = dt.datetime(2026, 7, 1, 12, 0, 0, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-5)))

    assert documents.iso_timestamp(aware) == "2026-07-01T12:00:00-05:00"
    assert documents.iso_timestamp(dt.datetime(2026, 7, 1, 12, 0)) == "2026-07-01T12:00:00+02:00"
