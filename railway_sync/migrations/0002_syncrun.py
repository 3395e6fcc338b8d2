from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("railway_sync", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SyncRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("command", models.CharField(max_length=50)),
                ("mode", models.CharField(max_length=20)),
                ("dry_run", models.BooleanField(default=False)),
                ("options", models.JSONField(default=dict)),
                ("started_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField(null=True)),
                ("outcome", models.CharField(blank=True, max_length=20)),
                ("tables", models.JSONField(default=list)),
                ("error", models.TextField(blank=True)),
            ],
            options={
                "verbose_name": "sync run",
                "db_table": "railway_sync_run",
                "ordering": ["-started_at"],
            },
        ),
    ]
