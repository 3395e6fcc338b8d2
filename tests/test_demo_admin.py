"""``make admin``: the admin served against the demo's stand-in Railway, with a login that works."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from django.conf import settings

from railway_sync.management.commands.railway_demo import DEMO_RAILWAY_DATABASE
from railway_sync.pg import embedded
from tests.conftest import DB, PROJECT_DIR, closed_port, database_url, run_process


def demo_env() -> dict[str, str]:
    """The project's own settings with no URLs: the demo's embedded databases."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "RAILWAY_DATABASE_URL")
    }
    environment["RAILWAY_SYNC_ENV_FILE"] = os.devnull
    return environment


@DB
def test_print_url_names_the_stand_in_railway(clean):
    # The demo's stand-in Railway is a database on the project's embedded server (the one
    # the real settings use, whichever servers the tests' aliases are on).
    socket_dir = embedded.ensure_server(settings.EMBEDDED_DATA_DIR)

    assert run_process("railway_demo", "--print-url") == (
        embedded.database_url(socket_dir, DEMO_RAILWAY_DATABASE) + "\n",
        "",
        0,
    )
    out, err, code = run_process(
        "railway_demo", "--admin", env={"DATABASE_URL": database_url("default")}
    )
    assert (out, code) == ("", 1)
    assert err == (
        "❌ Railway demo failed: the demo only runs on the embedded PostgreSQL (it would "
        "otherwise write sample rows into your database); unset DATABASE_URL, or if it comes "
        "from .env, run: RAILWAY_SYNC_ENV_FILE=/dev/null make demo\n"
    )


@DB
def test_admin_serves_the_stand_in_and_the_demo_login_works(clean):
    # make admin comes after make demo, which a fresh clone's test run has not run yet.
    out, err, code = run_process("railway_demo", env={"RAILWAY_SYNC_ENV_FILE": os.devnull})
    assert code == 0, err
    port = closed_port()
    server = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), "railway_demo", "--admin"]
        + [f"127.0.0.1:{port}", "--no-color"],
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        first_line = server.stdout.readline() if server.stdout else ""
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        login = f"http://127.0.0.1:{port}/admin/login/?next=/admin/"
        page = ""
        for _ in range(120):  # runserver's checks take a moment on a busy machine
            try:
                page = opener.open(login, timeout=10).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        (token,) = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        form = {"csrfmiddlewaretoken": token, "username": "demo", "password": "demo"}
        index = opener.open(login, urllib.parse.urlencode(form).encode(), timeout=30)
        html = index.read().decode()
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C, as a person stops it
        server.wait(timeout=60)

    assert server.returncode == 0
    assert first_line == (
        f"Serving the admin at http://127.0.0.1:{port}/admin/ against the stand-in Railway "
        f"({DEMO_RAILWAY_DATABASE}); log in as demo, password demo. Ctrl-C stops it.\n"
    )
    assert index.geturl() == f"http://127.0.0.1:{port}/admin/"
    assert "Is Railway current?" in html
    assert f"/{DEMO_RAILWAY_DATABASE}</p>" in html  # the panel reads the stand-in
