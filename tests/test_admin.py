"""The admin as staff see it, through Django's test client."""

from __future__ import annotations

import re
import time

from django.db import connections

from railway_sync.models import SyncRun
from tests.conftest import DB, execute, fetch, run, timed_out
from tests.helpers import dashboard_rows, railway_settings, run_rows, text
from tests.proxy import SilentServer


@DB
def test_index_opens_with_the_status_panel_then_recent_runs(seeded, admin_client):
    execute(
        "default",
        "INSERT INTO animals (name, organization_id, adoption_url) "
        "SELECT 'Extra ' || n, 1, 'https://example.org' FROM generate_series(1, 1000) n",
    )
    assert run("railway_sync")[2] == 0
    execute("railway", "UPDATE animals SET name = 'Tampered' WHERE id = 3")
    execute("railway", "DELETE FROM service_regions WHERE id = 5")

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    html = response.content.decode()
    assert dashboard_rows(html) == [
        ["organizations", "6", "6", "in sync", ""],
        ["animals", "1,060", "1,060", "out of sync", "1 differ"],
        ["animal_images", "20", "20", "in sync", ""],
        ["scrape_logs", "15", "15", "in sync", ""],
        ["service_regions", "5", "4", "out of sync", "1 missing on Railway"],
    ]
    page = text(html)
    assert "Is Railway current? out of sync Railway is not current." in page
    last = SyncRun.objects.using("default").get()
    assert f"Last successful sync: {last.finished_at:%Y-%m-%d %H:%M:%S} (0 minutes ago)" in page
    assert "Run: python manage.py railway_sync" in page
    assert run_rows(html) == [
        [
            f"{last.started_at:%Y-%m-%d %H:%M:%S}",
            "railway_sync",
            "incremental",
            "success",
            "1,106",
            "0",
            f"{(last.finished_at - last.started_at).total_seconds():.2f} s",
            "",
        ]
    ]
    # The panel comes before the recent runs, and both before the list of models.
    assert html.index('id="railway-panel"') < html.index('id="railway-runs"')
    assert html.index('id="railway-runs"') < html.index('id="content-main"')
    assert '<span class="railway-badge in-sync">in sync</span>' in html
    assert '<span class="railway-badge out-of-sync">out of sync</span>' in html
    assert "<svg" in html and "Rows written (last 1 runs, max 1,106 rows)" in page


@DB
def test_index_in_sync_says_so(seeded, admin_client):
    assert run("railway_sync")[2] == 0

    html = admin_client.get("/admin/").content.decode()

    assert "Is Railway current? in sync Railway is current: every row matches local." in text(html)
    assert [row[3] for row in dashboard_rows(html)] == ["in sync"] * 5


REBUILD_REFUSED = (
    "--mode rebuild replaces Railway's data and needs --confirm-destructive; nothing was "
    "touched. Preview it with: python manage.py railway_sync --mode rebuild --dry-run"
)


