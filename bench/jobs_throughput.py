"""Print job-system throughput and latency next to raw django-q2, procrastinate and pgqueuer.

Run (never a test): .venv/bin/python bench/jobs_throughput.py [--jobs 5000] [--workers 2]
[--runs 3] (ratios to raw django-q2 and procrastinate, per run and their median).
It starts its own durable PostgreSQL cluster (fsync on) under .embedded/bench-jobs, creates
and migrates fresh databases there, and stops it at the end (also on Ctrl-C or an error).
Competitors come from bench/requirements.txt; a missing one is skipped with a message.
Targets (issue 10): ours >= 0.6x raw django-q2 without results and >= 0.8x procrastinate
(medians); pickup p50 <= 0.3 s; due-time lateness p95 <= 2 s. (Issue 3's: enqueue >= 2,000/s
single, >= 20,000/s bulk.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DIR = ROOT / ".embedded" / "bench-jobs"
LOG_DIR = BENCH_DIR / "logs"
DATABASES = {"ours": "jobs_bench", "procrastinate": "bench_procrastinate", "pgqueuer": "bench_pgq"}
CHILDREN: list[subprocess.Popen[bytes]] = []
RAW: list[str] = []  # raw timings, printed again under the table


def log(message: str) -> None:
    RAW.append(message)
    print(f"  {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# --- processes ------------------------------------------------------------------------


def spawn(args: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    """Start a child in its own session (Ctrl-C reaches only us), logging to a file."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / f"{log_name}.log", "wb") as out:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    CHILDREN.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM the child (qcluster stops its own workers), then kill its group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of that child's group only
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def wait_done(
    done: Callable[[], int], total: int, started: float, timeout: float = 300
) -> tuple[float, float]:
    """Poll `done()` until it reaches `total`; return (seconds since `started`, steady rate/s).

    The steady rate runs from the first poll that saw progress, so it leaves out start-up.
    """
    first_at, first_count = 0.0, 0
    deadline = time.perf_counter() + timeout
    while True:
        count = done()
        now = time.perf_counter()
        if not first_at and count > 0:
            first_at, first_count = now, count
        if count >= total:
            break
        if now > deadline:
            raise RuntimeError(f"only {count} of {total} done after {timeout:.0f} s")
        time.sleep(0.02)
    steady = (total - first_count) / (now - first_at) if now > first_at > 0 else 0.0
    return now - started, steady


# --- the database ---------------------------------------------------------------------


def conninfo(cluster: Any, dbname: str) -> str:
    from controlplane.embedded_pg import PORT, SUPERUSER

    return f"host={cluster.socketdir} port={PORT} user={SUPERUSER} dbname={dbname}"


def recreate_databases(cluster: Any) -> str:
    """Drop and create the benchmark's databases; return the server's settings in a line."""
    import psycopg

    with psycopg.connect(conninfo(cluster, "postgres"), autocommit=True) as conn:
        for name in DATABASES.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        show = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        }
    return " | ".join(f"{k} {v}" for k, v in show.items())


SECRET_NAMES = ("SECRET_KEY", "JWT_SECRET", "CRON_SECRET", "API_KEY_PEPPER")


def django_env(cluster: Any, workers: int) -> dict[str, str]:
    """Return production-like settings (DEBUG off: no query log) with throwaway secrets."""
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    # The same throwaway secrets for every run: this process signs what the clusters read.
    for name in (*SECRET_NAMES, "PROVISIONING_ENCRYPTION_KEY"):
        env[name] = os.environ.get(name) or secrets.token_urlsafe(48)
    env.update(
        DEBUG="0",
        DATABASE_URL=cluster.url(DATABASES["ours"]),
        DJANGO_SETTINGS_MODULE="controlplane.settings",
        CONN_MAX_AGE="600",
        Q_WORKERS=str(workers),
        JOBS_EXTRA_HANDLER_MODULES="bench.jobs_handlers",
        PYTHONUNBUFFERED="1",
    )
    return env


# --- ours and raw django-q2 (same server, same settings) -----------------------------


