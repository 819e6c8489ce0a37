"""Worker-side writes: claim a job, record its outcome, heartbeat, rescue, take due jobs.

Every state change here is one conditional UPDATE. An outcome is fenced on the attempt
number, so a late finisher (a rescued zombie) can never overwrite a newer outcome.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from jobs.engine import QUEUE_TABLE
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus, PausedJobType

logger = logging.getLogger("jobs")

ERROR_LIMIT = 2000
TRACEBACK_LIMIT = 20000
# Any constant works; it only has to be the same in every process.
RESCUE_LOCK_ID = 0x6A6F6273  # "jobs"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lease() -> Any:
    """Return the lease length (a timedelta, which psycopg sends as an interval)."""
    return timedelta(seconds=settings.JOBS_LEASE_SECONDS)


@dataclass(frozen=True)
class Claim:
    """The job as claimed for one attempt."""

    job_id: uuid.UUID
    type: str
    payload: dict[str, Any]
    project_id: int | None
    attempt: int
    max_attempts: int


def _execute_prepared(sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Run one of the worker's per-job statements prepared on the server; return its first row.

    Django's cursors bind parameters on the client, so PostgreSQL would parse and plan the
    claim at every execution (about as long as running it); prepared once per connection,
    it is only executed. Errors still mark the connection as Django's own cursors do.
    """
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()


# One statement (so one round trip and one commit): move the job to running and open its
# attempt row; nothing happens unless the job is still pending and due and its type is not
# paused (a delivery handed off before the pause waits; resuming hands it off again). It
# also deletes the delivery's queue row (if any; see jobs.engine.broker) whether or not the
# claim succeeds: from here on the Job row alone decides what happens to the job.
#
# Run as its own transaction, the claim commits asynchronously (no wait for the WAL flush):
# a worker then waits for one disk flush per job (its outcome), not two. Only a crash of
# the database server within a fraction of a second of the claim can undo it, and then
# the job is pending again as before its claim and runs again (delivery is at least once
# anyway). Any later synchronous commit, the outcome's included, makes the claim durable:
# the WAL is flushed in order.
_CLAIM_SQL = f"""
WITH acknowledged AS (
    DELETE FROM {QUEUE_TABLE} WHERE id = %(ack_id)s
), claimed AS (
    UPDATE jobs_job
       SET status = %(running)s, attempts = attempts + 1, started_at = now(),
           worker = %(worker)s, lease_expires_at = now() + %(lease)s, updated_at = now(),
           progress = NULL
     WHERE id = %(job_id)s AND status = %(pending)s AND scheduled_at <= now()
       AND NOT EXISTS (SELECT 1 FROM jobs_pausedjobtype paused WHERE paused.type = jobs_job.type)
    RETURNING id, type, payload, project_id, attempts, max_attempts, started_at
), opened AS (
    INSERT INTO jobs_jobattempt (job_id, number, worker, started_at, error, traceback)
    SELECT id, attempts, %(worker)s, started_at, '', '' FROM claimed
)
SELECT type, payload, project_id, attempts, max_attempts
  FROM claimed, set_config(
           'synchronous_commit',
           CASE WHEN %(own_transaction)s THEN 'off' ELSE current_setting('synchronous_commit') END,
           true
       ) AS commit_mode
"""  # noqa: S608 (the table name is django-q2's model's)


def job_claim(*, job_id: uuid.UUID | str, worker: str, ack_id: int | None = None) -> Claim | None:
    """Move a due pending job to running and open its attempt; None if someone else has it.

    `ack_id`: the delivery's row in django-q2's queue table, deleted by the same statement.
    """
    row = _execute_prepared(
        _CLAIM_SQL,
        {
            "running": JobStatus.RUNNING,
            "pending": JobStatus.PENDING,
            "worker": worker,
            "lease": _lease(),
            "job_id": str(job_id),
            "ack_id": ack_id,
            # Inside a caller's transaction, its commit is the caller's business.
            "own_transaction": connection.get_autocommit(),
        },
    )
    if row is None:
        return None
    type_, payload, project_id, attempt, max_attempts = row
    if isinstance(payload, str):  # a raw cursor may hand jsonb back as text
        payload = json.loads(payload)
    return Claim(uuid.UUID(str(job_id)), type_, payload, project_id, attempt, max_attempts)


_KEEP = object()


