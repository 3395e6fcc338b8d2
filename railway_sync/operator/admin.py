"""Read-only views of both databases, the status panel on the admin index, and the run history.

What the panel shows is built in ``dashboard.py``; this module only wires it into the admin.
The five scrapers' tables have model admins; every configured table (``RAILWAY_SYNC_TABLES``,
including tables added later) can also be browsed on either database through a generic
table page that reads the live catalog, so new columns show as soon as they exist (linked
from the panel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connections, models
from django.db.utils import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from railway_sync import conf
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
from railway_sync.operator import dashboard
from railway_sync.operator.dashboard import admin_time_limit
from railway_sync.pg.columns import live_columns
from railway_sync.pg.connection import connect
from railway_sync.pg.failures import one_line
from railway_sync.pg.sql import column_list, quote_name
from railway_sync.schema import tables

# The admin index opens with the status panel ({% railway_status_panel %}). A project with an
# index template of its own can load railway_sync_dashboard and place the tag there instead.
admin.site.index_template = "admin/railway_sync/index.html"


def railway_proxies() -> dict[type[models.Model], type[models.Model]]:
    """Local model -> its Railway proxy, for every proxy this app defines."""
    return {
        model._meta.proxy_for_model: model
        for model in apps.get_app_config("railway_sync").get_models()
        if model._meta.proxy and model._meta.proxy_for_model is not None
    }


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

    # action_location: Django 6.1 passes where the actions are shown (the change list, or
    # the change form) and warns about an override that cannot take it; 5.2 and 6.0 do not.
    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict:
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
                    "problem": one_line(exc, table=self.opts.db_table),
                    "opts": self.opts,
                },
            )


def railway_parent_link(field: models.ForeignKey) -> Callable[[Any, models.Model], str]:
    """A display method linking a Railway row's ``field`` to the parent's Railway page."""

    def link(self: ReadOnlyAdmin, obj: models.Model) -> str:
        parent_id = getattr(obj, field.attname)
        proxy = railway_proxies().get(field.related_model)  # type: ignore[arg-type]
        if parent_id is None or proxy is None:
            return "-"
        url = reverse(
            f"admin:{proxy._meta.app_label}_{proxy._meta.model_name}_change", args=[parent_id]
        )
        parent = proxy._default_manager.using(conf.railway_alias()).filter(pk=parent_id).first()
        return format_html('<a href="{}">{}</a>', url, parent if parent else parent_id)

    link.short_description = field.verbose_name  # type: ignore[attr-defined]
    return link


COLUMNS = {
    Organization: ("id", "name", "country", "active", "updated_at"),
    Animal: ("id", "name", "organization_id", "status", "breed", "updated_at"),
    AnimalImage: ("id", "animal_id", "image_url", "is_primary"),
    ScrapeLog: ("id", "organization_id", "started_at", "status", "dogs_found"),
    ServiceRegion: ("id", "organization_id", "country", "region", "active"),
}
# "=id" finds a row by its id; the others by any part of the text.
SEARCH = {
    Organization: ("=id", "name", "slug", "country", "city"),
    Animal: ("=id", "name", "slug", "breed", "external_id"),
    AnimalImage: ("=id", "image_url"),
    ScrapeLog: ("=id", "status", "error_message"),
    ServiceRegion: ("=id", "country", "region"),
}

for local_model, railway_model in (
    (Organization, RailwayOrganization),
    (Animal, RailwayAnimal),
    (AnimalImage, RailwayAnimalImage),
    (ScrapeLog, RailwayScrapeLog),
    (ServiceRegion, RailwayServiceRegion),
):
    for model, database in ((local_model, "default"), (railway_model, "railway")):
        attributes: dict[str, Any] = {
            "database": database,
            "list_display": COLUMNS[local_model],
            "search_fields": SEARCH[local_model],
            "show_full_result_count": False,
        }
        if database == "railway":
            # A Railway row's parent is a Railway row: link it to the Railway proxy's page.
            links = {
                field.name: f"{field.name}_on_railway"
                for field in model._meta.fields
                if isinstance(field, models.ForeignKey)
            }
            for field in model._meta.fields:
                if field.name in links:
                    attributes[links[field.name]] = railway_parent_link(field)  # type: ignore[arg-type]
            attributes["fields"] = [links.get(f.name, f.name) for f in model._meta.fields]
            attributes["readonly_fields"] = list(links.values())
        admin.site.register(model, type(f"{model.__name__}Admin", (ReadOnlyAdmin,), attributes))


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """The run history: what each run wrote, deleted, how long it took and how it ended."""

    list_display = (
        "started_at",
        "command",
        "mode",
        "syncs",
        "dry_run_mark",
        "outcome",
        "rows_written",
        "rows_deleted",
        "duration",
        "error_line",
    )
    list_filter = ("outcome", "command", "mode", "dry_run")
    fields = (
        "command",
        "mode",
        "syncs",
        "dry_run_answer",
        "options",
        "started_at",
        "finished_at",
        "duration",
        "outcome",
        "rows_written",
        "rows_deleted",
        "figures",
        "error",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the history is a record: runs are never deleted from the admin

    @admin.display(description="syncs", empty_value="")
    def syncs(self, run: SyncRun) -> str:
        return dashboard.syncs_text(run)

    @admin.display(description="dry run", empty_value="")
    def dry_run_mark(self, run: SyncRun) -> str:
        return "dry run" if run.dry_run else ""

    @admin.display(description="dry run")
    def dry_run_answer(self, run: SyncRun) -> str:
        return "yes: nothing was written" if run.dry_run else "no"

    @admin.display(description="rows written")
    def rows_written(self, run: SyncRun) -> str:
        return f"{dashboard.rows_written(run):,}"

    @admin.display(description="rows deleted")
    def rows_deleted(self, run: SyncRun) -> str:
        return f"{dashboard.rows_deleted(run):,}"

    @admin.display(description="duration")
    def duration(self, run: SyncRun) -> str:
        return dashboard.duration_text(run)

    @admin.display(description="error", empty_value="")
    def error_line(self, run: SyncRun) -> str:
        return dashboard.error_line(run)

    @admin.display(description="per-table figures")
    def figures(self, run: SyncRun) -> SafeString:
        return dashboard.figures_table(run)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        context = {**(extra_context or {}), "chart": dashboard.chart(dashboard.recent_runs(20))}
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
            context["problem"] = one_line(exc, table=table)
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
