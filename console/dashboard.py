"""The dashboard's panels: each builds its template context from the console's selectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from console import selectors
from console.charts import Chart, Series, colours_for, paired_bars, stacked_bars
from jobs.models import JobStatus
from jobs.selectors import paused_job_types

HIDE_HOUSEKEEPING_KEY = "console_hide_housekeeping"


def hide_housekeeping(request: HttpRequest) -> bool:
    return bool(request.session.get(HIDE_HOUSEKEEPING_KEY, False))


def human_seconds(value: float) -> str:
    """Format a run time or wait: 850 ms, 12.5 s, 4 min 10 s, 2 h 5 min."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60)} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60)} min"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return "just now" if seconds < 1 else f"{human_seconds(seconds)} ago"


def now_panel(request: HttpRequest) -> dict[str, Any]:
    counts = selectors.job_counts()
    wait = counts["oldest_due_wait"]
    paused = paused_job_types()
    return {
        "counts": counts,
        "oldest_due_wait": human_seconds(wait) if wait is not None else None,
        "paused_types": paused,
        "paused_type_names": {p.type for p in paused},
        "projects": selectors.projects_glance()
        if request.user.has_perm("controlplane.view_project")
        else None,
    }


def running_panel(request: HttpRequest) -> dict[str, Any]:
    rows = []
    for job in selectors.running_jobs():
        progress = job.progress or {}
        percent = progress.get("percent")
        renewed = selectors.lease_renewed_seconds_ago(job)
        started = job.started_at
        rows.append(
            {
                "job": job,
                "phase": progress.get("phase", ""),
                "bytes": progress.get("bytes") or 0,
                "percent": max(0.0, min(float(percent), 100.0))
                if isinstance(percent, (int, float))
                else None,
                "lease_age": _ago(renewed),
                "running_for": human_seconds((timezone.now() - started).total_seconds())
                if started
                else "—",
            }
        )
    return {"running": rows}


def failures_panel(request: HttpRequest) -> dict[str, Any]:
    hide = hide_housekeeping(request)
    return {
        "failures": selectors.recent_failures(hide_housekeeping=hide),
        "hide_housekeeping": hide,
    }


def clusters_panel(request: HttpRequest) -> dict[str, Any]:
    clusters = [{**c, "uptime": human_seconds(c["uptime_seconds"])} for c in selectors.clusters()]
    return {"clusters": clusters}


def activity_panel(request: HttpRequest) -> dict[str, Any]:
    if not request.user.has_perm("controlplane.view_auditlog"):
        return {"actions": None}
    return {"actions": selectors.recent_actions()}


def _type_series(
    data: dict[tuple[datetime, str, str], int],
    slots: list[datetime],
    status: str,
    colours: dict[str, str],
) -> list[Series]:
    names = sorted({t for (_, t, s) in data if s == status})
    return [
        Series(
            name=name,
            values=[float(data.get((slot, name, status), 0)) for slot in slots],
            colour=colours.get(name, "#888"),
        )
        for name in names
    ]


def charts_panel(request: HttpRequest) -> dict[str, Any]:
    now = timezone.now()
    colours = colours_for(selectors.known_types())
    minute0 = now.replace(second=0, microsecond=0)
    minutes = [minute0 - timedelta(minutes=59 - i) for i in range(60)]
    hour0 = now.replace(minute=0, second=0, microsecond=0)
    hours = [hour0 - timedelta(hours=23 - i) for i in range(24)]
    per_minute = selectors.ended_per_minute(now=now)
    per_hour = selectors.ended_per_hour(now=now)
    minute_labels = [f"{m:%H:%M}" for m in minutes]
    hour_labels = [f"{h:%H}h" for h in hours]
    charts: list[tuple[str, Chart]] = []
    for status, label in ((JobStatus.COMPLETED, "Completed"), (JobStatus.FAILED, "Failed")):
        charts.append(
            (
                f"{label} per minute, last hour",
                stacked_bars(
                    labels=minute_labels,
                    series=_type_series(per_minute, minutes, status, colours),
                    tick_every=10,
                    title=f"{label} jobs per minute",
                ),
            )
        )
    for status, label in ((JobStatus.COMPLETED, "Completed"), (JobStatus.FAILED, "Failed")):
        charts.append(
            (
                f"{label} per hour, last 24 h",
                stacked_bars(
                    labels=hour_labels,
                    series=_type_series(per_hour, hours, status, colours),
                    tick_every=4,
                    title=f"{label} jobs per hour",
                ),
            )
        )
    percentiles = paired_bars(
        rows=selectors.run_time_percentiles(now=now),
        fmt=human_seconds,
        first="p50",
        second="p95",
        title="Run time p50 and p95 per type",
    )
    days = [(now - timedelta(days=29 - i)).date() for i in range(30)]
    day_labels = [f"{d:%d %b}" for d in days]
    backups = selectors.backup_bytes_per_day(now=now)
    backup_chart = stacked_bars(
        labels=day_labels,
        series=[Series("backups", [float(backups.get(d, 0)) for d in days], "#4e79a7")],
        fmt=lambda v: str(filesizeformat(v)),
        tick_every=7,
        title="Backup bytes per day",
    )
    backfill = selectors.backfill_progress(now=now)
    backfill_chart = _backfill_chart(days, day_labels, backfill["per_day"])
    return {
        "time_charts": charts,
        "percentiles": percentiles,
        "backup_chart": backup_chart,
        "backfill_chart": backfill_chart,
        "backfill_totals": backfill["totals"],
        "rolled_up_at": selectors.rollup_freshness(),
    }


def _backfill_chart(days: list[date], labels: list[str], per_day: dict[Any, int]) -> Chart:
    return stacked_bars(
        labels=labels,
        series=[Series("months completed", [float(per_day.get(d, 0)) for d in days], "#59a14f")],
        fmt=lambda v: f"{v:.0f}",
        tick_every=7,
        title="Backfill months completed per day",
    )


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: Callable[[HttpRequest], dict[str, Any]]
    refresh_seconds: int


PANELS = {
    panel.name: panel
    for panel in (
        Panel("now", "console/fragments/now.html", now_panel, 5),
        Panel("running", "console/fragments/running.html", running_panel, 2),
        Panel("failures", "console/fragments/failures.html", failures_panel, 5),
        Panel("clusters", "console/fragments/clusters.html", clusters_panel, 10),
        Panel("activity", "console/fragments/activity.html", activity_panel, 10),
        Panel("charts", "console/fragments/charts.html", charts_panel, 30),
    )
}
