"""Railway's id sequences: moved past the ids the sync wrote, so the site's inserts never collide.

The production incident this prevents: ids inserted explicitly without moving the sequence
left ``scrape_logs_id_seq`` at 1133 with max(id) 1891, and every insert by the site failed.
"""

from __future__ import annotations

from django.db import connections

from railway_sync.errors import WriteFailed
from railway_sync.sql import quote_name


def reset_sequence(alias: str, table: str) -> int:
    """Move ``table``'s id sequence past max(id), never backwards; return the next id.

    setval is not transactional, so it only ever moves forward: a rolled-back sync may leave
    a gap in ids but can never make the site's next insert collide.
    """
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [quote_name(table)])
        (sequence,) = cursor.fetchone()
        if sequence is None:
            raise WriteFailed(
                f"{table}.id on Railway has no sequence, so the site's inserts would fail. "
                "Run: python manage.py railway_migrate"
            )
        cursor.execute(
            f"""
            SELECT setval(%s::regclass, GREATEST(
                (SELECT COALESCE(max(id), 0) FROM {quote_name(table)}),
                (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                 FROM {sequence}),  -- quoted by pg_get_serial_sequence
                1))
            """,
            [sequence],
        )
        (value,) = cursor.fetchone()
    return int(value) + 1