class Ours:
    """Enqueue in this process; drain with `manage.py qcluster` (its dispatcher included)."""

    def __init__(self, env: dict[str, str], info: str) -> None:
        import psycopg

        self.env = env
        self.db = psycopg.connect(info, autocommit=True)

    def one(self, query: str) -> Any:
        return self.db.execute(query).fetchone()[0]

    def reset(self) -> None:
        # CASCADE: other apps' rows may point at jobs (this is the benchmark's own database).
        self.db.execute("TRUNCATE jobs_jobattempt, jobs_job, django_q_ormq, django_q_task CASCADE")

    def qcluster(self, name: str) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, "manage.py", "qcluster"], self.env, name)

    def completed(self) -> int:
        return self.one("SELECT count(*) FROM jobs_job WHERE status = 'completed'")

    def drain(self, n: int, label: str) -> tuple[float, float]:
        """Start a qcluster and time it until all N jobs are completed with their attempt."""
        self.db.execute("ANALYZE jobs_job")
        started = time.perf_counter()
        proc = self.qcluster(label)
        try:
            wall, steady = wait_done(self.completed, n, started)
        finally:
            stop(proc)
        attempts, jobs, done = self.db.execute(
            "SELECT count(*), count(DISTINCT job_id), count(*) FILTER (WHERE outcome = "
            "'completed') FROM jobs_jobattempt"
        ).fetchone()  # type: ignore[misc]
        assert attempts == jobs == done == n, f"attempt rows {attempts}/{jobs}/{done} for {n}"
        span = float(
            self.one("SELECT extract(epoch FROM max(completed_at) - min(started_at)) FROM jobs_job")
        )
        log(
            f"{label}: {n} completed, one attempt each, {wall:.2f} s after qcluster start "
            f"({n / wall:.0f}/s); steady {steady:.0f}/s; first start -> last completion "
            f"{span:.2f} s ({n / span:.0f}/s)"
        )
        return n / wall, steady

    def live(self, n: int) -> float:
        """A running qcluster drains while this process enqueues N jobs, each committed.

        End to end as a client sees it: first enqueue -> last completion (start-up excluded).
        """
        proc = self.qcluster("ours, live cluster")
        try:
            self.enqueue_single(1, in_transaction=True)  # warm-up: the cluster is serving
            wait_done(self.completed, 1, time.perf_counter(), timeout=60)
            base = self.completed()
            started = time.perf_counter()
            self.enqueue_single(n, in_transaction=True)
            wall, _ = wait_done(lambda: self.completed() - base, n, started)
        finally:
            stop(proc)
        log(f"live cluster: {n} jobs enqueued and completed in {wall:.2f} s ({n / wall:.0f}/s)")
        return n / wall

    def enqueue_single(self, n: int, *, in_transaction: bool) -> float:
        """N x enqueue_job, each committed: inside a caller's transaction, or standalone."""
        from django.db import transaction

        from bench.jobs_handlers import NOOP_TYPE
        from jobs.services import enqueue_job

        wrap = transaction.atomic if in_transaction else contextlib.nullcontext
        started = time.perf_counter()
        for _ in range(n):
            with wrap():
                enqueue_job(type=NOOP_TYPE, payload={})[0]
        seconds = time.perf_counter() - started
        how = "each in a caller's transaction" if in_transaction else "standalone (autocommit)"
        log(f"enqueue_job x{n}, {how}: {seconds:.2f} s ({n / seconds:.0f}/s)")
        return n / seconds

    def enqueue_bulk(self, n: int) -> float:
        from django.db import transaction

        from bench.jobs_handlers import NOOP_TYPE
        from jobs.services import JobSpec, enqueue_jobs_bulk

        specs = [JobSpec(type=NOOP_TYPE) for _ in range(n)]
        started = time.perf_counter()
        with transaction.atomic():
            enqueue_jobs_bulk(jobs=specs)
        seconds = time.perf_counter() - started
        log(f"enqueue_jobs_bulk of {n}: {seconds:.2f} s ({n / seconds:.0f}/s)")
        return n / seconds

    def latency(self, pickups: int, due: int) -> tuple[list[float], list[float]]:
        """Return pickup latencies (commit -> started_at) and due-time lateness, idle cluster."""
        from django.db import transaction
        from django.utils import timezone

        from bench.jobs_handlers import NOOP_TYPE
        from jobs.models import Job
        from jobs.services import enqueue_job

        self.reset()
        proc = self.qcluster("ours-latency")
        try:
            enqueue_job(type=NOOP_TYPE, payload={})[0]  # warm-up: wait until the cluster runs
            wait_done(self.completed, 1, time.perf_counter(), timeout=60)
            time.sleep(1.0)
            commits: dict[Any, Any] = {}
            for _ in range(pickups):
                stamp: list[Any] = []

                def committed(stamp: list[Any] = stamp) -> None:
                    stamp.append(timezone.now())

                with transaction.atomic():
                    # Registered first, so it runs at commit, before the hand-off callback.
                    transaction.on_commit(committed)
                    job = enqueue_job(type=NOOP_TYPE, payload={})[0]
                commits[job.pk] = stamp[0]
                time.sleep(0.05)
            wait_done(self.completed, 1 + pickups, time.perf_counter(), timeout=60)
            started = Job.objects.filter(pk__in=list(commits)).values_list("pk", "started_at")
            pickup = [(at - commits[pk]).total_seconds() for pk, at in started if at]
            due_ids = []
            for _ in range(due):
                at = timezone.now() + timedelta(seconds=random.uniform(1, 3))
                due_ids.append(enqueue_job(type=NOOP_TYPE, payload={}, scheduled_at=at)[0].pk)
                time.sleep(0.02)
            wait_done(self.completed, 1 + pickups + due, time.perf_counter(), timeout=60)
            rows = Job.objects.filter(pk__in=due_ids).values_list("scheduled_at", "started_at")
            late = [(began - at).total_seconds() for at, began in rows if began]
        finally:
            stop(proc)
        for name, values, spacing in (
            ("pickup latency", pickup, "50 ms apart, each committed"),
            ("due-time lateness", late, "due in 1-3 s"),
        ):
            log(
                f"{name} over {len(values)} jobs ({spacing}): p50 {percentile(values, 0.5):.3f}"
                f" s, p95 {percentile(values, 0.95):.3f} s, max {max(values):.3f} s"
            )
        return pickup, late

    def raw_django_q(self, n: int, save: bool) -> tuple[float, float, float]:
        """N x async_task of a no-op function, drained by a qcluster; results saved or not."""
        from django_q.tasks import async_task

        self.reset()
        started = time.perf_counter()
        for _ in range(n):
            async_task("bench.jobs_handlers.noop_task", q_options={"save": save})
        seconds = time.perf_counter() - started
        self.db.execute("ANALYZE django_q_ormq")
        t0 = time.perf_counter()
        proc = self.qcluster(f"django-q2-save-{save}")
        try:
            wall, steady = wait_done(
                lambda: n - self.one("SELECT count(*) FROM django_q_ormq"), n, t0
            )
        finally:
            stop(proc)
        kept = self.one("SELECT count(*) FROM django_q_task")
        log(
            f"django-q2 save={save}: async_task x{n} {seconds:.2f} s ({n / seconds:.0f}/s); "
            f"drained in {wall:.2f} s after qcluster start ({n / wall:.0f}/s), steady "
            f"{steady:.0f}/s; task rows kept {kept} (Q_SAVE_LIMIT)"
        )
        return n / seconds, n / wall, steady


