"""Railway's id sequences: moved past the ids the sync wrote, so the site's inserts never collide.

The production incident this prevents: ids inserted explicitly without moving the sequence
left ``scrape_logs_id_seq`` at 1133 with max(id) 1891, and every insert by the site failed.
"""

from __future__ import annotations

from django.db import connections

from railway_sync.sql import quote_name


def reset_sequence(alias: str, table: str, key: str = "id") -> int:
    """Move the sequence of ``table``'s primary ``key`` past its maximum, never backwards;
    return the next id (0 when the key has no sequence).

    setval is not transactional, so it only ever moves forward: a rolled-back sync may leave
    a gap in ids but can never make the site's next insert collide.
    """
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [quote_name(table), key])
        (sequence,) = cursor.fetchone()
        if sequence is None:
            # A key without a sequence (ids always given): the site's inserts name their ids.
            return 0
        cursor.execute(
            f"""
            SELECT setval(%s::regclass, GREATEST(
                (SELECT COALESCE(max({quote_name(key)}), 0) FROM {quote_name(table)}),
                (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                 FROM {sequence}),  -- quoted by pg_get_serial_sequence
                1))
            """,
            [sequence],
        )
        (value,) = cursor.fetchone()
    return int(value) + 1
