"""The rights the sync needs on Railway, checked before anything is written, and the GRANT
that gives a missing one.

Reading needs no check of its own: every table is read (and a missing SELECT fails, naming its
GRANT, through ``failures``) before the first write. Writing is checked up front, in the
answers of the run's first statement (``railway_facts``), so that a role that may read but
not write one table fails before any other table is written.
"""

from __future__ import annotations

from railway_sync.engine.railway_facts import RailwayFacts
from railway_sync.errors import PermissionMissing
from railway_sync.pg.grants import (
    BOOKKEEPING_RIGHTS,
    OWNED_TABLE,
    SEQUENCE_RIGHTS,
    STATE_TABLE,
    SYNCED_RIGHTS,
    shown,
)


def refuse_missing_writes(
    facts: RailwayFacts, names: tuple[str, ...], *, deleting: bool, outcome: str
) -> None:
    """Raise :class:`PermissionMissing` when the user in RAILWAY_DATABASE_URL may not write
    what a sync of ``names`` writes (``deleting``: it deletes rows too), naming every right
    missing and the GRANTs that give them."""
    needed = ("INSERT", "UPDATE", "DELETE") if deleting else ("INSERT", "UPDATE")
    refused: list[str] = []
    grants: list[str] = []
    for group, rights, tables in (
        (needed, SYNCED_RIGHTS, [t for t in names if facts.columns.get(t) is not None]),
        (("INSERT", "UPDATE"), BOOKKEEPING_RIGHTS, [STATE_TABLE, OWNED_TABLE]),
    ):
        lacking = {
            table: [right for right in group if right not in facts.writes[table]]
            for table in tables
            if table in facts.writes
        }
        lacking = {table: rights_ for table, rights_ in lacking.items() if rights_}
        refused += [f"{', '.join(r)} on {shown(table)}" for table, r in lacking.items()]
        if lacking:
            on = ", ".join(shown(table) for table in lacking)
            grants.append(f"GRANT {', '.join(rights)} ON {on} TO {facts.user};")
    sequences = [
        str(facts.sequences[table])
        for table in names
        if facts.sequence_writable.get(table) is False and facts.sequences.get(table)
    ]
    if sequences:
        plural = "sequences" if len(sequences) > 1 else "sequence"
        refused.append(f"{', '.join(SEQUENCE_RIGHTS)} on {plural} {', '.join(sequences)}")
        grants.append(
            f"GRANT {', '.join(SEQUENCE_RIGHTS)} ON SEQUENCE {', '.join(sequences)} "
            f"TO {facts.user};"
        )
    if not facts.may_create_temporary:
        database = shown(facts.identity.database)
        refused.append(f"TEMPORARY on database {database} (the sync's staging tables)")
        grants.append(f"GRANT TEMPORARY ON DATABASE {database} TO {facts.user};")
    if refused:
        raise PermissionMissing(
            f"Railway refuses the user in RAILWAY_DATABASE_URL ({facts.user}) "
            f"{'; '.join(refused)}; {outcome}. Run on Railway as the tables' owner: "
            + " ".join(grants)
        )
