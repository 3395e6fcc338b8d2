from django.db import migrations

# Where local's WAL stood and which cluster it was when each table was last synced. A local
# database restored from an older backup (WAL behind the recorded position) or replaced by
# another cluster (another system identifier) is compared in full instead of trusted.
# Rows written before this migration have NULLs here and are not trusted either.
POSITION_SQL = """
ALTER TABLE railway_sync_state
    ADD COLUMN IF NOT EXISTS local_system_identifier bigint,
    ADD COLUMN IF NOT EXISTS local_wal_lsn pg_lsn;
"""
REVERSE_SQL = """
ALTER TABLE railway_sync_state
    DROP COLUMN IF EXISTS local_system_identifier,
    DROP COLUMN IF EXISTS local_wal_lsn;
"""


class Migration(migrations.Migration):
    dependencies = [("railway_sync", "0003_sync_state")]

    operations = [
        migrations.RunSQL(POSITION_SQL, reverse_sql=REVERSE_SQL, hints={"railway_schema": True}),
    ]