def _finish(
    *,
    job_id: uuid.UUID,
    attempt: int,
    outcome: AttemptOutcome,
    status: JobStatus,
    last_error: str,
    finished: bool,
    retry_in: float | None = None,
    result: Any = _KEEP,
    error: str = "",
    traceback: str = "",
) -> bool:
    """Write an attempt's outcome, fenced on the attempt number; return False if superseded.

    One statement updates the job (only if this attempt still holds it) and closes the
    attempt row (only if still open), so it costs one round trip and one commit.
    """
    # Fixed SQL fragments only; every value travels as a parameter.
    sets = [
        "status = %(status)s",
        "worker = ''",
        "lease_expires_at = NULL",
        "updated_at = now()",
        "last_error = %(last_error)s",
    ]
    if finished:
        sets.append("completed_at = now()")
    if retry_in is not None:
        sets.append("scheduled_at = now() + %(retry_in)s")
    if result is not _KEEP:
        sets.append("result = %(result)s::jsonb")
    sql = f"""
        WITH job AS (
            UPDATE jobs_job SET {", ".join(sets)}
             WHERE id = %(job_id)s AND attempts = %(attempt)s AND status = %(running)s
            RETURNING 1
        ), closed AS (
            UPDATE jobs_jobattempt
               SET outcome = %(outcome)s, finished_at = now(), error = %(error)s,
                   traceback = %(traceback)s
             WHERE job_id = %(job_id)s AND number = %(attempt)s AND outcome IS NULL
        )
        SELECT count(*) FROM job
    """  # noqa: S608 (the SET list is built from the constant fragments above)
    params: dict[str, Any] = {
        "status": status,
        "last_error": last_error[:ERROR_LIMIT],
        "retry_in": timedelta(seconds=retry_in) if retry_in is not None else None,
        "result": None if result is _KEEP or result is None else json.dumps(result),
        "job_id": str(job_id),
        "attempt": attempt,
        "running": JobStatus.RUNNING,
        "outcome": outcome,
        "error": error[:ERROR_LIMIT],
        "traceback": traceback[-TRACEBACK_LIMIT:],
    }
    row = _execute_prepared(sql, params)
    changed = row[0] if row else 0
    if not changed:
        logger.warning("Job %s attempt %s finished after being superseded", job_id, attempt)
    return bool(changed)


def job_complete(*, job_id: uuid.UUID, attempt: int, result: Any) -> bool:
    """Record success."""
    return _finish(
        job_id=job_id,
        attempt=attempt,
        outcome=AttemptOutcome.COMPLETED,
        status=JobStatus.COMPLETED,
        last_error="",
        finished=True,
        result=result,
    )


def job_fail_attempt(
    *,
    job_id: uuid.UUID,
    attempt: int,
    outcome: AttemptOutcome,
    error: str,
    traceback: str = "",
    retry_in: float | None,
) -> bool:
    """Record a failed attempt: back to pending after `retry_in` seconds, or failed if None."""
    if outcome == AttemptOutcome.CANCELLED:
        status, retry_in = JobStatus.CANCELLED, None
    elif retry_in is None:
        status = JobStatus.FAILED
    else:
        status = JobStatus.PENDING
    return _finish(
        job_id=job_id,
        attempt=attempt,
        outcome=outcome,
        status=status,
        last_error=error,
        finished=retry_in is None,
        retry_in=retry_in,
        error=error,
        traceback=traceback,
    )


def job_progress_record(*, job_id: uuid.UUID, attempt: int, progress: dict[str, Any]) -> bool:
    """Store progress and renew the lease; return whether cancellation was requested."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE jobs_job SET progress = %s, lease_expires_at = now() + %s, updated_at = now()
             WHERE id = %s AND attempts = %s AND status = %s
            RETURNING cancel_requested_at IS NOT NULL
            """,
            [json.dumps(progress), _lease(), str(job_id), attempt, JobStatus.RUNNING],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def job_heartbeat(*, job_id: uuid.UUID, attempt: int) -> bool:
    """Renew the lease of a running attempt; return whether cancellation was requested."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE jobs_job SET lease_expires_at = now() + %s
             WHERE id = %s AND attempts = %s AND status = %s
            RETURNING cancel_requested_at IS NOT NULL
            """,
            [_lease(), str(job_id), attempt, JobStatus.RUNNING],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def job_cancel_requested(*, job_id: uuid.UUID, attempt: int) -> bool:
    """Return whether staff asked to cancel this running attempt."""
    return Job.objects.filter(
        pk=job_id, attempts=attempt, status=JobStatus.RUNNING, cancel_requested_at__isnull=False
    ).exists()


