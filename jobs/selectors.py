"""Reads on jobs: the API's view of a job, status summaries."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Min
from django.db.models.functions import Now
from django.utils import timezone

from jobs.engine import live_cluster_details, live_clusters
from jobs.models import Job, JobStatus, PausedJobType


def job_get(*, job_id: Any) -> Job | None:
    """Return the job with its project, or None (also for a malformed id)."""
    try:
        job_uuid = uuid.UUID(str(job_id))
    except ValueError:
        return None
    return Job.objects.select_related("project").filter(pk=job_uuid).first()


def jobs_status_summary() -> dict[str, Any]:
    """Return counts by status and by (type, status), queue age, running jobs and live clusters."""
    by_status = {s.value: 0 for s in JobStatus}
    by_type: dict[tuple[str, str], int] = {}
    for row in Job.objects.values("type", "status").annotate(n=Count("id")).order_by():
        by_status[row["status"]] += row["n"]
        by_type[(row["type"], row["status"])] = row["n"]
    oldest = Job.objects.filter(status=JobStatus.PENDING, scheduled_at__lte=Now()).aggregate(
        at=Min("scheduled_at")
    )["at"]
    running = list(
        Job.objects.filter(status=JobStatus.RUNNING)
        .order_by("lease_expires_at")
        .values("id", "type", "attempts", "max_attempts", "worker", "lease_expires_at")
    )
    return {
        "by_status": by_status,
        "by_type": by_type,
        "oldest_due_pending_seconds": (timezone.now() - oldest).total_seconds() if oldest else None,
        "running": running,
        "clusters": live_clusters(),
    }


def clusters_live() -> list[dict[str, Any]]:
    """Return each live qcluster: id, host, status, worker pids, uptime (best effort)."""
    return live_cluster_details()


def project_jobs_latest(*, project_id: int, limit: int = 10) -> list[Job]:
    """Return the project's newest jobs (job_project_created_idx)."""
    return list(Job.objects.filter(project_id=project_id).order_by("-created_at")[:limit])


def paused_job_types() -> list[PausedJobType]:
    """Return the paused job types, with who paused them (for the dashboard and job list)."""
    return list(PausedJobType.objects.select_related("paused_by").order_by("type"))
