from django.db import migrations, models

from railway_sync import conf
from railway_sync.pg import write_log
from railway_sync.pg.write_log import CREATE_SQL, DROP_SQL

# A sync that finds nothing to do leaves a record of it (railway_sync_state.quiet), so the
# next one, when nothing was written on either side since, need not read a table: Railway's
# writes are noted by a trigger on each synced table (railway_sync.pg.write_log), local's own
# transactions (its history) are recorded locally (railway_sync.pg.own_writes).
QUIET_SQL = "ALTER TABLE railway_sync_state ADD COLUMN IF NOT EXISTS quiet jsonb;"


def install_triggers(apps, schema_editor) -> None:
    """The synced tables Railway has get their trigger now; those a later migration creates,
    when ``railway_migrate`` applies it."""
    write_log.install(schema_editor.connection.alias, conf.tables())


class Migration(migrations.Migration):
    dependencies = [("railway_sync", "0007_run_cycles")]

    operations = [
        migrations.CreateModel(
            name="OwnWrite",
            fields=[("xid", models.BigIntegerField(primary_key=True, serialize=False))],
            options={"verbose_name": "own local write", "db_table": "railway_sync_own_write"},
        ),
        migrations.RunSQL(
            QUIET_SQL,
            reverse_sql="ALTER TABLE railway_sync_state DROP COLUMN IF EXISTS quiet;",
            hints={"railway_schema": True},
        ),
        migrations.RunSQL(CREATE_SQL, reverse_sql=DROP_SQL, hints={"railway_schema": True}),
        migrations.RunPython(
            install_triggers, migrations.RunPython.noop, hints={"railway_schema": True}
        ),
    ]
