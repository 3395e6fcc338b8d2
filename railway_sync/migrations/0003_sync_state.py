from django.db import migrations

# Where each synced table stood at its last sync, kept on Railway beside the data and written
# in the same transaction, so it can never claim more than was committed.
STATE_SQL = """
CREATE TABLE IF NOT EXISTS railway_sync_state (
    table_name        text PRIMARY KEY,
    local_database    text NOT NULL,
    local_watermark   bigint NOT NULL,
    railway_watermark bigint NOT NULL,
    railway_xid       bigint,
    columns_signature text NOT NULL,
    synced_at         timestamptz NOT NULL DEFAULT now()
);
"""


class Migration(migrations.Migration):
    dependencies = [("railway_sync", "0002_history_and_admin")]

    operations = [
        migrations.RunSQL(
            STATE_SQL,
            reverse_sql="DROP TABLE IF EXISTS railway_sync_state;",
            hints={"railway_schema": True},
        ),
    ]
