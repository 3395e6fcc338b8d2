"""Railway's id sequences: moved past the ids the sync wrote, so the site's inserts never collide.

The production incident this prevents: ids inserted explicitly without moving the sequence
left ``scrape_logs_id_seq`` at 1133 with max(id) 1891, and every insert by the site failed.

Beyond that, each sequence is moved up to ``RAILWAY_SYNC_SITE_ID_START`` (1,000,000,000 by
default): the rows the site inserts then take ids local's own sequences will not reach, so a
site row and a new local row rarely claim the same id (a conflict, see ``ownership``).
"""

from __future__ import annotations

from django.db import connections

from railway_sync import conf
from railway_sync.sql import quote_name


def reset_sequence(alias: str, table: str, key: str = "id") -> int:
    """Move the sequence of ``table``'s primary ``key`` past its maximum and up to the site's
    id range, never backwards; return the next id (0 when the key has no sequence).

    setval is not transactional, so it only ever moves forward: a rolled-back sync may leave
    a gap in ids but can never make the site's next insert collide. The site's range starts
    at ``RAILWAY_SYNC_SITE_ID_START`` unless the sequence ends below it.
    """
    site_start = conf.site_id_start() or 1
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
                (SELECT CASE WHEN %s <= seqmax THEN %s - 1 ELSE 0 END
                 FROM pg_sequence WHERE seqrelid = %s::regclass),
                1))
            """,
            [sequence, site_start, site_start, sequence],
        )
        (value,) = cursor.fetchone()
    return int(value) + 1
