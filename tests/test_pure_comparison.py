"""The decisions made from facts already read, with no database: which columns differ, which
are the site's, when change tracking is trusted, what ``railway_status`` recommends, the SQL
literals a sync sends, and which option combinations a sync refuses.

These tests request no database fixture, so pytest-django refuses any query they would make.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.test import override_settings

from railway_sync.engine.options import SyncOptions
from railway_sync.engine.status import recommend
from railway_sync.engine.tracking import (
    MAX_WATERMARK_AGE,
    Watermark,
    columns_signature,
    wal_offset,
    why_untrusted,
)
from railway_sync.errors import GuardRefused
from railway_sync.pg.columns import Column
from railway_sync.pg.connection import ServerIdentity
from railway_sync.pg.sql import (
    column_list,
    id_array_literal,
    id_range,
    quote_name,
    ranges_literal,
    row_text,
)
from railway_sync.report import SyncReport, TableResult, TableStatus
from railway_sync.schema.drift import column_differences, site_columns

ID = Column("id", "bigint", True)
NAME = Column("name", "character varying(255)", True)
BREED = Column("breed", "text", False)
SLUG = Column("slug", "text", False, generated=True)


# -- drift ----------------------------------------------------------------------------------


def test_identical_columns_and_railway_only_columns_are_no_difference():
    featured = Column("featured", "boolean", False)

    assert column_differences("animals", [ID, NAME], [ID, NAME]) == []
    assert column_differences("animals", [ID, NAME], [featured, NAME, ID]) == []


def test_each_kind_of_column_difference_is_one_line():
    local = [ID, NAME, BREED, SLUG, Column("age", "integer", False)]
    railway = [
        ID,
        Column("name", "text", True),
        Column("breed", "text", True),
        Column("slug", "text", False),
    ]

    assert column_differences("animals", local, railway) == [
        "  animals.name: type is character varying(255) locally but text on Railway",
        "  animals.breed: NULL locally but NOT NULL on Railway",
        "  animals.slug: a generated column locally but a plain column on Railway",
        "  animals.age: missing on Railway (local has integer)",
    ]
    assert column_differences("animals", [Column("slug", "text", False)], [SLUG]) == [
        "  animals.slug: a plain column locally but a generated column on Railway"
    ]
    assert column_differences("animals", [Column("breed", "text", True)], [BREED]) == [
        "  animals.breed: NOT NULL locally but NULL on Railway"
    ]


def test_site_columns_are_railways_columns_the_sync_does_not_read_in_railways_order():
    featured = Column("featured", "boolean", False)
    api_token = Column("api_token", "text", False)

    assert site_columns([ID, NAME], [featured, ID, NAME, api_token]) == ("featured", "api_token")
    assert site_columns([ID, NAME], [ID, NAME]) == ()
    assert site_columns([ID, NAME], None) == ()


# -- change tracking ------------------------------------------------------------------------

SERVER = ServerIdentity(
    system_identifier=7400000000000000001,
    database_oid=16384,
    database="rescue_dogs",
    started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    wal_position="16/B374D848",
)
TRUSTED = Watermark(
    local_database="rescue_dogs#16384@5432",
    local_watermark=1000,
    railway_watermark=5000,
    railway_xid=5001,
    columns_signature="abc",
    local_system_identifier=7400000000000000001,
    local_wal_position="16/B0000000",
    record_xmin=5001,
)
NOW = {
    "identity": "rescue_dogs#16384@5432",
    "local_server": SERVER,
    "signature": "abc",
    "local_next": 1200,
    "railway_next": 5100,
}


def _with(**changes) -> Watermark:
    return Watermark(**{**TRUSTED.__dict__, **changes})


def test_a_watermark_from_this_database_cluster_and_columns_is_trusted():
    assert why_untrusted(TRUSTED, **NOW) is None
    # Nothing to compare against: a cluster that hides its identifier, an older record.
    unknown = ServerIdentity(None, 16384, "rescue_dogs", SERVER.started_at, "16/B374D848")
    assert why_untrusted(_with(local_system_identifier=None), **NOW) is None
    assert why_untrusted(TRUSTED, **{**NOW, "local_server": unknown}) is None
    assert why_untrusted(_with(railway_xid=None, record_xmin=None), **NOW) is None
    # The record's xmin is the sync's transaction id modulo 2**32.
    wrapped = _with(railway_xid=2**32 + 5001, record_xmin=5001)
    assert why_untrusted(wrapped, **NOW) is None


@pytest.mark.parametrize(
    ("state", "now", "reason"),
    [
        pytest.param(None, {}, "no earlier sync of this table is recorded", id="none"),
        pytest.param(
            TRUSTED,
            {"identity": "other#1@5432"},
            "the last sync read another local database (rescue_dogs#16384@5432, now other#1@5432)",
            id="another-database",
        ),
        pytest.param(
            _with(local_wal_position=None),
            {},
            "the last sync did not record local's WAL position (an older railway_sync)",
            id="no-wal-position",
        ),
        pytest.param(
            _with(local_system_identifier=42),
            {},
            "local database is another PostgreSQL cluster (system identifier "
            "7400000000000000001, 42 at the last sync; restored or recreated?)",
            id="another-cluster",
        ),
        pytest.param(
            _with(local_wal_position="17/0"),
            {},
            "local database went back in time (WAL 16/B374D848 < 17/0 at the last sync; "
            "restored from a backup?)",
            id="wal-went-back",
        ),
        pytest.param(
            TRUSTED,
            {"local_next": 999},
            "local transaction ids went backwards (999 < 1000 at the last sync; restored "
            "from a backup?)",
            id="local-xids-back",
        ),
        pytest.param(
            TRUSTED,
            {"local_next": 1000 + MAX_WATERMARK_AGE},
            "the last sync was more than two billion local transactions ago",
            id="local-too-old",
        ),
        pytest.param(
            TRUSTED,
            {"railway_next": 4999},
            "Railway's transaction ids went backwards (4999 < 5000 at the last sync; Railway "
            "restored from a backup?)",
            id="railway-xids-back",
        ),
        pytest.param(
            TRUSTED,
            {"railway_next": 5000 + MAX_WATERMARK_AGE},
            "the last sync was more than two billion Railway transactions ago",
            id="railway-too-old",
        ),
        pytest.param(
            TRUSTED,
            {"signature": "def"},
            "the table's columns changed since the last sync",
            id="columns-changed",
        ),
        pytest.param(
            _with(record_xmin=77),
            {},
            "Railway's record of the last sync was rewritten since it was made (Railway "
            "restored from a dump, or upgraded by one?)",
            id="record-rewritten",
        ),
    ],
)
def test_why_a_watermark_is_not_trusted(state, now, reason):
    assert why_untrusted(state, **{**NOW, **now}) == reason


def test_wal_positions_compare_as_byte_offsets():
    assert wal_offset("0/0") == 0
    assert wal_offset("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert wal_offset("16/B374D848") < wal_offset("17/0")
    assert wal_offset("9/FFFFFFFF") < wal_offset("A/0")


def test_the_columns_signature_changes_with_any_column_fact_and_marks_generated_ones():
    plain = columns_signature([ID, NAME])

    assert plain == hashlib.md5(b"id:bigint:True;name:character varying(255):True").hexdigest()
    assert columns_signature([Column("slug", "text", False, generated=True)]) == (
        hashlib.md5(b"slug:text:False:generated").hexdigest()
    )
    assert columns_signature([ID, Column("name", "text", True)]) != plain
    assert columns_signature([NAME, ID]) != plain


# -- what railway_status recommends ---------------------------------------------------------

MATCHING = TableStatus("animals", 60, 60, compared="tracked")
CONFLICTS = (
    "The site's rows on Railway hold ids that local also uses (conflicts above); syncs keep "
    "the site's row and exit 1. To let local's rows replace them, run: python manage.py "
    "railway_sync --on-conflict local"
)
REBUILD = (
    "Many rows the sync put on Railway are no longer in local. If local was rebuilt on "
    "purpose, run: python manage.py railway_sync --mode rebuild --confirm-destructive (the "
    "site's rows stay)"
)
PRUNE = (
    "Railway has rows the sync put there that local no longer has (kept by incremental "
    "syncs). To remove them, run: python manage.py railway_sync --prune"
)


@override_settings(RAILWAY_SYNC_PRUNE_MAX_SHARE=0.10)
@pytest.mark.parametrize(
    ("tables", "deep", "recommendation"),
    [
        pytest.param([MATCHING], False, "Nothing to do.", id="in-sync"),
        pytest.param([], False, "Nothing to do.", id="no-tables"),
        pytest.param(
            [MATCHING, TableStatus("animals", 60, 61, compared="tracked", conflicts=1)],
            False,
            CONFLICTS,
            id="conflicts-first",
        ),
        pytest.param(
            # 7 of the 66 rows the sync owns (67 on Railway, 1 the site's) is over 10%.
            [TableStatus("animals", 60, 67, compared="full", railway_only=7, site_rows=1)],
            False,
            REBUILD,
            id="many-gone",
        ),
        pytest.param(
            [TableStatus("animals", 60, 66, compared="full", railway_only=6, differing=1)],
            False,
            "Run: python manage.py railway_sync",
            id="few-gone-and-a-difference",
        ),
        pytest.param(
            [TableStatus("animals", 61, 60, compared="full", missing_on_railway=1)],
            True,
            "Run: python manage.py railway_sync --verify-all",
            id="deep",
        ),
        pytest.param(
            [TableStatus("animals", 60, 66, compared="full", railway_only=6)],
            False,
            PRUNE,
            id="prune",
        ),
    ],
)
def test_recommend(tables, deep, recommendation):
    assert recommend(tables, deep=deep) == recommendation


@override_settings(RAILWAY_SYNC_PRUNE_MAX_SHARE=0.5)
def test_recommend_reads_the_prune_share_when_called():
    gone = [TableStatus("animals", 60, 67, compared="full", railway_only=7)]

    assert recommend(gone) == PRUNE


def test_a_table_is_in_sync_only_when_compared_and_every_difference_is_zero():
    assert MATCHING.in_sync
    assert TableStatus("animals", 60, 62, compared="full", site_rows=2).in_sync
    assert not TableStatus("animals", 60, 60).in_sync
    assert not TableStatus("animals", None, 60, compared="full").in_sync
    assert not TableStatus("animals", 60, 61, compared="full").in_sync
    assert not TableStatus("animals", 60, 60, compared="full", differing=1).in_sync


def test_a_sync_reports_totals_count_each_table_once():
    report = SyncReport(
        "incremental",
        False,
        (
            TableResult("organizations", 5, 7, unchanged=5, refused="2 rows missing"),
            TableResult(
                "animals",
                61,
                62,
                inserted=1,
                updated=2,
                deleted=3,
                held_back=4,
                waiting_for=("organizations",),
            ),
            TableResult("animal_images", 20, 20, updated=1, conflicts=2, held_back=5),
        ),
        verified=True,
    )

    assert [table.written for table in report.tables] == [0, 6, 1]
    assert (report.written, report.rows_written, report.rows_deleted) == (7, 4, 3)
    assert (report.refused_tables, report.waiting, report.conflicts) == (
        ("organizations",),
        4,
        2,
    )


# -- SQL fragments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("animals", '"animals"'),
        ("Animals", '"Animals"'),
        ('we"ird', '"we""ird"'),
        ("a b; DROP TABLE x", '"a b; DROP TABLE x"'),
        ("", '""'),
    ],
)
def test_quote_name(name, quoted):
    assert quote_name(name) == quoted


@pytest.mark.parametrize(
    ("ids", "literal"),
    [
        ([], "'{}'::int8multirange"),
        ([5], "'{[5,6)}'::int8multirange"),
        ([1, 2, 3, 5, 7, 8], "'{[1,4),[5,6),[7,9)}'::int8multirange"),
        (range(61, 71), "'{[61,71)}'::int8multirange"),
        ([-3, -2, 0], "'{[-3,-1),[0,1)}'::int8multirange"),
        (
            [9223372036854775806, 9223372036854775807],
            "'{[9223372036854775806,)}'::int8multirange",
        ),
    ],
)
def test_ranges_literal(ids, literal):
    assert ranges_literal(ids) == literal


def test_column_lists_row_text_id_range_and_id_arrays():
    assert column_list([ID, Column('say "hi"', "text", False)]) == '"id", "say ""hi"""'
    assert column_list([ID, NAME], prefix='"t".') == '"t"."id", "t"."name"'
    assert row_text([ID, NAME], prefix="r.") == 'ROW(r."id", r."name")::text'
    assert id_range() == (
        'CASE WHEN "id" = 9223372036854775807 THEN int8range("id"::bigint, NULL) '
        'ELSE int8range("id"::bigint, "id"::bigint + 1) END'
    )
    assert id_array_literal([3, 1, 2]) == "'{3,1,2}'::bigint[]"
    assert id_array_literal([]) == "'{}'::bigint[]"