# --- competitors: each drains with `workers` processes of this very script ------------


def procrastinate_app(info: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=info))

    @app.task(name="noop")
    async def noop() -> None:
        return None

    return app


async def pgqueuer_main(info: str, *, install: bool = False) -> None:
    """Install pgqueuer's schema, or run one draining worker with a no-op entrypoint."""
    import psycopg
    from pgqueuer import PgQueuer, PsycopgDriver, Queries
    from pgqueuer.models import Job
    from pgqueuer.types import QueueExecutionMode

    async with await psycopg.AsyncConnection.connect(info, autocommit=True) as conn:
        if install:
            await Queries(PsycopgDriver(conn)).install()
            return
        pgq = PgQueuer.from_psycopg_connection(conn)

        @pgq.entrypoint("noop")
        async def noop(job: Job) -> None:
            return None

        await pgq.run(mode=QueueExecutionMode.drain)


def run_worker(kind: str, info: str) -> None:
    if kind == "procrastinate":
        procrastinate_app(info).run_worker(wait=False, concurrency=1)
    else:
        asyncio.run(pgqueuer_main(info))


def competitor(kind: str, info: str, n: int, workers: int) -> tuple[float, float, float, float]:
    """Enqueue N one by one (each committed), drain them, then time one batch enqueue of N."""
    import psycopg

    db = psycopg.connect(info, autocommit=True)
    if kind == "procrastinate":
        app = procrastinate_app(info).open()
        app.schema_manager.apply_schema()
        task = app.tasks["noop"]

        def enqueue_one() -> None:
            task.defer()

        def enqueue_batch() -> None:
            task.batch_defer(*({} for _ in range(n)))

        pending = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    else:
        from pgqueuer.db import SyncPsycopgDriver
        from pgqueuer.queries import SyncQueries

        asyncio.run(pgqueuer_main(info, install=True))
        queries = SyncQueries(SyncPsycopgDriver(psycopg.connect(info, autocommit=True)))

        def enqueue_one() -> None:
            queries.enqueue("noop", None)

        def enqueue_batch() -> None:
            queries.enqueue(["noop"] * n, [None] * n, [0] * n)

        pending = "SELECT count(*) FROM pgqueuer"
    started = time.perf_counter()
    for _ in range(n):
        enqueue_one()
    single = n / (time.perf_counter() - started)
    db.execute("ANALYZE")
    t0 = time.perf_counter()
    args = [sys.executable, __file__, "--worker", kind, "--conninfo", info]
    procs = [spawn(args, dict(os.environ), f"{kind}-worker-{i}") for i in range(workers)]
    try:
        wall, steady = wait_done(lambda: n - db.execute(pending).fetchone()[0], n, t0)
        for proc in procs:
            proc.wait(timeout=30)  # both drain and exit
    finally:
        for proc in procs:
            stop(proc, grace=5)
    if kind == "procrastinate":
        ok = db.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")
        assert ok.fetchone()[0] == n
    started = time.perf_counter()
    enqueue_batch()
    batch = n / (time.perf_counter() - started)
    log(
        f"{kind} {version(kind)}: enqueue x{n} one by one {single:.0f}/s, one batch "
        f"{batch:.0f}/s; {workers} worker processes drained {n} in {wall:.2f} s from spawn "
        f"({n / wall:.0f}/s), steady {steady:.0f}/s"
    )
    if kind == "procrastinate":
        app.close()
    db.close()
    return single, batch, n / wall, steady


