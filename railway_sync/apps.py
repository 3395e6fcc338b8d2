from django.apps import AppConfig


class RailwaySyncConfig(AppConfig):
    name = "railway_sync"
    verbose_name = "Railway sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from railway_sync import checks  # noqa: F401  (registers the system checks)
