"""The dispatcher loop: hand due jobs to the engine and rescue jobs whose worker was lost.

django-q2's scheduler ticks about every 30 s; this loop makes a delayed or retrying job
start within a second of its due time, and a new job as soon as its INSERT commits (it
listens for the trigger's NOTIFY). Each qcluster runs one (see the qcluster command);
several on several hosts are safe: hand-off uses SKIP LOCKED, rescue an advisory lock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

from jobs.engine import hand_off
from jobs.execution import jobs_rescue_lost, jobs_take_due, paused_types
from jobs.registry import retry_delay
from jobs.scheduling import schedules_sync

logger = logging.getLogger("jobs.dispatcher")
BATCH = 1000
# NOTIFY channel: a trigger on jobs_job signals it when a job waits for its hand-off.
DUE_CHANNEL = "jobs_due"
_listening: Any = None  # the connection that LISTENs (a reconnect must subscribe again)


def dispatch_once() -> int:
    """Hand every due job of an unpaused type to django-q2 (in batches); return the count."""
    total = 0
    paused = paused_types()
    while True:
        ids = jobs_take_due(limit=BATCH, skip_types=paused)
        hand_off(ids)
        total += len(ids)
        if len(ids) < BATCH:
            return total


def run(stop: threading.Event) -> None:
    """Loop until `stop` is set."""
    last_rescue = 0.0
    schedules_ready = False
    logger.info("Job dispatcher running (pid %s)", os.getpid())
    while not stop.is_set():
        try:
            if not schedules_ready:
                _sync_schedules()
                schedules_ready = True
            dispatch_once()
            if time.monotonic() - last_rescue >= settings.JOBS_RESCUE_INTERVAL:
                last_rescue = time.monotonic()
                jobs_rescue_lost(retry_delay=retry_delay)
            _wait_for_due_jobs(settings.JOBS_DISPATCH_INTERVAL)
        except DatabaseError:
            logger.exception("Dispatcher lost the database; retrying")
            connection.close()
            stop.wait(2)
    connection.close()


def _sync_schedules() -> None:
    """Sync the declared schedules; a broken declaration must not stop the dispatching."""
    try:
        schedules_sync()
    except DatabaseError:
        raise  # the loop waits for the database and tries again
    except Exception:
        logger.exception("Schedules not synced: fix the declarations (see jobs.scheduling)")


def _wait_for_due_jobs(timeout: float) -> None:
    """Wait up to `timeout` seconds, returning early when a job waits for its hand-off.

    Enqueueing NOTIFYs DUE_CHANNEL (a trigger, see jobs/migrations/0004); notifications
    that arrived meanwhile are consumed at once. The timeout bounds the wait for due
    delayed jobs and for the dispatcher's stop.
    """
    global _listening
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:
        if raw is not _listening:  # a new connection: subscribe it
            raw.execute(f"LISTEN {DUE_CHANNEL}")
            _listening = raw
        for _ in raw.notifies(timeout=timeout, stop_after=1):
            pass
