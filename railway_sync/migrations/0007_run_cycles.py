from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("railway_sync", "0006_pull_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="cycles",
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="sync_seconds",
            field=models.FloatField(null=True),
        ),
    ]
