"""Streaming readers clean up after themselves: a failed pair leaves no thread and no cursor.

The admin is a long-lived process: a reader thread left blocked on its queue would hold a
named cursor (and its snapshot) on the local database until the process restarts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connections
from django.db.utils import OperationalError, ProgrammingError

from railway_sync.engine import both_sides, diff
from railway_sync.pg.columns import live_columns
from tests.conftest import DB, closed_port, execute, scalar


@pytest.fixture
def small_fetches(monkeypatch: pytest.MonkeyPatch) -> None:
    # 60 seeded animals in chunks of 5 rows overflow the 4-chunk queue: a reader nobody
    # consumes blocks on a full queue instead of finishing by itself.
    monkeypatch.setattr(both_sides, "FETCH_ROWS", 5)


@pytest.fixture
def railway_unreachable() -> Iterator[None]:
    """Railway's settings point at a closed port until the test ends."""
    connection = connections["railway"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("railway-sync-")]


def assert_local_clean() -> None:
    assert reader_threads() == []
    # The local connection answers, and no named cursor of a reader is left open on it.
    assert scalar("default", "SELECT count(*) FROM pg_cursors") == 0


@DB
def test_a_pair_whose_second_stream_fails_to_open_closes_the_first(
    seeded, small_fetches, railway_unreachable
):
    columns = live_columns("default", "animals")

    with pytest.raises(OperationalError, match="Connection refused"):
        diff.diff_table("default", "railway", "animals", columns)

    assert_local_clean()


@DB
def test_a_pair_whose_second_stream_fails_while_read_closes_the_first(seeded, small_fetches):
    columns = live_columns("default", "animals")
    execute("railway", 'ALTER TABLE "animals" DROP COLUMN "breed"')

    with pytest.raises(ProgrammingError, match='column "breed" does not exist'):
        diff.diff_table("default", "railway", "animals", columns)

    assert_local_clean()
    assert scalar("railway", "SELECT count(*) FROM pg_cursors") == 0
