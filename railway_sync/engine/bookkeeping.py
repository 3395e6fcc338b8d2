"""What closes a table's part of a sync on the target, in the transaction that wrote it: its
id sequence moved past what was written, the record of which rows the sync owns, and the
change-tracking watermarks the next sync starts from."""

from __future__ import annotations

from array import array

from railway_sync.engine import owned_record, tracking
from railway_sync.engine.ownership import Ownership
from railway_sync.engine.planner import Planner
from railway_sync.pg.columns import Column
from railway_sync.pg.sequences import reset_sequence_sql


def bookkeeping_sql(
    planner: Planner,
    table: str,
    columns: list[Column],
    own: Ownership,
    missing: array,
    *,
    watermark: bool,
    owned: bool = True,
    written: array | None = None,
    deleted: array | None = None,
    copied: array | None = None,
) -> list[str]:
    """The statements that close ``table``'s part of a sync, to run in the transaction that
    wrote it (or, nothing written, with the other tables' in one): move its id sequence on,
    store which rows the sync owns (``owned``; ``own`` as surveyed, ``missing`` the ids the
    target lacked then, ``written`` and ``deleted`` the ids this transaction wrote and
    deleted, ``copied`` the ids COPYed into it while empty, if it was), and,
    ``watermark``, its watermarks."""
    target, key = planner.target, planner.key(table)
    statements = [reset_sequence_sql(target, table, planner.sequences.get(table), key)]
    if owned and copied is not None:
        statements.append(owned_record.copied_record_sql(target, table, copied))
    elif owned:
        if deleted:
            statements.append(owned_record.forget_sql(target, table, deleted))
        statements.append(
            owned_record.record_sql(
                target,
                table,
                columns,
                # With a record on Railway, local's ids are not read for it.
                None if table in planner.recorded else planner.source_ids(table),
                missing,
                own,
                written,
                key,
            )
        )
    if watermark:
        assert planner.source_server is not None, "Planner.open sets it"
        statements.append(
            tracking.write_state_sql(
                target,
                table,
                identity=planner.identity,
                local_server=planner.source_server,
                local_watermark=planner.source_watermark,
                railway_watermark=planner.target_watermark,
                signature=tracking.columns_signature(columns),
            )
        )
    return [statement for statement in statements if statement]
