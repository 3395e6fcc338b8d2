"""Django's admin autodiscovery imports this module; the admin itself lives in
``railway_sync.operator.admin``, with the dashboard and the run history it shows."""

from railway_sync.operator import admin  # noqa: F401  (registers the model admins)
