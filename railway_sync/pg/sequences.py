"""Railway's id sequences: moved past the ids the sync wrote, so the site's inserts never collide.

The production incident this prevents: ids inserted explicitly without moving the sequence
left ``scrape_logs_id_seq`` at 1133 with max(id) 1891, and every insert by the site failed.

Beyond that, each sequence is moved up to ``RAILWAY_SYNC_SITE_ID_START`` (1,000,000,000 by
default): the rows the site inserts then take ids local's own sequences will not reach, so a
site row and a new local row rarely claim the same id (a conflict, see ``ownership``).
"""

from __future__ import annotations

from railway_sync import conf
from railway_sync.pg.sql import literal, quote_name


def reset_sequence_sql(
    railway: str, table: str, sequence: str | None, key: str = "id"
) -> str | None:
    """SQL moving ``sequence`` (of ``table``'s primary ``key``, quoted as
    ``pg_get_serial_sequence`` gives it; None when the key has none: the site's inserts name
    their ids) past the table's largest id and up to the site's id range, never backwards.

    setval is not transactional, so it only ever moves forward: a rolled-back sync may leave
    a gap in ids but can never make the site's next insert collide. The site's range starts
    at ``RAILWAY_SYNC_SITE_ID_START`` unless the sequence ends below it.
    """
    if sequence is None:
        return None
    site_start = int(conf.site_id_start() or 1)
    name = literal(railway, sequence)
    return f"""
        SELECT setval({name}::regclass, GREATEST(
            (SELECT COALESCE(max({quote_name(key)}), 0) FROM {quote_name(table)}),
            (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
             FROM {sequence}),
            (SELECT CASE WHEN {site_start} <= seqmax THEN {site_start} - 1 ELSE 0 END
             FROM pg_sequence WHERE seqrelid = {name}::regclass),
            1))
        """
