"""The rights the sync needs on each kind of table, and the GRANT a person runs to give one.

Kept below the engine: a refused statement (``failures``) and the check before writing
(``engine.rights``) name the same GRANT, in the same words.
"""

from __future__ import annotations

import re

from railway_sync.pg.sql import quote_name

# railway_sync's own bookkeeping tables on Railway (its migrations 0001 and 0005): every sync
# reads and writes them and never deletes from them, so their GRANT differs from the synced
# tables'. Named here, the lowest module that needs the names.
STATE_TABLE = "railway_sync_state"
OWNED_TABLE = "railway_sync_owned"

# What a grant gives, per kind of table: the synced tables are read, written and (prune,
# rebuild) deleted from; railway_sync's own bookkeeping tables are read and written.
SYNCED_RIGHTS = ("SELECT", "INSERT", "UPDATE", "DELETE")
BOOKKEEPING_RIGHTS = ("SELECT", "INSERT", "UPDATE")
# setval moves a sequence; the sync reads where it stands first.
SEQUENCE_RIGHTS = ("SELECT", "UPDATE")


def shown(name: str) -> str:
    """``name`` as a person types it in a GRANT: bare when it may be, else quoted."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else quote_name(name)


def table_grant(table: str, user: str, *, railway: bool) -> str:
    """The GRANT that lets ``user`` do what the sync does with ``table`` on that side."""
    if not railway:
        rights: tuple[str, ...] = ("SELECT",)
    elif table in (STATE_TABLE, OWNED_TABLE):
        rights = BOOKKEEPING_RIGHTS
    elif table == "django_migrations":
        rights = ("SELECT",)
    else:
        rights = SYNCED_RIGHTS
    return f"GRANT {', '.join(rights)} ON {shown(table)} TO {user};"
