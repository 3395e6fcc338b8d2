"""What a sync says when a database fails under it: which database, what happened, the fix.

Every failure here is raised by the real servers (statement timeouts, deadlocks, serialization
failures, terminated sessions, deferred constraints), provoked in an order the test controls
rather than by racing the clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from django.db.utils import Error

from railway_sync.errors import (
    ConnectionFailed,
    OutOfResources,
    PermissionMissing,
    QueryFailed,
    RailwaySyncError,
    StatementCancelled,
    TransactionConflict,
    WriteFailed,
)
from railway_sync.pg import driver, failures
from tests.conftest import (
    DB,
    checksum,
    database_url,
    execute,
    run,
    run_process,
)
from tests.helpers import blocked_by, both_urls, raw_connection, start_manage_py, wait_for

# Long enough for every other statement of a sync on a busy machine; only a read of the
# locked table reaches it.
STATEMENT_TIMEOUT = "?options=-c%20statement_timeout%3D5000"


@pytest.fixture
def synced(seeded) -> Iterator[None]:
    """Railway holds the local rows; then every local organization changes, so the next
    incremental sync has rows to write, starting with organizations."""
    assert run("railway_sync")[2] == 0
    execute("default", "UPDATE organizations SET city = city || ' (moved)'")
    yield


@pytest.fixture
def locked_animals() -> Iterator[Callable[[str], object]]:
    """Hold ACCESS EXCLUSIVE on ``animals`` of a database, from a session of the test's own."""
    holders = []

    def lock(alias: str):
        holder = raw_connection(alias, autocommit=False)
        holder.cursor().execute("LOCK TABLE animals IN ACCESS EXCLUSIVE MODE")
        holders.append(holder)
        return holder

    yield lock
    for holder in holders:
        holder.rollback()
        holder.close()


@DB
def test_a_local_statement_timeout_names_the_local_database(synced, locked_animals):
    before = checksum("railway")
    # The sync waits on the locked local table (first while reading its shape, to check every
    # local schema change is migrated) until its 5 s statement_timeout (set in DATABASE_URL,
    # below the 600 s lock timeout) cancels the statement.
    locked_animals("default")
    env = both_urls(
        DATABASE_URL=database_url("default") + STATEMENT_TIMEOUT, RAILWAY_LOCK_TIMEOUT="600"
    )

    out, err, code = run_process("railway_sync", env=env)

    assert code == 1
    assert err == (
        "❌ Railway data sync failed: The local database cancelled a statement "
        "during the sync: canceling statement due to statement timeout (nothing was "
        "written). Raise statement_timeout for the user in DATABASE_URL, or run the sync "
        "again.\n"
    )
    assert checksum("railway") == before


@DB
def test_a_railway_statement_timeout_names_railway(synced, locked_animals):
    before = checksum("railway")
    holder = locked_animals("railway")
    env = both_urls(
        RAILWAY_DATABASE_URL=database_url("railway") + STATEMENT_TIMEOUT,
        RAILWAY_LOCK_TIMEOUT="600",
    )

    out, err, code = run_process("railway_sync", env=env)

    assert code == 1
    assert err == (
        "❌ Railway data sync failed: Railway cancelled a statement while "
        "syncing animals: canceling statement due to statement timeout (nothing was written). "
        "Raise statement_timeout for the user in RAILWAY_DATABASE_URL, or run the sync again.\n"
    )
    holder.rollback()
    assert checksum("railway") == before


@DB
def test_a_terminated_local_session_is_a_lost_local_connection(synced, locked_animals):
    before = checksum("railway")
    holder = locked_animals("default")
    holder_pid = driver.backend_pid(holder)
    sync = start_manage_py("railway_sync", "--no-color", env=both_urls(RAILWAY_LOCK_TIMEOUT="600"))
    try:
        wait_for(lambda: blocked_by("default", holder_pid), "the sync to wait for local animals")
        execute("default", "SELECT pg_terminate_backend(%s)", blocked_by("default", holder_pid))
        out, err = sync.communicate(timeout=120)
    finally:
        sync.kill()

    # psycopg 3 reads the server's last words before the socket closes; psycopg2 reports
    # only that it closed.
    words = {
        "psycopg": "terminating connection due to administrator command",
        "psycopg2": "server closed the connection unexpectedly",
    }[driver.NAME]
    assert sync.returncode == 1
    assert err == (
        "❌ Railway data sync failed: Lost the connection to the local database "
        f"during the sync: {words} (nothing was "
        "written). Run the sync again once the local database is reachable (check "
        "DATABASE_URL and the network).\n"
    )
    assert checksum("railway") == before


