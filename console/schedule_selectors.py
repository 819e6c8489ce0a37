"""Reads for the schedules page: declared recurring jobs and projects' backup schedules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.paginator import Page, Paginator

from backups.models import BackupSchedule
from backups.schedules import SCHEDULE_KEY_PREFIX, backup_schedule_next_run
from backups.services import EXPORT_JOB
from controlplane.admin_helpers import age
from controlplane.models import ProjectStatus
from jobs.models import Job
from jobs.registry import find_handler
from jobs.scheduling import RecurringJob, declared_schedules, schedules_next_run

BACKUP_SCHEDULES_PER_PAGE = 100
_JOB_FIELDS = ("id", "type", "status", "created_at", "completed_at", "last_error", "project_id")


@dataclass(frozen=True)
class ScheduleRow:
    """One declared recurring job as the page shows it."""

    schedule: RecurringJob
    minutes: int
    every: str
    enabled: bool
    housekeeping: bool
    last_run: Job | None
    next_run: datetime | None
    synced: bool


@dataclass(frozen=True)
class BackupScheduleRow:
    schedule: BackupSchedule
    last_run: Job | None
    next_run: datetime | None
    active: bool
    suspended: bool


def recurring_schedules() -> list[ScheduleRow]:
    """Return every declared schedule with its newest run and the engine's next firing."""
    next_runs = schedules_next_run()
    rows = []
    for name, schedule in sorted(declared_schedules().items()):
        # One index walk each (type, -created_at); a handful of declared schedules.
        last = (
            Job.objects.filter(type=schedule.type, exclusive_key=name)
            .order_by("-created_at")
            .only(*_JOB_FIELDS)
            .first()
        )
        enabled = schedule.is_enabled()
        spec = find_handler(schedule.type)
        rows.append(
            ScheduleRow(
                schedule=schedule,
                minutes=schedule.every(),
                every=age(schedule.every() * 60),
                enabled=enabled,
                housekeeping=bool(spec and spec.housekeeping),
                last_run=last,
                next_run=next_runs.get(name) if enabled else None,
                synced=name in next_runs,
            )
        )
    return rows


def backup_schedules_page(
    *, page: Any = 1, now: datetime | None = None
) -> tuple[Page[BackupSchedule], list[BackupScheduleRow]]:
    """Return one page of backup schedules and its rows: last scheduled export, next one."""
    schedules = BackupSchedule.objects.select_related("project").order_by("project__slug")
    paged = Paginator(schedules, BACKUP_SCHEDULES_PER_PAGE).get_page(page)
    items = list(paged.object_list)
    project_ids = [s.project_id for s in items]
    last_by_project: dict[int | None, Job] = {
        job.project_id: job
        for job in Job.objects.filter(
            type=EXPORT_JOB,
            project_id__in=project_ids,
            idempotency_key__startswith=SCHEDULE_KEY_PREFIX,
        )
        .order_by("project_id", "-created_at")
        .distinct("project_id")
        .only(*_JOB_FIELDS, "idempotency_key")
    }
    rows = [
        BackupScheduleRow(
            schedule=s,
            last_run=(last := last_by_project.get(s.project_id)),
            next_run=backup_schedule_next_run(
                s, last_key=last.idempotency_key if last else None, now=now
            ),
            active=s.project.status == ProjectStatus.ACTIVE,
            suspended=s.project.status == ProjectStatus.SUSPENDED,
        )
        for s in items
    ]
    return paged, rows
