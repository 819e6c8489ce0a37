"""How the job admin renders a job: badges, durations, JSON, the attempt table."""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from controlplane.admin_helpers import exact_time, status_badge
from jobs.models import Job, JobAttempt, JobStatus

JSON_LIMIT = 20_000


def pretty_json(value: Any) -> str:
    """Render JSON for the admin, truncated when big."""
    if value is None:
        return "—"
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    if len(text) > JSON_LIMIT:
        text = text[:JSON_LIMIT] + f"\n… ({len(text) - JSON_LIMIT} more characters)"
    return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)


def job_badge(job: Job) -> SafeString:
    """Render a job's status badge (with its progress while running)."""
    label = job.get_status_display()
    if job.status == JobStatus.RUNNING and job.progress:
        phase = job.progress.get("phase", "")
        percent = job.progress.get("percent")
        label += f" · {phase}" + (f" {percent:.0f}%" if isinstance(percent, (int, float)) else "")
    if job.cancel_requested_at and job.status == JobStatus.RUNNING:
        label += " · cancelling"
    return status_badge(job.status, label, css_class="job-status")


def attempt_badge(attempt: JobAttempt) -> SafeString:
    """Render an attempt's outcome in the badge colours of the job statuses."""
    if attempt.outcome is None:
        return status_badge(JobStatus.RUNNING, "Running")
    tone = {"error": "failed", "timeout": "failed", "lost": "retry"}.get(attempt.outcome)
    return status_badge(tone or attempt.outcome, attempt.get_outcome_display())


def human_duration(seconds: float) -> str:
    """Return '0.4 s', '2 min 5 s' or '3 h 10 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def attempts_html(job: Job) -> str:
    """Render every attempt in one query: a table, tracebacks folded."""
    attempts = job.attempt_set.order_by("number")
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td>{}</td><td class="nowrap">{}</td><td>{}</td><td>{}</td>'
        '<td class="nowrap">{}</td><td style="overflow-wrap:anywhere">{}</td></tr>',
        (
            (
                attempt.number,
                attempt_badge(attempt),
                attempt.worker,
                exact_time(attempt.started_at, relative=False),
                exact_time(attempt.finished_at, relative=False),
                human_duration(attempt.duration.total_seconds()) if attempt.duration else "—",
                format_html(
                    "{}<details><summary>traceback</summary>"
                    '<pre style="white-space:pre-wrap;overflow-wrap:anywhere">{}</pre>'
                    "</details>",
                    attempt.error,
                    attempt.traceback,
                )
                if attempt.traceback
                else attempt.error,
            )
            for attempt in attempts
        ),
    )
    if not rows:
        return "No attempt yet."
    return format_html(
        '<table id="job-attempts" style="width:100%"><thead>'
        "<tr><th>#</th><th>outcome</th><th>worker</th>"
        "<th>started</th><th>finished</th><th>duration</th><th>error</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        rows,
    )
