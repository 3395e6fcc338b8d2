"""The operator's first minute: the README's steps on fresh databases, and the logs a cron job
keeps (RAILWAY_SYNC_LOG_LEVEL)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from railway_sync import sample
from railway_sync.pg import driver, embedded
from tests.conftest import DB, PASSWORD, PROJECT_DIR, run_process
from tests.helpers import both_urls

README = (PROJECT_DIR / "README.md").read_text()
FRESH_LOCAL = "railway_sync_readme_local"
FRESH_RAILWAY = "railway_sync_readme_railway"


def for_real_steps() -> list[list[str]]:
    """The commands of the README's "To use it for real" block, as argument lists."""
    block = README.split("To use it for real", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    steps = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        assert words[:2] == [".venv/bin/python", "manage.py"], line
        steps.append(words[2:])
    return steps


@pytest.fixture
def fresh_databases() -> Iterator[dict[str, str]]:
    """A local database holding only the scrapers' tables and a few rows (nothing of Django's),
    and an empty Railway: what a new user starts from."""
    connections["default"].ensure_connection()
    socket_dir = Path(connections["default"].settings_dict["HOST"])
    for name in (FRESH_LOCAL, FRESH_RAILWAY):
        embedded.drop_database(socket_dir, name)
        embedded.ensure_database(socket_dir, name)
    local = driver.connect(host=str(socket_dir), user=embedded.SUPERUSER, dbname=FRESH_LOCAL)
    try:
        with local, local.cursor() as cursor:
            cursor.execute(sample.SOURCE_SCHEMA.read_text())
            cursor.execute(
                "INSERT INTO organizations (name, website_url) VALUES ('Rescue', 'https://r.org')"
            )
    finally:
        local.close()
    yield {
        "DATABASE_URL": embedded.database_url(socket_dir, FRESH_LOCAL),
        "RAILWAY_DATABASE_URL": embedded.database_url(socket_dir, FRESH_RAILWAY),
    }
    for name in (FRESH_LOCAL, FRESH_RAILWAY):
        embedded.drop_database(socket_dir, name)


@DB
def test_the_readme_steps_work_as_written_and_record_history(fresh_databases):
    steps = for_real_steps()
    assert steps[0] == ["migrate"]  # before anything that records a run

    for step in steps:
        out, err, code = run_process(*step, env=fresh_databases)
        assert code == 0, (step, out, err)
        assert "Sync history not recorded" not in out + err, step
    assert out.splitlines()[-1].startswith("✅ Railway data sync completed successfully")


def normalise_times(text: str) -> str:
    return re.sub(r"\d+\.\d\d s", "… s", text)


@DB
def test_info_logs_one_line_per_phase_with_its_time(seeded):
    out, err, code = run_process("railway_sync", env=both_urls(RAILWAY_SYNC_LOG_LEVEL="INFO"))

    assert code == 0
    tables = ("organizations", "animals", "animal_images", "scrape_logs", "service_regions")
    assert normalise_times(err).splitlines() == [
        "railway_sync: schema took … s",
        # Every table is planned before the first is written (one plan per sync).
        *(f"railway_sync: diff {table} took … s" for table in tables),
        *(
            f"railway_sync: {phase} {table} took … s"
            for table in tables
            for phase in ("write", "verify")
        ),
        "railway_sync: finished in … s",
    ]
    # The default level, WARNING, logs none of it.
    assert run_process("railway_sync", env=both_urls())[1:] == ("", 0)


@DB
def test_info_logs_how_a_failed_command_ended(seeded):
    out, err, code = run_process(
        "railway_sync", "--mode", "force", env=both_urls(RAILWAY_SYNC_LOG_LEVEL="INFO")
    )

    assert code == 1
    assert normalise_times(err).splitlines()[0] == "railway_sync: failed in … s"


@DB
def test_debug_logs_sql_and_never_the_password(seeded, password_role):
    url = password_role.format(password=PASSWORD)
    env = both_urls(RAILWAY_DATABASE_URL=url, RAILWAY_SYNC_LOG_LEVEL="DEBUG")

    out, err, code = run_process("railway_sync", env=env)

    assert code == 0, err
    assert re.search(r"^\(\d+\.\d{3}\) SELECT ", err, re.M)  # Django's SQL lines
    assert "railway_sync: finished in" in err
    assert PASSWORD not in out + err
