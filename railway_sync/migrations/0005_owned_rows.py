from django.db import migrations

# Which rows of each synced table the sync put on Railway (issue 10): the ids it wrote or
# verified as local rows, as ranges, written in the same transaction as the table's rows.
# Rows whose id is not here are the site's: the sync never deletes or overwrites them.
# No row for a table (a Railway adopted from another tool, or synced before this migration)
# means the next sync owns the ids local also has and leaves every other row to the site.
OWNED_SQL = """
CREATE TABLE IF NOT EXISTS railway_sync_owned (
    table_name  text PRIMARY KEY,
    ids         int8multirange NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
"""


class Migration(migrations.Migration):
    dependencies = [("railway_sync", "0004_state_local_position")]

    operations = [
        migrations.RunSQL(
            OWNED_SQL,
            reverse_sql="DROP TABLE IF EXISTS railway_sync_owned;",
            hints={"railway_schema": True},
        ),
    ]
