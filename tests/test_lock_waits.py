"""A table another session keeps locked, on either database, in every command and the admin
(issue 20): each gives up after RAILWAY_LOCK_TIMEOUT with one line naming the side, the table
and the session holding it, exits 1, and leaves both databases as they were.

The lock is taken by a session of the test's own before the command starts, so nothing here
races the clock: the subprocess timeout (60 s for a 2 s lock timeout) only catches a hang.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from railway_sync.pg import driver
from tests.conftest import DB, checksum, run_process
from tests.helpers import both_urls, raw_connection, text

LOCK_TIMEOUT = "2"
HOLDER = "lock-holder"
SIDE = {"default": "the local database", "railway": "Railway"}
TABLE = {"default": "The local table", "railway": "Railway table"}


def env() -> dict[str, str]:
    return both_urls(RAILWAY_LOCK_TIMEOUT=LOCK_TIMEOUT)


class Holders:
    """Sessions of the test's own, named ``lock-holder``, each holding ACCESS EXCLUSIVE on a
    table of a database."""

    def __init__(self) -> None:
        self.sessions: dict[int, Any] = {}

    def __call__(self, alias: str, table: str) -> int:
        """Lock ``table`` on ``alias``; the holding session's backend pid."""
        holder = raw_connection(alias, autocommit=False, application_name=HOLDER)
        holder.cursor().execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        pid = int(driver.backend_pid(holder))
        self.sessions[pid] = holder
        return pid

    def release(self, pid: int) -> None:
        holder = self.sessions.pop(pid)
        holder.rollback()
        holder.close()


@pytest.fixture
def locked() -> Iterator[Holders]:
    holders = Holders()
    yield holders
    for pid in list(holders.sessions):
        holders.release(pid)


def lock_line(failure: str, alias: str, table: str, pid: int, outcome: str, seconds: str) -> str:
    """The whole line a command prints when ``table`` on ``alias`` stayed locked by the
    test's session ``pid``, as a pattern (how long it was held and the time vary)."""
    user = connections[alias].settings_dict["USER"]
    return (
        re.escape(
            f"{failure}: {TABLE[alias]} {table} is locked by another session; gave up after "
            f"{seconds} s (RAILWAY_LOCK_TIMEOUT){outcome}. Held by pid {pid} on {SIDE[alias]} "
            f"(user {user}, application {HOLDER}; AccessExclusiveLock in a transaction open "
        )
        + r"\d+ s; its last query started \d\d:\d\d:\d\d UTC: "
        + re.escape(
            f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE). Run it again once that session "
            f"ends, or end it with SELECT pg_terminate_backend({pid}) on {SIDE[alias]}."
        )
    )


COMMANDS = {
    "railway_sync": ("❌ Railway data sync failed", " and nothing was written"),
    "railway_status": ("❌ Railway status failed", ""),
    "railway_setup": ("❌ Railway setup failed", " and nothing was written"),
}


@DB
@pytest.mark.parametrize("alias", ["default", "railway"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_locked_table_fails_every_command_within_the_lock_timeout_naming_its_holder(
    pending, locked, alias, command
):
    before = checksum("default"), checksum("railway")
    pid = locked(alias, "animals")

    out, err, code = run_process(command, env=env(), timeout=60)
    locked.release(pid)

    failure, outcome = COMMANDS[command]
    assert code == 1, out
    assert re.fullmatch(lock_line(failure, alias, "animals", pid, outcome, "2") + "\n", err), err
    assert (checksum("default"), checksum("railway")) == before
    # Once the lock is gone, the next routine sync is all it takes.
    assert run_process("railway_sync", env=env(), timeout=60)[2] == 0
    assert run_process("railway_status", "--check", env=env(), timeout=60)[2] == 0


@DB
@pytest.mark.parametrize("table", ["django_migrations", "railway_sync_state", "railway_sync_owned"])
def test_railway_bookkeeping_tables_locked_are_named_too(pending, locked, table):
    before = checksum("default"), checksum("railway")
    pid = locked("railway", table)

    for command in ("railway_sync", "railway_status"):
        out, err, code = run_process(command, env=env(), timeout=60)

        failure, outcome = COMMANDS[command]
        assert code == 1, out
        assert re.fullmatch(lock_line(failure, "railway", table, pid, outcome, "2") + "\n", err)
    locked.release(pid)
    assert (checksum("default"), checksum("railway")) == before


@DB
def test_railway_migrate_gives_up_on_a_locked_migration_table(pending, locked):
    pid = locked("railway", "django_migrations")

    out, err, code = run_process("railway_migrate", env=env(), timeout=60)

    assert code == 1, out
    assert re.fullmatch(
        lock_line(
            "❌ Railway database migration failed",
            "railway",
            "django_migrations",
            pid,
            " and Railway's schema was left as it was",
            "2",
        )
        + "\n",
        err,
    ), err


@DB
def test_admin_pages_give_up_on_a_locked_table_naming_it(pending, locked, admin_client, settings):
    settings.RAILWAY_SYNC_LOCK_TIMEOUT = 1
    for alias, page in (
        ("default", "/admin/railway_sync/animal/"),
        ("railway", "/admin/railway_sync/railwayanimal/"),
    ):
        pid = locked(alias, "animals")
        line = lock_line("X", alias, "animals", pid, "", "1").removeprefix(re.escape("X: "))

        browse = admin_client.get(page)
        table = admin_client.get(
            f"/admin/railway_sync/syncrun/tables/{'local' if alias == 'default' else alias}"
            "/animals/"
        )
        index = admin_client.get("/admin/")

        for response in (browse, table):
            assert response.status_code == 200
            (problem,) = re.findall(
                r'<p class="errornote">This database cannot be read right now: (.*?)</p>',
                response.content.decode(),
                re.S,
            )
            assert re.fullmatch(line, text(problem)), text(problem)
        assert index.status_code == 200
        assert re.search(r"Railway: " + line, text(index.content.decode())), text(
            index.content.decode()
        )
        locked.release(pid)
