"""The engine's task: execute one job by id, from claim to recorded outcome."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from controlplane.redaction import redact
from jobs import engine, execution
from jobs.context import JobContext
from jobs.engine.cluster import stopping
from jobs.errors import JobCancelled, JobTimeout, PermanentJobError
from jobs.models import AttemptOutcome
from jobs.registry import HandlerSpec, get_handler

logger = logging.getLogger("jobs")


def execute_job(job_id: str) -> None:
    """Claim job `job_id` and run its handler; a delivery that loses the claim does nothing."""
    if stopping():
        # The cluster is stopping: leave a queued job pending (the dispatcher hands it
        # again), so the stop waits only for the jobs already running.
        return
    ack_id = engine.delivery_ack_id(job_id)
    claim = execution.job_claim(job_id=job_id, worker=execution.worker_id(), ack_id=ack_id)
    if ack_id is not None:
        engine.delivery_acknowledged()
    if claim is None:
        return
    ctx = JobContext(
        job_id=claim.job_id,
        type=claim.type,
        payload=claim.payload,
        project_id=claim.project_id,
        attempt=claim.attempt,
        max_attempts=claim.max_attempts,
    )
    spec: HandlerSpec | None = None
    try:
        spec = get_handler(claim.type)
        ctx.payload = spec.validate(claim.payload)
        with _heartbeat(ctx, spec.timeout), _time_limit(spec.timeout):
            result = spec.func(ctx)
        json.dumps(result)  # a result that cannot be stored is the handler's bug: fail loudly
    except JobCancelled:
        _record(ctx, AttemptOutcome.CANCELLED, "Cancelled at the request of staff.", retry_in=None)
    except JobTimeout:
        timeout = spec.timeout if spec else 0
        _record(ctx, AttemptOutcome.TIMEOUT, f"Timed out after {timeout:g} s.", spec=spec)
    except (PermanentJobError, ValidationError) as exc:
        _record(ctx, AttemptOutcome.ERROR, _describe(exc), retry_in=None)
    except Exception as exc:
        _record(ctx, AttemptOutcome.ERROR, _describe(exc), spec=spec)
    else:
        execution.job_complete(job_id=ctx.job_id, attempt=ctx.attempt, result=result)


_NO_RETRY_GIVEN = object()


def _record(
    ctx: JobContext,
    outcome: AttemptOutcome,
    error: str,
    *,
    spec: HandlerSpec | None = None,
    retry_in: Any = _NO_RETRY_GIVEN,
) -> None:
    """Record a failed attempt, retrying by the type's policy unless this was the last one."""
    if retry_in is _NO_RETRY_GIVEN:
        retry_in = None if spec is None or ctx.is_last_attempt else spec.retry.delay(ctx.attempt)
    error = redact(error, ctx.secrets)  # before it is logged, not only before it is stored
    logger.info("Job %s attempt %s: %s (%s)", ctx.job_id, ctx.attempt, outcome, error)
    execution.job_fail_attempt(
        job_id=ctx.job_id,
        attempt=ctx.attempt,
        outcome=outcome,
        error=error,
        traceback=redact(traceback.format_exc(), ctx.secrets),
        retry_in=retry_in,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return f"Invalid payload: {json.dumps(exc.message_dict)}"
    return f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise JobTimeout in the handler after `seconds` (workers run tasks in the main thread)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise JobTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Heartbeat:
    """One lease-renewing thread per worker process, shared by the jobs it runs in turn.

    Starting a thread per job cost more than a no-op job itself, and so does waking one:
    `start()` and `stop()` only swap the current job under the lock, and the thread looks
    at it every half interval. A job shorter than one interval never meets the thread.
    A job's first beat comes between one and one and a half intervals after its start,
    with the interval a third of the lease. After beating (on its own connection) the
    thread closes that connection before `stop()` returns, as the per-job thread did.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.ctx: JobContext | None = None
        self.last_beat = 0.0
        self.renew_until = 0.0
        self.interval = self._interval()
        self.used_db = False
        self.thread = threading.Thread(target=self.run, name="jobs-heartbeat", daemon=True)
        self.thread.start()

    @staticmethod
    def _interval() -> float:
        return max(0.5, settings.JOBS_LEASE_SECONDS / 3)

    def start(self, ctx: JobContext, timeout: float) -> None:
        now = time.monotonic()
        # Past its timeout (plus a lease) a stuck handler stops being renewed, so it gets rescued.
        renew_for = (timeout if timeout > 0 else float("inf")) + settings.JOBS_LEASE_SECONDS
        with self.cond:
            self.ctx = ctx
            self.last_beat = now
            self.renew_until = now + renew_for
            if self._interval() != self.interval:  # settings changed (tests): re-time the poll
                self.interval = self._interval()
                self.cond.notify()

    def stop(self) -> None:
        with self.cond:
            self.ctx = None
            if self.used_db:
                self.cond.notify()
                while self.used_db and self.thread.is_alive():
                    self.cond.wait(timeout=5)

    def run(self) -> None:
        with self.cond:
            while True:
                ctx = self.ctx
                if ctx is None and self.used_db:
                    connection.close()
                    self.used_db = False
                    self.cond.notify_all()
                now = time.monotonic()
                if ctx is not None and self.last_beat + self.interval <= now <= self.renew_until:
                    self.last_beat = now
                    # Beating under the lock: stop() cannot return while a beat is in flight.
                    self.used_db = True
                    try:
                        if execution.job_heartbeat(job_id=ctx.job_id, attempt=ctx.attempt):
                            ctx._cancel_requested = True
                    except Exception:
                        logger.exception("Heartbeat of job %s failed", ctx.job_id)
                        connection.close()
                self.cond.wait(self.interval / 2)


_beater: _Heartbeat | None = None


@contextlib.contextmanager
def _heartbeat(ctx: JobContext, timeout: float) -> Iterator[None]:
    """Renew the lease while the handler runs (and notice cancellation), up to its timeout."""
    global _beater
    if _beater is None or _beater.pid != os.getpid() or not _beater.thread.is_alive():
        _beater = _Heartbeat()  # first job, or first job after a fork
    beater = _beater
    beater.start(ctx, timeout)
    try:
        yield
    finally:
        beater.stop()