@DB
def test_runs_list_and_run_page_show_figures_and_runs_cannot_be_deleted(seeded, admin_client):
    assert run("railway_sync")[2] == 0
    # Local deleted a region the sync put on Railway: --prune deletes it there too.
    execute("default", "DELETE FROM service_regions WHERE id = 5")
    prune = ("--prune", "--confirm-destructive")
    assert run("railway_sync", *prune, "--dry-run")[2] == 0
    assert run("railway_sync", *prune)[2] == 0
    assert run("railway_sync", "--mode", "rebuild")[2] == 1
    runs = list(SyncRun.objects.using("default").order_by("started_at"))

    html = admin_client.get("/admin/railway_sync/syncrun/").content.decode()

    table = html.split('id="result_list"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    cells = [[text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)] for row in rows]
    durations = [row.pop(8) for row in cells]
    # Cron runs: one row each, the "syncs" column (a watch's) empty.
    assert [row[2:] for row in cells] == [
        ["rebuild", "", "", "failed", "0", "0", REBUILD_REFUSED],
        ["incremental", "", "", "success", "0", "1", ""],
        ["incremental", "", "dry run", "success", "0", "1", ""],
        ["incremental", "", "", "success", "106", "0", ""],
    ]
    assert all(re.fullmatch(r"\d+\.\d\d s", duration) for duration in durations)
    assert "icon-no.svg" not in table  # no red cross for every real run
    assert "<svg" in html  # the chart of the last runs

    page = admin_client.get(f"/admin/railway_sync/syncrun/{runs[2].pk}/change/").content.decode()
    (figures,) = re.findall(r'<table class="railway-figures">(.*?)</table>', page, re.S)
    lines = [text(row) for row in re.findall(r"<tr>(.*?)</tr>", figures, re.S)]
    assert (
        lines[0] == "table local Railway inserted updated unchanged kept deleted seconds compared"
    )
    assert re.fullmatch(r"service_regions 4 5 0 0 4 0 1 \d+\.\d\d s \w+", lines[5]), lines[5]
    assert not re.search(r"\d\.\d{5,}", text(page))  # no raw 17-digit floats

    assert admin_client.post(f"/admin/railway_sync/syncrun/{runs[0].pk}/delete/").status_code == 403
    assert SyncRun.objects.using("default").count() == 4
    assert "delete_selected" not in html


@DB
def test_row_lists_search_and_railway_parents_link_to_railway(seeded, admin_client):
    assert run("railway_sync")[2] == 0
    name = fetch("railway", "SELECT name FROM animals WHERE id = 3")[0][0]

    found = admin_client.get("/admin/railway_sync/railwayanimal/", {"q": name}).content.decode()
    none = admin_client.get("/admin/railway_sync/animal/", {"q": "no such animal"})
    detail = admin_client.get("/admin/railway_sync/railwayanimal/3/change/").content.decode()

    assert 'name="q"' in found
    assert "/admin/railway_sync/railwayanimal/3/change/" in found
    assert "0 results" in none.content.decode()
    organization = re.search(r'href="(/admin/railway_sync/\w+/\d+/change/)"', detail)
    assert organization and organization.group(1).startswith(
        "/admin/railway_sync/railwayorganization/"
    )
    assert "white-space: pre-wrap" in detail  # long JSON wraps


@DB
def test_admin_index_links_dashboard_and_both_databases(seeded, admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert "/admin/railway_sync/syncrun/" in html
    assert "/admin/railway_sync/animal/" in html
    assert "/admin/railway_sync/railwayanimal/" in html


@DB
def test_rows_of_both_databases_are_browsable_read_only(seeded, admin_client):
    assert run("railway_sync")[2] == 0
    execute("railway", "UPDATE animals SET name = 'Only on Railway name' WHERE id = 2")

    local_page = admin_client.get("/admin/railway_sync/animal/").content.decode()
    railway_page = admin_client.get("/admin/railway_sync/railwayanimal/").content.decode()
    detail = admin_client.get("/admin/railway_sync/railwayanimal/2/change/")

    assert "Only on Railway name" in railway_page
    assert "Only on Railway name" not in local_page
    assert detail.status_code == 200
    assert "Only on Railway name" in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.get("/admin/railway_sync/railwayanimal/add/").status_code == 403
    assert admin_client.post("/admin/railway_sync/railwayanimal/2/delete/").status_code == 403
    assert (
        admin_client.post("/admin/railway_sync/railwayanimal/2/change/", {"name": "x"}).status_code
        == 403
    )


@DB
def test_dashboard_renders_when_railway_is_unreachable(seeded, admin_client):
    assert run("railway_sync")[2] == 0
    last = SyncRun.objects.using("default").get()
    broken = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "railway",
        "USER": "u",
        "PASSWORD": "pw-not-shown",
        "HOST": "127.0.0.1",
        "PORT": 1,
        "OPTIONS": {"connect_timeout": 2},
    }

    original = connections["railway"].settings_dict.copy()
    connections["railway"].close()
    connections["railway"].settings_dict.update(broken)
    try:
        response = admin_client.get("/admin/")
        browse = admin_client.get("/admin/railway_sync/railwayanimal/")
    finally:
        connections["railway"].close()
        connections["railway"].settings_dict.clear()
        connections["railway"].settings_dict.update(original)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Railway: " in html and "Connection refused" in html
    assert "pw-not-shown" not in html
    # What can be known still is: local counts, the last sync.
    assert dashboard_rows(html) == [
        ["organizations", "6", "-", "unknown", ""],
        ["animals", "60", "-", "unknown", ""],
        ["animal_images", "20", "-", "unknown", ""],
        ["scrape_logs", "15", "-", "unknown", ""],
        ["service_regions", "5", "-", "unknown", ""],
    ]
    assert "Is Railway current? unknown Railway's state is unknown." in text(html)
    assert f"Last successful sync: {last.finished_at:%Y-%m-%d %H:%M:%S} (0" in text(html)
    assert browse.status_code == 200
    assert "This database cannot be read right now" in browse.content.decode()


@DB
def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/admin/railway_sync/syncrun/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@DB
def test_staff_with_view_permissions_see_the_dashboard(seeded, client, django_user_model):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    client.force_login(staff)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert "Last successful sync: never" in text(response.content.decode())
    assert [row[:2] for row in dashboard_rows(response.content.decode())][0] == [
        "organizations",
        "6",
    ]


@DB
def test_admin_pages_give_up_on_a_hung_railway_within_the_admin_timeout(seeded, admin_client):
    """A host that accepts and never answers held each page for 3 attempts of the 10 s
    connect timeout; the admin waits RAILWAY_SYNC_ADMIN_TIMEOUT (3 s) once, in total."""
    hung = SilentServer()
    problem = (
        timed_out("127.0.0.1", hung.port).replace('"', "&quot;")
        + " (No answer within 3 s: check the host and port in RAILWAY_DATABASE_URL and "
        "the network, or raise RAILWAY_ADMIN_TIMEOUT.)"
    )
    try:
        with railway_settings(HOST="127.0.0.1", PORT=hung.port, OPTIONS={"connect_timeout": 10}):
            started = time.monotonic()
            dashboard = admin_client.get("/admin/")
            dashboard_seconds = time.monotonic() - started
            started = time.monotonic()
            browse = admin_client.get("/admin/railway_sync/railwayanimal/")
            browse_seconds = time.monotonic() - started
    finally:
        hung.close()

    assert dashboard.status_code == 200
    assert f'<p class="errornote">Railway: {problem}</p>' in dashboard.content.decode()
    assert browse.status_code == 200
    assert (
        f'<p class="errornote">This database cannot be read right now: {problem}</p>'
        in browse.content.decode()
    )
    # One attempt per page, none after the 3 s were spent; generous bounds for a busy machine
    # (the old way took more than 30 s per page).
    assert len(hung.accepted) == 2
    assert dashboard_seconds < 3 + 5
    assert browse_seconds < 3 + 5


@DB
def test_admin_css_is_served_with_debug_off(admin_client, settings):
    """The README's steps (migrate, createsuperuser, runserver) give a styled admin: with
    DEBUG off and no collectstatic, whitenoise serves the admin's CSS from the app."""
    settings.DEBUG = False
    html = admin_client.get("/admin/").content.decode()
    (css_url,) = re.findall(r'href="(/static/admin/css/base\.css)"', html)

    response = admin_client.get(css_url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"--body-bg" in b"".join(response.streaming_content)
