"""``{% railway_status_panel %}``: the status panel the admin index opens with.

A tag rather than a view, so a project with its own admin index template can place it too.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from railway_sync import conf
from railway_sync.operator import dashboard

register = template.Library()


@register.inclusion_tag("admin/railway_sync/panel.html", takes_context=True)
def railway_status_panel(context: template.Context) -> dict[str, Any]:
    """Is Railway current (table by table), a chart of the last runs, links to browse every
    configured table on both databases, and the recent runs; shown to users who may view sync
    runs."""
    request = context.get("request")
    if request is None or not request.user.has_perm("railway_sync.view_syncrun"):
        return {"allowed": False}
    runs = dashboard.recent_runs(dashboard.CHART_RUNS)
    panel = dashboard.panel()
    return {
        "allowed": True,
        "panel": panel,
        "chart": dashboard.chart(runs),
        "runs": [run_row(run) for run in runs[: dashboard.RECENT_RUNS]],
        "runs_url": reverse("admin:railway_sync_syncrun_changelist"),
        "browse": browse_links(tuple(row.table for row in panel.tables)),
    }


def browse_links(names: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    """Every configured table's read-only pages on both databases (the generic table page):
    ``names``, the panel's tables (without a default table the local database lacks), or
    ``RAILWAY_SYNC_TABLES``."""
    return [
        {
            "table": name,
            "local": reverse("admin:railway_sync_table", args=["local", name]),
            "railway": reverse("admin:railway_sync_table", args=["railway", name]),
        }
        for name in (conf.tables() if names is None else names)
    ]


def run_row(run: dashboard.SyncRun) -> dict[str, Any]:
    return {
        "url": reverse("admin:railway_sync_syncrun_change", args=[run.pk]),
        "started_at": run.started_at,
        "command": run.command,
        "mode": run.mode
        + (" (dry run)" if run.dry_run else "")
        + (f" ({dashboard.syncs_text(run)})" if run.cycles is not None else ""),
        "outcome": run.outcome or "running",
        "written": f"{dashboard.rows_written(run):,}",
        "deleted": f"{dashboard.rows_deleted(run):,}",
        "duration": dashboard.duration_text(run),
        "error": dashboard.error_line(run),
    }
