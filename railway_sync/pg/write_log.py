"""Railway's write log: which synced tables someone wrote since the last sync looked.

A statement trigger on each synced table notes, once per transaction and table, that the
table was written (``railway_sync_writes``: the table and the writing transaction). The row
commits with the write or not at all, so a snapshot sees a table's note exactly when it sees
the change. A sync that found nothing to do removes the notes its survey saw (those visible in
that statement's snapshot), so an empty log for a table means nobody wrote it since: the next
sync need not read it (``engine.quiet``).

The trigger fires for any role and also under ``session_replication_role = replica`` (it is
``ENABLE ALWAYS``, as restore tools set that role), for INSERT, UPDATE, DELETE and TRUNCATE,
and runs as its owner (``SECURITY DEFINER``) so the site's role needs no right on the log. A
table whose trigger is missing or disabled is read as before.
"""

from __future__ import annotations

from django.db import connections

from railway_sync.pg.sql import CURRENT_SCHEMA, literal, quote_name

WRITE_LOG_TABLE = "railway_sync_writes"
TRIGGER = "railway_sync_write_log"
FUNCTION = "railway_sync_note_write"

# Migration 0008 creates these on Railway; ``install_sql`` adds the trigger to each table.
CREATE_SQL = f"""
CREATE TABLE IF NOT EXISTS {WRITE_LOG_TABLE} (
    table_name text NOT NULL,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (table_name, xid)
);
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO {WRITE_LOG_TABLE} (table_name) VALUES (TG_TABLE_NAME) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
"""
DROP_SQL = f"DROP TABLE IF EXISTS {WRITE_LOG_TABLE}; DROP FUNCTION IF EXISTS {FUNCTION}() CASCADE;"


# A trigger in place and firing always, in pg_trigger ``g``: what makes a table's log whole.
_FIRING = f"g.tgname = '{TRIGGER}' AND g.tgenabled = 'A'"


def install_sql(table: str) -> list[str]:
    """The statements that give ``table`` its trigger (again: idempotent)."""
    name = quote_name(table)
    trigger = quote_name(TRIGGER)
    return [
        f"CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {name} FOR EACH STATEMENT EXECUTE FUNCTION {quote_name(FUNCTION)}()",
        f"ALTER TABLE {name} ENABLE ALWAYS TRIGGER {trigger}",
    ]


def logged_tables_sql(names_param: str) -> str:
    """A scalar subquery: the tables of ``names_param`` (a query parameter naming a text
    array) whose trigger is in place and firing always."""
    return (
        "(SELECT json_agg(c.relname) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
        f"WHERE {_FIRING} "
        f"AND c.relnamespace = {CURRENT_SCHEMA} "
        f"AND c.relname = ANY({names_param}))"
    )


def written_tables_sql(names_param: str) -> str:
    """A scalar subquery: the tables of ``names_param`` with a note in the log."""
    return (
        f"(SELECT json_agg(DISTINCT table_name) FROM {quote_name(WRITE_LOG_TABLE)} "
        f"WHERE table_name = ANY({names_param}))"
    )


def forget_sql(alias: str, snapshot: str) -> str:
    """Remove the notes a statement run in ``snapshot`` (``pg_current_snapshot()`` text)
    saw: the writes it saw are accounted for; later ones stay noted."""
    return (
        f"DELETE FROM {quote_name(WRITE_LOG_TABLE)} "
        f"WHERE pg_visible_in_snapshot(xid, {literal(alias, snapshot)}::pg_snapshot)"
    )


def install(alias: str, tables: tuple[str, ...]) -> tuple[str, ...]:
    """Give each of ``tables`` that ``alias`` has, that lacks it, and that the user owns, its
    trigger, once the log's function exists (migration 0008); the tables it went on."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) "
            f"AND c.relnamespace = {CURRENT_SCHEMA} "
            "AND c.relkind IN ('r', 'p') AND to_regproc(%s) IS NOT NULL "
            # Only the table's owner may add the trigger; the others are read as before.
            "AND pg_has_role(c.relowner, 'MEMBER') "
            f"AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND {_FIRING}) "
            "ORDER BY c.relname",
            [list(tables), FUNCTION],
        )
        missing = tuple(row[0] for row in cursor.fetchall())
        for table in missing:
            for statement in install_sql(table):
                cursor.execute(statement)
    return missing