# -- the options of a sync ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"mode": "merge"},
            "Unknown mode 'merge'; choose one of incremental, rebuild, force.",
            id="mode",
        ),
        pytest.param(
            {"batch_size": 0},
            "--batch-size must be a positive number of rows, not 0.",
            id="batch-size",
        ),
        pytest.param(
            {"mode": "rebuild"},
            "--mode rebuild replaces Railway's data and needs --confirm-destructive; nothing "
            "was touched. Preview it with: python manage.py railway_sync --mode rebuild "
            "--dry-run",
            id="unconfirmed",
        ),
        pytest.param(
            {"on_conflict": "railway"},
            "Unknown --on-conflict 'railway'; choose one of report, local.",
            id="on-conflict",
        ),
        pytest.param(
            {"discard_railway_rows": True},
            "--discard-railway-rows goes with --mode rebuild or --mode force (and "
            "--confirm-destructive); nothing was touched.",
            id="discard-incremental",
        ),
        pytest.param(
            {"mode": "force", "confirm_destructive": True, "prune": True},
            "--prune goes with --mode incremental; --mode force already deletes the rows "
            "that are not in local.",
            id="prune-destructive",
        ),
    ],
)
def test_an_invalid_combination_of_options_is_refused_naming_the_fix(options, message):
    with pytest.raises(GuardRefused) as refused:
        SyncOptions(**{"batch_size": 100, **options})

    assert str(refused.value) == message


def test_valid_options_and_what_they_imply():
    default = SyncOptions(batch_size=100)
    dry_rebuild = SyncOptions(mode="rebuild", dry_run=True, batch_size=100)
    discard = SyncOptions(
        mode="force", confirm_destructive=True, discard_railway_rows=True, batch_size=100
    )

    assert (default.destructive, default.local_wins, default.verify) == (False, False, True)
    assert (default.needs_confirmation, dry_rebuild.needs_confirmation) == (False, True)
    assert (discard.destructive, discard.local_wins, discard.needs_confirmation) == (
        True,
        True,
        False,
    )
    assert SyncOptions(on_conflict="local", batch_size=100).local_wins
    assert not SyncOptions(skip_validation=True, batch_size=100).verify
    assert default.recorded() == {
        "confirm_destructive": False,
        "skip_validation": False,
        "verify_all": False,
        "prune": False,
        "on_conflict": "report",
        "on_railway_edit": "local",
        "discard_railway_rows": False,
        "batch_size": 100,
    }


@override_settings(RAILWAY_SYNC_BATCH_SIZE=250)
def test_the_batch_size_defaults_to_the_setting_when_the_options_are_made():
    assert SyncOptions().batch_size == 250
