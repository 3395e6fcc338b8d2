"""The admin as staff see it, through Django's test client."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections

from railway_sync.models import SyncRun
from tests.conftest import DB, execute, run
from tests.proxy import SilentServer


def dashboard_rows(html: str) -> list[list[str]]:
    rows = re.findall(r'<tr class="railway-table">(.*?)</tr>', html, re.S)
    return [[cell.strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)] for row in rows]


@DB
def test_dashboard_shows_counts_side_by_side_and_content_match(seeded, admin_client):
    assert run("railway_sync")[2] == 0
    execute("railway", "UPDATE animals SET name = 'Tampered' WHERE id = 3")
    execute("railway", "DELETE FROM service_regions WHERE id = 5")

    response = admin_client.get("/admin/railway_sync/syncrun/")

    assert response.status_code == 200
    html = response.content.decode()
    last_sync = SyncRun.objects.using("default").get().finished_at.strftime("%Y-%m-%d %H:%M:%S")
    assert dashboard_rows(html) == [
        ["organizations", "6", "6", "in sync", last_sync],
        ["animals", "60", "60", "out of sync: 0 missing, 1 differ, 0 only on Railway", last_sync],
        ["animal_images", "20", "20", "in sync", last_sync],
        ["scrape_logs", "15", "15", "in sync", last_sync],
        [
            "service_regions",
            "5",
            "4",
            "out of sync: 1 missing, 0 differ, 0 only on Railway",
            last_sync,
        ],
    ]
    assert "Run: python manage.py railway_sync" in html
    assert "railway_sync" in html and "incremental" in html  # the recorded run


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
    broken = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "railway",
        "USER": "u",
        "PASSWORD": "pw-not-shown",
        "HOST": "127.0.0.1",
        "PORT": 1,
        "OPTIONS": {"connect_timeout": 2},
    }
    from django.db import connections

    original = connections["railway"].settings_dict.copy()
    connections["railway"].close()
    connections["railway"].settings_dict.update(broken)
    try:
        response = admin_client.get("/admin/railway_sync/syncrun/")
        browse = admin_client.get("/admin/railway_sync/railwayanimal/")
    finally:
        connections["railway"].close()
        connections["railway"].settings_dict.clear()
        connections["railway"].settings_dict.update(original)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Railway: " in html and "Connection refused" in html
    assert "pw-not-shown" not in html
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

    response = client.get("/admin/railway_sync/syncrun/")

    assert response.status_code == 200
    assert [row[:2] for row in dashboard_rows(response.content.decode())][0] == [
        "organizations",
        "6",
    ]
    assert dashboard_rows(response.content.decode())[0][4] == "never"


@contextmanager
def railway_settings(**changes: Any) -> Iterator[None]:
    """Point the ``railway`` alias elsewhere for the duration, as a changed .env would."""
    original = connections["railway"].settings_dict.copy()
    connections["railway"].close()
    connections["railway"].settings_dict.update(changes)
    try:
        yield
    finally:
        connections["railway"].close()
        connections["railway"].settings_dict.clear()
        connections["railway"].settings_dict.update(original)


@DB
def test_admin_pages_give_up_on_a_hung_railway_within_the_admin_timeout(seeded, admin_client):
    """A host that accepts and never answers held each page for 3 attempts of the 10 s
    connect timeout; the admin waits RAILWAY_SYNC_ADMIN_TIMEOUT (3 s) once, in total."""
    hung = SilentServer()
    problem = (
        f"connection to server at &quot;127.0.0.1&quot;, port {hung.port} failed: timeout "
        "expired (No answer within 3 s: check the host and port in RAILWAY_DATABASE_URL and "
        "the network, or raise RAILWAY_ADMIN_TIMEOUT.)"
    )
    try:
        with railway_settings(HOST="127.0.0.1", PORT=hung.port, OPTIONS={"connect_timeout": 10}):
            started = time.monotonic()
            dashboard = admin_client.get("/admin/railway_sync/syncrun/")
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