# --- the run --------------------------------------------------------------------------


@contextlib.contextmanager
def private_cluster() -> Iterator[Any]:
    """Start the benchmark's own durable cluster; stop it (and our children) however we leave."""
    from controlplane.embedded_pg import EmbeddedPostgres

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    cluster = EmbeddedPostgres(BENCH_DIR / "pg")
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        cluster.start()  # durable defaults: fsync and synchronous_commit on
        yield cluster
    finally:
        for proc in list(CHILDREN):
            stop(proc, grace=5)
        cluster.stop()
        signal.signal(signal.SIGTERM, previous)


def measure(
    args: argparse.Namespace, cluster: Any, *, first: bool = True
) -> tuple[list[tuple[str, ...]], dict[str, float]]:
    """Run every selected measurement; return the table's rows and the figures compared.

    Runs after the first skip what no ratio needs (the big bulk, django-q2 with results,
    pgqueuer), so `--runs 3` costs about twice one run, not three times.
    """
    only, n = set(args.only.split(",")), args.jobs
    rows: list[tuple[str, ...]] = []
    figures: dict[str, float] = {}
    print(recreate_databases(cluster))
    env = django_env(cluster, args.workers)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update({**env, "LOG_LEVEL": "WARNING"})  # this process only: no per-task lines
    import django

    if first:
        django.setup()
    print(
        f"N={n}, {args.workers} worker processes, CONN_MAX_AGE=600, DEBUG off, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; Python "
        f"{sys.version.split()[0]}, Django {version('django')}, django-q2 "
        f"{version('django-q2')}, psycopg {version('psycopg')}"
    )
    ours = Ours(env, conninfo(cluster, DATABASES["ours"]))
    if "ours" in only:
        ours.reset()
        alone = ours.enqueue_single(n, in_transaction=False)
        ours.reset()
        single = ours.enqueue_single(n, in_transaction=True)
        wall, steady = ours.drain(n, "ours, jobs from enqueue_job")
        figures["ours"], figures["ours steady"] = wall, steady
        rows.append(
            (
                "ours, enqueue_job (in txn / alone)",
                f"{single:.0f} / {alone:.0f}",
                f"{wall:.0f} ({steady:.0f})",
                "",
                "",
            )
        )
        ours.reset()
        live = ours.live(n)
        rows.append(("ours, live cluster (enqueue_job while it drains)", "", f"{live:.0f}", "", ""))
        ours.reset()
        bulk = f"{ours.enqueue_bulk(n):.0f}"
        wall, steady = ours.drain(n, "ours, jobs from enqueue_jobs_bulk")
        if args.big_bulk and first:
            ours.reset()
            bulk += f"; {ours.enqueue_bulk(args.big_bulk):.0f} of {args.big_bulk:,}"
        rows.append(("ours, enqueue_jobs_bulk", bulk, f"{wall:.0f} ({steady:.0f})", "", ""))
        pickup, late = ours.latency(args.pickups, args.due)
        figures["pickup p50"] = percentile(pickup, 0.5)
        figures["lateness p95"] = percentile(late, 0.95)
        rows.append(
            (
                "ours, idle cluster",
                "",
                "",
                f"{percentile(pickup, 0.5):.3f} / {percentile(pickup, 0.95):.3f}",
                f"{percentile(late, 0.5):.3f} / {percentile(late, 0.95):.3f}",
            )
        )
    if "django-q2" in only:
        for save in (True, False) if first else (False,):
            enqueued, wall, steady = ours.raw_django_q(n, save)
            if not save:
                figures["django-q2"] = wall
            rows.append(
                (
                    f"django-q2 {version('django-q2')} async_task, save={save}",
                    f"{enqueued:.0f}",
                    f"{wall:.0f} ({steady:.0f})",
                    "",
                    "",
                )
            )
    ours.db.close()
    from django.db import connections

    connections.close_all()
    for kind in ("procrastinate", "pgqueuer"):
        if kind not in only or (kind == "pgqueuer" and not first):
            continue
        if version(kind) is None:
            print(f"  {kind} is not installed: skipped (pip install -r bench/requirements.txt)")
            continue
        single_, batch, wall, steady = competitor(
            kind, conninfo(cluster, DATABASES[kind]), n, args.workers
        )
        figures[kind] = wall
        rows.append(
            (
                f"{kind} {version(kind)}",
                f"{single_:.0f} / {batch:.0f}",
                f"{wall:.0f} ({steady:.0f})",
                "",
                "",
            )
        )
    return rows, figures