@DB
def test_a_deadlock_on_railway_fails_the_table_and_says_run_again(synced):
    """The sync locks organizations 1-6 in id order. The test holds 3 and 6; once the sync
    waits for 3, a session locks row 1 behind the sync, then 3 is let go: the sync now waits
    for 6, closing the cycle last, so its own deadlock check ends it (the other session's
    check is an hour away)."""
    before = checksum("railway")
    cycle = raw_connection("railway", autocommit=False)
    cycle.cursor().execute("SET deadlock_timeout = '1h'")
    cycle.cursor().execute("SELECT 1 FROM organizations WHERE id = 6 FOR UPDATE")
    gate = raw_connection("railway", autocommit=False)
    gate.cursor().execute("SELECT 1 FROM organizations WHERE id = 3 FOR UPDATE")
    sync = start_manage_py("railway_sync", "--no-color", env=both_urls(RAILWAY_LOCK_TIMEOUT="600"))
    behind: list[BaseException] = []

    def lock_row_one() -> None:
        try:
            cycle.cursor().execute("SELECT 1 FROM organizations WHERE id = 1 FOR UPDATE")
        except BaseException as exc:
            behind.append(exc)

    locker = threading.Thread(target=lock_row_one, daemon=True)
    try:
        gate_pid, cycle_pid = driver.backend_pid(gate), driver.backend_pid(cycle)
        wait_for(lambda: blocked_by("railway", gate_pid), "the sync to wait for row 3")
        sync_pid = blocked_by("railway", gate_pid)[0]
        locker.start()
        wait_for(lambda: cycle_pid in blocked_by("railway", sync_pid), "row 1 to be queued")
        gate.rollback()
        out, err = sync.communicate(timeout=120)
        locker.join(timeout=120)
    finally:
        sync.kill()
        for connection in (gate, cycle):
            connection.rollback()
            connection.close()

    assert sync.returncode == 1
    assert err == (
        "❌ Railway data sync failed: Railway ended the sync's transaction to "
        "break a deadlock while syncing organizations: deadlock detected (nothing in "
        "organizations was written). Another session was locking the same rows; run the sync "
        "again.\n"
    )
    assert behind == []
    assert checksum("railway") == before


@DB
def test_a_serialization_failure_on_railway_says_run_again(synced):
    """With SERIALIZABLE as Railway's default, the sync waits for a row the test updates,
    then the test commits: the row changed after the sync's snapshot."""
    before = checksum("railway")
    writer = raw_connection("railway", autocommit=False)
    writer.cursor().execute("UPDATE organizations SET city = city WHERE id = 6")
    serializable = "?options=-c%20default_transaction_isolation%3Dserializable"
    sync = start_manage_py(
        "railway_sync",
        "--no-color",
        env=both_urls(
            RAILWAY_DATABASE_URL=database_url("railway") + serializable,
            RAILWAY_LOCK_TIMEOUT="600",
        ),
    )
    try:
        writer_pid = driver.backend_pid(writer)
        wait_for(lambda: blocked_by("railway", writer_pid), "the sync to wait for row 6")
        writer.commit()
        out, err = sync.communicate(timeout=120)
    finally:
        sync.kill()
        writer.close()

    assert sync.returncode == 1
    assert err == (
        "❌ Railway data sync failed: Railway could not serialize the sync with "
        "another session's writes while syncing organizations: could not serialize access due "
        "to concurrent update (nothing in organizations was written). Another session changed "
        "the same rows meanwhile; run the sync again.\n"
    )
    assert checksum("railway") == before


def raised_by(alias: str, sqlstate: str, message: str) -> Error:
    """The error the real server raises on ``alias`` with ``sqlstate``, as Django hands it on."""
    try:
        execute(
            alias,
            "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = %s, MESSAGE = %s; END $$",
            [sqlstate, message],
        )
    except Error as exc:
        return exc
    raise AssertionError("the server raised nothing")


RAILWAY_FULL_DISK = (
    "Railway ran out of disk space while syncing animals: could not extend file "
    '"base/1/2": No space left on device (nothing was written). Free space on Railway '
    "(delete data or upgrade the plan's volume), then run the sync again."
)


