"""Read-only views of both databases, and a dashboard of counts, content and recent runs.

The five scrapers' tables have model admins; every configured table (``RAILWAY_SYNC_TABLES``,
including tables added later) can also be browsed on either database through a generic
table page that reads the live catalog, so new columns show as soon as they exist.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connections, models
from django.db.utils import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from railway_sync import api, conf, history, tables
from railway_sync.connection import connect, connecting_within
from railway_sync.errors import RailwaySyncError
from railway_sync.models import (
    Animal,
    AnimalImage,
    Organization,
    RailwayAnimal,
    RailwayAnimalImage,
    RailwayOrganization,
    RailwayScrapeLog,
    RailwayServiceRegion,
    ScrapeLog,
    ServiceRegion,
    SyncRun,
)
from railway_sync.schema import live_columns
from railway_sync.sql import column_list, quote_name


def admin_time_limit() -> AbstractContextManager[None]:
    """Connecting gives up after RAILWAY_SYNC_ADMIN_TIMEOUT: a page must not hold a worker."""
    return connecting_within(conf.admin_timeout(), "RAILWAY_ADMIN_TIMEOUT")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows of one database, viewable only: Railway is written by the sync alone."""

    database: str = "default"
    list_per_page = 50

    def alias(self) -> str:
        return conf.railway_alias() if self.database == "railway" else conf.local_alias()

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).using(self.alias())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        return {}

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        try:
            with admin_time_limit():
                connect(self.alias())
            return super().changelist_view(request, extra_context)
        except (RailwaySyncError, DatabaseError) as exc:
            return TemplateResponse(
                request,
                "admin/railway_sync/unavailable.html",
                {
                    **self.admin_site.each_context(request),
                    "title": str(self.opts.verbose_name_plural).capitalize(),
                    "problem": str(exc).splitlines()[0],
                    "opts": self.opts,
                },
            )


COLUMNS = {
    Organization: ("id", "name", "country", "active", "updated_at"),
    Animal: ("id", "name", "organization_id", "status", "breed", "updated_at"),
    AnimalImage: ("id", "animal_id", "image_url", "is_primary"),
    ScrapeLog: ("id", "organization_id", "started_at", "status", "dogs_found"),
    ServiceRegion: ("id", "organization_id", "country", "region", "active"),
}

for local_model, railway_model in (
    (Organization, RailwayOrganization),
    (Animal, RailwayAnimal),
    (AnimalImage, RailwayAnimalImage),
    (ScrapeLog, RailwayScrapeLog),
    (ServiceRegion, RailwayServiceRegion),
):
    for model, database in ((local_model, "default"), (railway_model, "railway")):
        admin.site.register(
            model,
            type(
                f"{model.__name__}Admin",
                (ReadOnlyAdmin,),
                {
                    "database": database,
                    "list_display": COLUMNS[local_model],
                    "show_full_result_count": False,
                },
            ),
        )


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """The dashboard: per-table counts on both sides, content match, and the recent runs."""

    list_display = ("started_at", "command", "mode", "dry_run", "outcome", "finished_at")
    list_filter = ("outcome", "command", "mode", "dry_run")
    readonly_fields = [field.name for field in SyncRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        try:
            with admin_time_limit():
                report = api.status()
            problem = "" if report.connected else report.problem
        except (RailwaySyncError, DatabaseError) as exc:
            report, problem = None, str(exc).splitlines()[0]
        last = history.last_success()
        context = {
            **(extra_context or {}),
            "browsable_tables": conf.tables(),
            "last_sync": last.finished_at if last else None,
            "railway_report": report,
            "railway_problem": problem or (report.problem if report else ""),
        }
        return super().changelist_view(request, context)

    def get_urls(self) -> list[URLPattern]:
        browse = path(
            "tables/<str:database>/<str:table>/",
            self.admin_site.admin_view(self.table_view),
            name="railway_sync_table",
        )
        return [browse, *super().get_urls()]

    def table_view(self, request: HttpRequest, database: str, table: str) -> HttpResponse:
        """Rows of a configured table on one database, read-only, ``TABLE_PAGE`` at a time."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if database not in ("local", "railway") or table not in conf.tables():
            raise Http404("Not a synced table")
        alias = conf.railway_alias() if database == "railway" else conf.local_alias()
        page_text = request.GET.get("page", "1")
        page = max(1, int(page_text)) if page_text.isdigit() else 1
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": f"{table} on {'Railway' if database == 'railway' else 'the local database'}",
            "table": table,
            "database": database,
            "page": page,
        }
        try:
            with admin_time_limit():
                connect(conf.local_alias())
                connect(alias)
            key = tables.read(conf.local_alias(), (table,)).tables[0].key
            excluded = conf.exclude_columns()
            columns = [
                c for c in live_columns(alias, table) or [] if (table, c.name) not in excluded
            ]
            if not columns:
                raise Http404(f"{table} does not exist on this database")
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    f"SELECT {column_list(columns)} FROM {quote_name(table)} "
                    f"ORDER BY {quote_name(key)} LIMIT {TABLE_PAGE + 1} "
                    f"OFFSET {(page - 1) * TABLE_PAGE}"
                )
                rows = cursor.fetchall()
        except (RailwaySyncError, DatabaseError) as exc:
            context["problem"] = str(exc).splitlines()[0]
            return TemplateResponse(request, "admin/railway_sync/unavailable.html", context)
        context.update(
            columns=[c.name for c in columns],
            rows=rows[:TABLE_PAGE],
            next_page=page + 1 if len(rows) > TABLE_PAGE else None,
            previous_page=page - 1 if page > 1 else None,
        )
        return TemplateResponse(request, "admin/railway_sync/table.html", context)


# Rows per page of the generic table page.
TABLE_PAGE = 50