# --- rescue and hand-off (the dispatcher) -----------------------------------------


# The retry delay after a failed attempt of a job type (jobs.registry.retry_delay).
RetryDelay = Callable[[str, int], float]


def jobs_rescue_lost(*, retry_delay: RetryDelay, limit: int = 500) -> int:
    """Return running jobs whose lease expired to pending (or failed on their last attempt).

    Only one process rescues at a time (a transaction-level advisory lock); the others skip.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RESCUE_LOCK_ID])
            if not cursor.fetchone()[0]:
                return 0
        lost = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=Now())
        rescued = _release(lost, retry_delay=retry_delay, why="lease expired", limit=limit)
    if rescued:
        logger.warning("Rescued %d job(s) whose worker was lost", rescued)
    return rescued


@transaction.atomic
def jobs_release(*, workers: Iterable[str]) -> int:
    """Send the running jobs of these (killed) workers back to pending now, attempt recorded.

    For a cluster stopped past its grace period: not the job's fault, so the attempt the
    stop cut short never costs the job its last one.
    """
    running = Job.objects.filter(status=JobStatus.RUNNING, worker__in=list(workers))
    released = _release(running, retry_delay=None, why="cluster stopped")
    if released:
        logger.warning("Released %d job(s) of a stopped cluster back to pending", released)
    return released


def _release(jobs: Any, *, retry_delay: RetryDelay | None, why: str, limit: int = 500) -> int:
    """Close the open attempt of each job (outcome lost) and send it back, or fail it.

    With `retry_delay` (a rescue) a job retries by its policy and fails on its last attempt;
    without (a stopped cluster) it is due again now, one more attempt allowed if needed.
    """
    rows = list(
        jobs.select_for_update(skip_locked=True).values_list(
            "id", "type", "attempts", "max_attempts"
        )[:limit]
    )
    released = 0
    give_back = retry_delay is None
    for job_id, type_, attempt, max_attempts in rows:
        error = f"Worker lost: {why} during attempt {attempt}."
        retry_in: float | None = None
        if attempt < max_attempts or give_back:
            retry_in = retry_delay(type_, attempt) if retry_delay else 0.0
        changes: dict[str, Any] = {"last_error": error}
        if retry_in is None:
            changes.update(status=JobStatus.FAILED, completed_at=Now())
        else:
            changes.update(
                status=JobStatus.PENDING, scheduled_at=Now() + timedelta(seconds=retry_in)
            )
            if give_back and attempt >= max_attempts:
                changes["max_attempts"] = attempt + 1
        released += Job.objects.filter(
            pk=job_id, status=JobStatus.RUNNING, attempts=attempt
        ).update(worker="", lease_expires_at=None, updated_at=Now(), **changes)
        JobAttempt.objects.filter(job_id=job_id, number=attempt, outcome__isnull=True).update(
            outcome=AttemptOutcome.LOST, finished_at=Now(), error=error
        )
    return released


def paused_types() -> list[str]:
    """Return the paused job types (a small table, read once per dispatcher pass)."""
    return list(PausedJobType.objects.values_list("type", flat=True))


def jobs_take_due(*, limit: int = 1000, skip_types: Iterable[str] = ()) -> list[str]:
    """Mark due pending jobs not yet handed to the engine as handed off; return their ids.

    A job is due for hand-off when it was never handed, was rescheduled after its last
    hand-off (a retry), or was handed long ago and nobody claimed it (a lost delivery).
    Jobs of `skip_types` (the paused ones) stay where they are.
    """
    redeliver_before = timezone.now() - timedelta(seconds=settings.JOBS_REDELIVER_AFTER)
    due = Job.objects.select_for_update(skip_locked=True).filter(
        status=JobStatus.PENDING, scheduled_at__lte=Now()
    )
    skip = list(skip_types)
    if skip:  # nothing paused (the usual case): the plain query, no cost at all
        due = due.exclude(type__in=skip)
    with transaction.atomic():
        ids = list(
            due.filter(
                Q(handed_off_at__isnull=True)
                | Q(handed_off_at__lt=F("scheduled_at"))
                | Q(handed_off_at__lt=redeliver_before)
            )
            .order_by("-priority", "scheduled_at")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Job.objects.filter(pk__in=ids).update(handed_off_at=Now())
    return [str(i) for i in ids]
