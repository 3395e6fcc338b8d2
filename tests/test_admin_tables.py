"""Every configured table, including one added later, browsable on both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.conftest import DB, execute, run
from tests.helpers import dashboard_rows

TABLES = "organizations,animals,animal_images,scrape_logs,service_regions,photo_analysis"
CREATE = """
CREATE TABLE photo_analysis (
    analysis_id BIGSERIAL PRIMARY KEY,
    animal_id INTEGER NOT NULL REFERENCES animals(id),
    verdict TEXT
)
"""


def cells(html: str) -> tuple[list[str], list[list[str]]]:
    headers = re.findall(r"<th>(.*?)</th>", html.split('id="railway-table"', 1)[1])
    rows = re.findall(r'<tr class="railway-row">(.*?)</tr>', html, re.S)
    return headers, [re.findall(r"<td>(.*?)</td>", row) for row in rows]


@pytest.fixture
def photo_analysis(seeded) -> Iterator[None]:
    try:
        assert run("railway_sync")[2] == 0
        for alias in ("default", "railway"):
            execute(alias, CREATE)
        execute("default", "INSERT INTO photo_analysis (animal_id, verdict) VALUES (1, 'sharp')")
        execute("railway", "INSERT INTO photo_analysis (animal_id, verdict) VALUES (2, 'blurry')")
        with override_settings(RAILWAY_SYNC_TABLES=TABLES):
            yield
    finally:
        for alias in ("default", "railway"):
            execute(alias, "DROP TABLE IF EXISTS photo_analysis")


@DB
def test_a_table_added_later_is_browsable_on_both_databases(photo_analysis, admin_client):
    local = admin_client.get("/admin/railway_sync/syncrun/tables/local/photo_analysis/")
    assert local.status_code == 200
    assert cells(local.content.decode()) == (
        ["analysis_id", "animal_id", "verdict"],
        [["1", "1", "sharp"]],
    )

    execute("railway", "ALTER TABLE photo_analysis ADD COLUMN reviewed_by TEXT")
    railway = admin_client.get("/admin/railway_sync/syncrun/tables/railway/photo_analysis/")
    assert cells(railway.content.decode()) == (
        ["analysis_id", "animal_id", "verdict", "reviewed_by"],
        [["1", "2", "blurry", "-"]],
    )

    # The status panel (on the admin index since issue 13) covers it and links both pages.
    dashboard = admin_client.get("/admin/").content.decode()
    assert [row[:3] for row in dashboard_rows(dashboard)][-1] == ["photo_analysis", "1", "1"]
    assert 'href="/admin/railway_sync/syncrun/tables/railway/photo_analysis/"' in dashboard
    assert 'href="/admin/railway_sync/syncrun/tables/local/photo_analysis/"' in dashboard


@DB
def test_only_configured_tables_can_be_browsed(seeded, admin_client):
    assert (
        admin_client.get("/admin/railway_sync/syncrun/tables/local/auth_user/").status_code == 404
    )
    assert admin_client.get("/admin/railway_sync/syncrun/tables/other/animals/").status_code == 404
    page = admin_client.get("/admin/railway_sync/syncrun/tables/local/animals/?page=2")
    assert page.status_code == 200
    headers, rows = cells(page.content.decode())
    assert headers[:2] == ["id", "name"]
    assert [row[0] for row in rows] == [str(n) for n in range(51, 61)]