def print_ratios(runs: list[dict[str, float]]) -> None:
    """Print each run's ratios (ours vs raw django-q2 without results, vs procrastinate)."""
    print("\nRatios, jobs/s from cluster start (targets: >= 0.6x django-q2 save=False, >= 0.8x")
    print("procrastinate; pickup p50 <= 0.3 s; due-time lateness p95 <= 2 s):")
    columns = {"vs django-q2": "django-q2", "vs procrastinate": "procrastinate"}
    table: dict[str, list[float]] = {name: [] for name in [*columns, "pickup p50", "late p95"]}
    for number, figures in enumerate(runs, 1):
        parts = [f"ours {figures.get('ours', 0):.0f}/s"]
        for name, other in columns.items():
            if figures.get(other) and figures.get("ours"):
                ratio = figures["ours"] / figures[other]
                table[name].append(ratio)
                parts.append(f"{other} {figures[other]:.0f}/s -> {ratio:.2f}x")
        if "pickup p50" in figures:
            table["pickup p50"].append(figures["pickup p50"])
            table["late p95"].append(figures["lateness p95"])
            parts.append(f"pickup p50 {figures['pickup p50']:.3f} s")
            parts.append(f"lateness p95 {figures['lateness p95']:.3f} s")
        print(f"  run {number}: " + "; ".join(parts))
    medians = [
        f"{name} {statistics.median(values):.2f}{'x' if name.startswith('vs') else ' s'}"
        for name, values in table.items()
        if values
    ]
    print(f"  median of {len(runs)}: " + "; ".join(medians))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000, help="N no-op jobs per measurement")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--big-bulk", type=int, default=100_000, help="0 skips it")
    parser.add_argument("--pickups", type=int, default=200)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--only", default="ours,django-q2,procrastinate,pgqueuer")
    parser.add_argument("--runs", type=int, default=1, help="repeat; ratios use the median")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a competitor's worker process
    parser.add_argument("--conninfo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.conninfo)
        return
    logging.getLogger("procrastinate").setLevel(logging.ERROR)  # its "app in __main__" note
    runs: list[dict[str, float]] = []
    with private_cluster() as cluster:
        for run in range(max(1, args.runs)):
            print(f"\n--- run {run + 1} of {args.runs} ---")
            run_rows, figures = measure(args, cluster, first=run == 0)
            if run == 0:
                rows = run_rows
            runs.append(figures)
    header = (
        "system",
        "enqueue/s (single / bulk)",
        "drain or end-to-end/s (steady)",
        "pickup p50 / p95 s",
        "due-time late p50 / p95 s",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(
        "Targets (issue 3): enqueue >= 2,000/s single, >= 20,000/s bulk; pickup p50 <= 0.3 s,"
        " p95 <= 1 s; due-time lateness p95 <= 2 s. Issue 10's ratios are below."
    )
    print_ratios(runs)
    print(
        f"Load average at the end: {os.getloadavg()[0]:.2f} (other work on the host skews"
        " figures).\n\nRaw timings:"
    )
    for line in RAW:
        print(f"  {line}")


if __name__ == "__main__":
    main()
