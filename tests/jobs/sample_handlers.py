"""Job handlers used by the tests (loaded by qcluster via JOBS_EXTRA_HANDLER_MODULES)."""

from __future__ import annotations

import os
import time
from typing import Any

from django.db import connection
from django.utils.module_loading import import_string
from rest_framework import serializers

from jobs.context import JobContext
from jobs.errors import PermanentJobError
from jobs.registry import job_handler
from jobs.retry import RetryPolicy

FAST_RETRY = RetryPolicy(base=0.05, cap=0.2, jitter=0.5)
# The ledger holds each job's side effect once (unique); runs logs every execution.
LEDGER_SQL = """
CREATE TABLE IF NOT EXISTS test_job_ledger (
    job_id uuid PRIMARY KEY,
    attempt int NOT NULL,
    pid int NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS test_job_runs (
    job_id uuid NOT NULL, attempt int NOT NULL, pid int NOT NULL
);
"""


def record(ctx: JobContext) -> None:
    """Write the job's side effect exactly once (a retry after a crash finds it there)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO test_job_runs (job_id, attempt, pid) VALUES (%s, %s, %s)",
            [str(ctx.job_id), ctx.attempt, os.getpid()],
        )
        cursor.execute(
            "INSERT INTO test_job_ledger (job_id, attempt, pid) VALUES (%s, %s, %s)"
            " ON CONFLICT (job_id) DO NOTHING",
            [str(ctx.job_id), ctx.attempt, os.getpid()],
        )


class EchoPayload(serializers.Serializer):
    value = serializers.IntegerField(min_value=0)
    sleep = serializers.FloatField(required=False, default=0, min_value=0, max_value=30)


@job_handler("test.echo", payload=EchoPayload, retry=FAST_RETRY)
def echo(ctx: JobContext) -> dict[str, Any]:
    if ctx.payload["sleep"]:
        time.sleep(ctx.payload["sleep"])
    return {"value": ctx.payload["value"], "attempt": ctx.attempt}


@job_handler("test.noop", max_attempts=1)
def noop(ctx: JobContext) -> None:
    return None


@job_handler("test.ledger", retry=FAST_RETRY, max_attempts=5)
def ledger(ctx: JobContext) -> dict[str, Any]:
    time.sleep(float(ctx.payload.get("sleep", 0)))
    record(ctx)
    return {"ok": True}


@job_handler("test.flaky", retry=FAST_RETRY, max_attempts=3)
def flaky(ctx: JobContext) -> dict[str, Any]:
    """Fail until attempt `succeed_on`."""
    if ctx.attempt < ctx.payload["succeed_on"]:
        raise RuntimeError(f"transient failure on attempt {ctx.attempt}")
    return {"succeeded_on": ctx.attempt}


@job_handler("test.permanent", retry=FAST_RETRY, max_attempts=5)
def permanent(ctx: JobContext) -> None:
    raise PermanentJobError("project is gone")


@job_handler("test.secret_error", retry=FAST_RETRY, max_attempts=1)
def secret_error(ctx: JobContext) -> None:
    password = "canary-" + "tenant-pw-91f3"
    ctx.add_secret(password)
    raise RuntimeError(f"connection failed for password={password}")


@job_handler("test.exit", retry=FAST_RETRY, max_attempts=2)
def hard_exit(ctx: JobContext) -> None:
    os._exit(17)  # the worker process dies mid-job, every time


@job_handler("test.slow", retry=FAST_RETRY, max_attempts=1, timeout=1)
def slow(ctx: JobContext) -> None:
    time.sleep(float(ctx.payload.get("sleep", 5)))


@job_handler("test.long", retry=FAST_RETRY, max_attempts=2, timeout=60)
def long(ctx: JobContext) -> dict[str, Any]:
    """Run past the lease without reporting progress: only the heartbeat keeps it."""
    time.sleep(float(ctx.payload["sleep"]))
    return {"slept": ctx.payload["sleep"]}


@job_handler("test.cancellable", retry=FAST_RETRY, max_attempts=1, timeout=60)
def cancellable(ctx: JobContext) -> dict[str, Any]:
    for step in range(int(ctx.payload.get("steps", 600))):
        ctx.report_progress("working", bytes=step, percent=None)
        ctx.check_cancelled()
        time.sleep(0.05)
    return {"finished": True}


@job_handler("test.raise", retry=FAST_RETRY, max_attempts=3)
def raise_error(ctx: JobContext) -> None:
    """Raise the exception class named by the payload (a dotted path), with one message."""
    raise import_string(ctx.payload["error"])("raised by test.raise")


class SecretPathPayload(serializers.Serializer):
    name = serializers.CharField()
    secret_path = serializers.CharField()


@job_handler("test.sensitive", max_attempts=1, sensitive=("token",))
def sensitive(ctx: JobContext) -> None:
    """Declare a payload field sensitive: masked on the job's page for non-operators."""
    return None
