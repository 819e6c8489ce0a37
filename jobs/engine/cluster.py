"""Run a django-q2 cluster: wait for the database, start the sentinel, stop on a flag.

django-q2's own `Cluster` stops the sentinel inside its SIGTERM handler, and the sentinel
and workers die on SIGTERM themselves: when the signal reaches the whole process group
(systemd's default KillMode, `kill -TERM -<pgid>`) the handler deadlocks on a
multiprocessing event the killed sentinel left locked (django-q2#346), running jobs die
mid-flight, and the cluster lingers until SIGKILL. Here:

- the main process's SIGTERM/SIGINT handler only sets a flag; the main loop stops;
- the sentinel, and everything it forks, ignores SIGTERM and SIGINT: workers leave
  stopping to the sentinel, which django-q2 already does in order (pusher first, then a
  STOP pill per worker after its current task, then the monitor);
- a worker about to start a queued task while the cluster stops leaves it for later
  (`stopping()`), so the stop waits only for tasks already running;
- past the grace period the remaining processes are killed and `on_abandoned` gets the
  pids of the workers that were still running something, so their jobs go back to pending.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connection, connections
from django_q.cluster import Sentinel
from django_q.conf import Conf
from django_q.humanhash import humanize

logger = logging.getLogger("jobs.cluster")

# Set in the sentinel before it forks, so every worker shares it (see `stopping`).
_stop_event: Any = None


def stopping() -> bool:
    """Return True in a worker once its cluster has begun to stop."""
    return _stop_event is not None and _stop_event.is_set()


def _sentinel_main(stop_event: Any, start_event: Any, cluster_id: uuid.UUID) -> None:
    global _stop_event
    sentinel = Sentinel(stop_event, start_event, cluster_id, start=False)
    # After Sentinel's own setup (which restores SIGTERM's default): the main process
    # alone decides when to stop, through stop_event; the forks inherit these.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_event = stop_event
    sentinel.start()


def wait_for_database(*, should_stop: Callable[[], bool], log_every: float = 5.0) -> bool:
    """Block until the default database answers (backing off); False if told to stop first."""
    delay, waited_since, last_log, failed = 0.2, time.monotonic(), 0.0, False
    while True:
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            if failed:
                logger.info(
                    "The database is reachable after %.0f s", time.monotonic() - waited_since
                )
            return True
        except DatabaseError as exc:
            failed = True
            connection.close()
            now = time.monotonic()
            if now - last_log >= log_every:
                last_log = now
                logger.warning(
                    "Waiting for the database (%.0f s so far): %s",
                    now - waited_since,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                )
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if should_stop():
                return False
            time.sleep(0.1)
        delay = min(delay * 2, 5.0)


def _children(pid: int) -> list[int]:
    """Return the pids of every descendant of `pid` (Linux /proc; empty elsewhere)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found.extend(kids)
        frontier.extend(kids)
    return found


class ClusterRunner:
    """One django-q2 cluster in this process's lifetime, stopped by a flag within a grace."""

    def __init__(self, *, grace: float) -> None:
        self.grace = grace
        self.signalled: int | None = None
        self.cluster_id = uuid.uuid4()
        self.name = humanize(self.cluster_id.hex)
        self.sentinel: Any = None
        self.stop_event: Any = None

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signalled = signum  # nothing else: the main loop does the stopping

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def should_stop(self) -> bool:
        return self.signalled is not None

    def start(self) -> bool:
        """Start the sentinel once the database answers; False if told to stop meanwhile."""
        mp = multiprocessing.get_context("fork")
        while not self.should_stop():
            if not wait_for_database(should_stop=self.should_stop):
                return False
            connections.close_all()  # never share a connection with the forks
            self.stop_event, start_event = mp.Event(), mp.Event()
            self.sentinel = mp.Process(
                target=_sentinel_main,
                args=(self.stop_event, start_event, self.cluster_id),
                name=f"Process-{uuid.uuid4().hex}",
            )
            self.sentinel.start()
            logger.info("Q Cluster %s starting (pid %s).", self.name, os.getpid())
            while not start_event.is_set() and self.sentinel.is_alive():
                if self.should_stop():
                    return True  # started enough to be stopped in order
                time.sleep(0.1)
            if start_event.is_set():
                return True
            # The sentinel died starting (the database went away again): wait and retry.
            logger.error("Sentinel exited with code %s while starting", self.sentinel.exitcode)
        return False

    def wait(self) -> None:
        """Return once a signal asked to stop, or the sentinel is gone."""
        while not self.should_stop() and self.sentinel.is_alive():
            time.sleep(0.2)

    def stop(self, *, on_abandoned: Callable[[list[str]], Any]) -> bool:
        """Stop the sentinel in order within the grace period; True if it stopped in time.

        Past the grace every process left is killed and `on_abandoned` gets the worker ids
        (`host:pid`, as the worker writes them on its job) of all of them.
        """
        if self.sentinel is None or not self.sentinel.is_alive():
            return True
        why = Conf.SIGNAL_NAMES.get(self.signalled, "sentinel gone") if self.signalled else "exit"
        logger.info("Q Cluster %s stopping (%s); grace %.0f s", self.name, why, self.grace)
        started = time.monotonic()
        self.stop_event.set()
        self.sentinel.join(timeout=max(0.0, self.grace - 1.0))
        if not self.sentinel.is_alive():
            logger.info("Q Cluster %s stopped in %.1f s", self.name, time.monotonic() - started)
            return True
        pids = _children(self.sentinel.pid)
        logger.warning(
            "Q Cluster %s still busy after %.0f s: killing %d process(es)",
            self.name,
            time.monotonic() - started,
            len(pids) + 1,
        )
        for pid in [self.sentinel.pid, *pids]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.sentinel.join(timeout=5)
        host = socket.gethostname()
        on_abandoned([f"{host}:{pid}" for pid in pids])
        return False