@DB
@pytest.mark.parametrize(
    ("alias", "sqlstate", "message", "kind", "line"),
    [
        (
            "railway",
            "53100",
            'could not extend file "base/1/2": No space left on device',
            OutOfResources,
            RAILWAY_FULL_DISK,
        ),
        (
            "default",
            "53100",
            'could not extend file "base/1/2": No space left on device',
            OutOfResources,
            "The local database ran out of disk space while reading animals: could not extend "
            'file "base/1/2": No space left on device (nothing was written). Free disk space '
            "on the local database's server, then run the sync again.",
        ),
        (
            "railway",
            "53200",
            "out of memory",
            OutOfResources,
            "Railway ran out of memory while syncing animals: out of memory (nothing was "
            "written). Run the sync again with a smaller --batch-size, or give Railway more "
            "memory.",
        ),
        (
            "railway",
            "53300",
            "sorry, too many clients already",
            OutOfResources,
            "Railway has no connection slots left while syncing animals: sorry, too many "
            "clients already (nothing was written). Close idle connections to Railway or raise "
            "its max_connections, then run the sync again.",
        ),
        (
            "default",
            "57014",
            "canceling statement due to statement timeout",
            StatementCancelled,
            "The local database cancelled a statement while reading animals: canceling "
            "statement due to statement timeout (nothing was written). Raise statement_timeout "
            "for the user in DATABASE_URL, or run the sync again.",
        ),
        (
            "railway",
            "40P01",
            "deadlock detected",
            TransactionConflict,
            "Railway ended the sync's transaction to break a deadlock while syncing animals: "
            "deadlock detected (nothing was written). Another session was locking the same "
            "rows; run the sync again.",
        ),
        (
            "railway",
            "57P03",
            "the database system is starting up",
            ConnectionFailed,
            "Lost the connection to Railway while syncing animals: the database system is "
            "starting up (nothing was written). Run the sync again once Railway is reachable "
            "(check RAILWAY_DATABASE_URL and the network).",
        ),
        (
            "railway",
            "08006",
            "could not receive data from client: Connection reset by peer",
            ConnectionFailed,
            "Lost the connection to Railway while syncing animals: could not receive data from "
            "client: Connection reset by peer (nothing was written). Run the sync again once "
            "Railway is reachable (check RAILWAY_DATABASE_URL and the network).",
        ),
        (
            "railway",
            "25006",
            "cannot execute INSERT in a read-only transaction",
            WriteFailed,
            "Railway accepts no writes (a read-only transaction or a replica) while syncing "
            "animals: cannot execute INSERT in a read-only transaction (nothing was written). "
            "Point RAILWAY_DATABASE_URL at the primary database, then run the sync again.",
        ),
        (
            "default",
            "42501",
            "permission denied for table animals",
            PermissionMissing,
            "The local database refused the user in DATABASE_URL (postgres) while reading "
            "animals: permission denied for table animals (nothing was written). Run on the "
            "local database as the owner: GRANT SELECT ON animals TO postgres;",
        ),
        (
            "default",
            "42P01",
            'relation "animals" does not exist',
            QueryFailed,
            'The local database failed while reading animals: relation "animals" does not '
            "exist (nothing was written). Check DATABASE_URL and that database, then run the "
            "sync again.",
        ),
    ],
    ids=[
        "railway-disk",
        "local-disk",
        "railway-memory",
        "railway-connections",
        "local-timeout",
        "railway-deadlock",
        "railway-starting",
        "railway-connection-class",
        "railway-read-only",
        "local-permission",
        "local-other",
    ],
)
def test_each_sqlstate_names_its_cause_database_and_fix(alias, sqlstate, message, kind, line):
    error = raised_by(alias, sqlstate, message)

    translated = failures.translate(error, table="animals", outcome="nothing was written")

    assert type(translated) is kind
    assert isinstance(translated, RailwaySyncError)
    assert str(translated) == line


@DB
def test_a_deferred_unique_violation_in_a_rebuild_names_its_table(seeded):
    assert run("railway_sync")[2] == 0
    # Railway has a deferrable unique key local lacks; two local organizations break it.
    execute(
        "railway",
        "ALTER TABLE organizations ADD CONSTRAINT organizations_name_key UNIQUE (name) "
        "DEFERRABLE INITIALLY DEFERRED",
    )
    execute("default", "UPDATE organizations SET name = 'Twin Rescue' WHERE id IN (2, 4)")
    before = checksum("railway")

    out, err, code = run("railway_sync", "--mode", "rebuild", "--confirm-destructive")

    assert code == 1
    assert err == (
        "❌ Railway data sync failed: Railway rejected a row of organizations: duplicate key "
        'value violates unique constraint "organizations_name_key". Key (name)=(Twin Rescue) '
        "already exists. (Railway was left unchanged; fix the row locally, or the constraint "
        "on Railway, then sync again)."
    )
    assert checksum("railway") == before
