from __future__ import annotations

from django.apps import AppConfig


class RailwaySchemaConfig(AppConfig):
    name = "railway_sync.railway_schema"
    label = "railway_schema"
    verbose_name = "Railway schema (generated migrations)"
