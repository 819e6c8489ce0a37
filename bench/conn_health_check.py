"""Print what django-q2's per-task connection check costs with CONN_HEALTH_CHECKS on and off.

Run: .venv/bin/python -m controlplane.embedded_pg exec --dir .embedded/pg-bench --
     .venv/bin/python bench/conn_health_check.py [--tasks 20000]
django-q2's worker calls close_old_django_connections() before every task; with health
checks on, the task's first Django cursor then costs one extra `SELECT 1`. The qcluster used
to turn the checks off for workers; this measures whether that earns its place. (The claim
and the outcome use the raw connection, jobs/execution.py, so they never trigger the check:
only a handler's own first ORM query does.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.db import connection  # noqa: E402
from django_q.utils import close_old_django_connections  # noqa: E402


def per_task(tasks: int, checks: bool) -> float:
    """Return microseconds per task of the check plus one claim-sized statement."""
    connection.settings_dict["CONN_HEALTH_CHECKS"] = checks
    connection.close()  # Django reads the setting when it connects
    connection.ensure_connection()
    assert connection.health_check_enabled == checks
    started = time.perf_counter()
    for _ in range(tasks):
        close_old_django_connections()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # stands for the task's own first statement
    return (time.perf_counter() - started) / tasks * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20000)
    args = parser.parse_args()
    per_task(args.tasks // 10, True)  # warm-up
    offs, ons = [], []
    for _ in range(3):  # alternate, so a change of load hits both alike
        offs.append(per_task(args.tasks, False))
        ons.append(per_task(args.tasks, True))
    connection.ensure_connection()
    started = time.perf_counter()
    for _ in range(args.tasks):
        connection.is_usable()  # the check itself: one SELECT 1 round trip
    check = (time.perf_counter() - started) / args.tasks * 1e6
    off, on = statistics.median(offs), statistics.median(ons)
    print(
        f"{args.tasks} tasks x3, load average {os.getloadavg()[0]:.2f}: checks off {off:.0f} µs,"
        f" on {on:.0f} µs per task (medians; the check alone {check:.0f} µs) -> "
        f"{on - off:.0f} µs per task"
    )


if __name__ == "__main__":
    main()
