"""Synthetic history for benchmarks and demos: projects, jobs, attempts, backups, backfill.

Everything is generated inside PostgreSQL (`INSERT … SELECT generate_series`), so a million
jobs take seconds of Python and about a minute of database time. Nothing seeded ever runs:
pending jobs are scheduled ten years ahead (the dispatcher only hands off due jobs) and
running ones hold a ten-year lease of the worker `synthetic` (the rescuer only takes expired
leases). Staff who press "Run now" on one get an honest failure (the project has no schema).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from jobs.registry import get_handler

PROJECT_PREFIX = "synth-"
SYNTHETIC_WORKER = "synthetic"
NEVER_DUE = "3650 days"
# (type, share of jobs, needs a project): the registered types of the apps.
TYPE_MIX = [
    ("export_backup", 0.50, True),
    ("verify_backup", 0.10, True),
    ("backfill_month", 0.20, False),
    ("provision_project", 0.05, True),
    ("rotate_key", 0.15, True),
]
ERRORS = [
    "pg_dump: error: connection to server on socket failed: No such file or directory",
    "Timed out after 1800 s",
    "Worker lost: lease expired during attempt {n}.",
    "ServiceCallError: auth service answered 503 Service Unavailable",
    "Gemini quota exhausted for today",
    "BackupError: dump larger than BACKUPS_MAX_BYTES",
]
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/controlplane/jobs/execution.py", line 211, in run_job\n'
    "    result = spec.func(ctx)\n"
    '  File "/srv/controlplane/backups/handlers.py", line 58, in export_backup\n'
    "    backup = backup_export(project=project, job_id=ctx.job_id)\n"
)
CHUNK = 100_000


@dataclass(frozen=True)
class SeedCounts:
    projects: int
    jobs: int
    attempts: int
    backups: int
    backfill_months: int
    many_attempts_job: str


def _type_table() -> str:
    """Return a VALUES list of (type, cumulative share upper bound, max_attempts, project)."""
    rows, upper = [], 0.0
    for type_, share, with_project in TYPE_MIX:
        upper += share
        max_attempts = get_handler(type_).max_attempts
        rows.append(f"('{type_}', {upper:.4f}::float8, {max_attempts}, {str(with_project).lower()})")
    return ", ".join(rows)


def seed_projects(cursor: CursorWrapper, count: int) -> int:
    """Insert `synth-NNNNN` projects (idempotent); return how many exist."""
    cursor.execute(
        """
        INSERT INTO controlplane_project
            (slug, name, status, region, owner_id, organization_id, created_at,
             suspended_at, suspended_reason, status_reason)
        SELECT %(prefix)s || lpad(i::text, 5, '0'),
               'Synthetic project ' || i,
               s.status,
               (ARRAY['eu-west', 'us-east', 'ap-south', 'local'])[1 + i %% 4],
               'owner-' || (i %% 97), 'org-' || (i %% 31),
               now() - make_interval(days => 30 + i %% 300),
               CASE WHEN s.status = 'SUSPENDED' THEN now() - make_interval(days => i %% 20) END,
               CASE WHEN s.status = 'SUSPENDED' THEN 'Unpaid invoice' ELSE '' END,
               CASE WHEN s.status = 'PROVISION_FAILED'
                    THEN 'Step services failed: auth service answered 503' ELSE '' END
          FROM generate_series(1, %(count)s) AS i
          CROSS JOIN LATERAL (SELECT CASE
                WHEN i %% 50 = 0 THEN 'SUSPENDED'
                WHEN i %% 97 = 0 THEN 'PROVISION_FAILED'
                WHEN i %% 89 = 0 THEN 'PROVISIONING'
                ELSE 'ACTIVE' END AS status) AS s
        ON CONFLICT (slug) DO NOTHING
        """,
        {"prefix": PROJECT_PREFIX, "count": count},
    )
    cursor.execute(
        "SELECT count(*) FROM controlplane_project WHERE slug LIKE %s", [PROJECT_PREFIX + "%"]
    )
    return int(cursor.fetchone()[0])


# One chunk of jobs and, in the same statement, their attempts. Per job: a finish time
# (`fin`, 40 % in the last 24 h, the rest over 30 days), a status, a run time per attempt
# and a number of attempts; created/started times are derived backwards from the finish.
JOBS_SQL = """
WITH projects AS (
    SELECT array_agg(id ORDER BY id) AS ids, array_agg(slug ORDER BY id) AS slugs,
           count(*)::int AS n
      FROM controlplane_project WHERE slug LIKE %(prefix)s
), types(type, upper, max_attempts, with_project) AS (VALUES {types}),
raw AS (
    SELECT g, random() AS r_status, random() AS r_type, random() AS r_proj,
           random() AS r_when, random() AS r_dur, random() AS r_err
      FROM generate_series(1, %(count)s) AS g
), shaped AS (
    SELECT raw.*, t.type, t.max_attempts, t.with_project,
           -- A handful of running jobs: the first row of each chunk and every 50,000th.
           CASE WHEN g %% 50000 = 1 THEN 'running'
                WHEN r_status < 0.84 THEN 'completed'
                WHEN r_status < 0.94 THEN 'failed'
                WHEN r_status < 0.99 THEN 'cancelled'
                ELSE 'pending' END AS status,
           now() - CASE WHEN r_when < 0.4 THEN make_interval(secs => r_when / 0.4 * 86400)
                        ELSE make_interval(secs => 86400 + (r_when - 0.4) / 0.6 * 29 * 86400)
                   END AS fin,
           make_interval(secs => CASE t.type WHEN 'export_backup' THEN 2 + r_dur * 180
                                             WHEN 'verify_backup' THEN 5 + r_dur * 240
                                             WHEN 'backfill_month' THEN 20 + r_dur * 400
                                             ELSE 0.05 + r_dur * 3 END) AS dur
      FROM raw
      CROSS JOIN LATERAL (SELECT * FROM types WHERE types.upper >= raw.r_type
                           ORDER BY types.upper LIMIT 1) AS t
), timed AS (
    SELECT s.*,
           CASE status WHEN 'completed' THEN CASE WHEN r_err < 0.05 THEN LEAST(2, max_attempts)
                                                  ELSE 1 END
                       WHEN 'failed' THEN max_attempts
                       WHEN 'cancelled' THEN CASE WHEN r_err < 0.3 THEN 1 ELSE 0 END
                       WHEN 'running' THEN 1
                       ELSE 0 END AS n_attempts,
           1 + floor(p.n * r_proj * r_proj)::int AS p_idx,
           p.ids, p.slugs
      FROM shaped AS s, projects AS p
), jobs AS (
    INSERT INTO jobs_job
        (id, type, payload, status, priority, attempts, max_attempts, project_id,
         scheduled_at, started_at, completed_at, created_at, updated_at, last_error, result,
         progress, cancel_requested_at, worker, lease_expires_at, handed_off_at)
    SELECT gen_random_uuid(), type,
           CASE WHEN type = 'backfill_month'
                THEN jsonb_build_object('year', 2000 + g %% 25, 'month', 1 + g %% 12)
                WHEN with_project
                THEN jsonb_build_object('project_id', slugs[p_idx], 'format', 'sql',
                                        'compress', true)
                ELSE '{{}}'::jsonb END,
           status, (g %% 3)::smallint, n_attempts, max_attempts,
           CASE WHEN with_project THEN ids[p_idx] END,
           -- scheduled/started/completed/created by status (see the module docstring).
           CASE status WHEN 'pending' THEN now() + interval '{never}'
                ELSE fin - dur * n_attempts - interval '30 seconds' * (n_attempts - 1)
                     - make_interval(secs => r_dur * 5) END,
           CASE WHEN n_attempts > 0 THEN CASE status WHEN 'running' THEN now() - dur
                                                     ELSE fin - dur END END,
           CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN fin END,
           CASE status WHEN 'running' THEN now() - dur - make_interval(secs => r_dur * 5)
                       WHEN 'pending' THEN fin
                ELSE fin - dur * n_attempts - interval '30 seconds' * (n_attempts - 1)
                     - make_interval(secs => r_dur * 5) END,
           CASE status WHEN 'running' THEN now() ELSE fin END,
           CASE WHEN status = 'failed' OR (status = 'completed' AND n_attempts > 1)
                THEN replace((%(errors)s::text[])[1 + floor(r_err * %(n_errors)s)::int],
                             '{{n}}', n_attempts::text)
                ELSE '' END,
           CASE WHEN status = 'completed'
                THEN jsonb_build_object('synthetic', true, 'seconds',
                                        round(extract(epoch FROM dur)::numeric, 2)) END,
           CASE WHEN status = 'running'
                THEN jsonb_build_object('phase', 'dumping', 'percent', round(r_dur * 100),
                                        'bytes', floor(r_dur * 5e8)::bigint) END,
           CASE WHEN status = 'cancelled' THEN fin END,
           CASE WHEN status IN ('running', 'completed', 'failed') THEN %(worker)s ELSE '' END,
           CASE WHEN status = 'running' THEN now() + interval '{never}' END,
           CASE WHEN status <> 'pending' THEN fin - dur * n_attempts END
      FROM timed
    RETURNING id, type, status, attempts, started_at, completed_at, last_error
), attempts AS (
    INSERT INTO jobs_jobattempt
        (job_id, number, worker, started_at, finished_at, outcome, error, traceback)
    SELECT j.id, n, %(worker)s,
           e.ends - e.dur * (j.attempts - n + 1) - interval '30 seconds' * (j.attempts - n),
           CASE WHEN j.status = 'running' AND n = j.attempts THEN NULL
                ELSE e.ends - e.dur * (j.attempts - n) - interval '30 seconds' * (j.attempts - n)
           END,
           CASE WHEN j.status = 'running' AND n = j.attempts THEN NULL
                WHEN n < j.attempts OR j.status = 'failed' THEN
                     CASE WHEN j.last_error LIKE 'Timed out%%' THEN 'timeout'
                          WHEN j.last_error LIKE 'Worker lost%%' THEN 'lost' ELSE 'error' END
                WHEN j.status = 'cancelled' THEN 'cancelled'
                ELSE 'completed' END,
           CASE WHEN n < j.attempts OR j.status = 'failed' THEN j.last_error ELSE '' END,
           CASE WHEN (n < j.attempts OR j.status = 'failed')
                     AND j.last_error NOT LIKE 'Worker lost%%'
                THEN %(traceback)s || j.last_error ELSE '' END
      FROM jobs AS j
      CROSS JOIN LATERAL (SELECT COALESCE(j.completed_at, now()) AS ends,
                                 COALESCE(j.completed_at, now()) - j.started_at AS dur) AS e
      CROSS JOIN LATERAL generate_series(1, j.attempts) AS n
    RETURNING 1
)
SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM attempts)
"""


def _insert_jobs(cursor: CursorWrapper, count: int) -> tuple[int, int]:
    sql = JOBS_SQL.format(types=_type_table(), never=NEVER_DUE)
    cursor.execute(
        sql,
        {
            "prefix": PROJECT_PREFIX + "%",
            "count": count,
            "errors": ERRORS,
            "n_errors": len(ERRORS),
            "worker": SYNTHETIC_WORKER,
            "traceback": TRACEBACK,
        },
    )
    jobs, attempts = cursor.fetchone()
    return int(jobs), int(attempts)


def _insert_many_attempts_job(cursor: CursorWrapper, attempts: int = 25) -> str:
    """Insert one failed export with `attempts` attempts (the detail page's worst case)."""
    cursor.execute(
        """
        WITH p AS (SELECT id, slug FROM controlplane_project WHERE slug LIKE %(prefix)s
                    ORDER BY id LIMIT 1),
        j AS (
            INSERT INTO jobs_job
                (id, type, payload, status, priority, attempts, max_attempts, project_id,
                 scheduled_at, started_at, completed_at, created_at, updated_at, last_error,
                 worker, handed_off_at, idempotency_key)
            SELECT gen_random_uuid(), 'export_backup',
                   jsonb_build_object('project_id', p.slug, 'format', 'sql', 'compress', true),
                   'failed', 0, %(n)s, %(n)s, p.id,
                   now() - interval '24 minutes', now() - interval '24 minutes',
                   now() - interval '1438 seconds', now() - interval '6 hours',
                   now() - interval '1438 seconds',
                   %(error)s, %(worker)s, now() - interval '24 minutes',
                   'synthetic-' || %(n)s || '-attempts-' || gen_random_uuid()
              FROM p
            RETURNING id
        ), a AS (
            INSERT INTO jobs_jobattempt
                (job_id, number, worker, started_at, finished_at, outcome, error, traceback)
            SELECT j.id, n, %(worker)s || '-' || (n %% 3),
                   now() - interval '6 hours' + (n - 1) * interval '14 minutes',
                   now() - interval '6 hours' + (n - 1) * interval '14 minutes'
                       + interval '2 seconds',
                   'error', %(error)s, %(traceback)s || %(error)s
              FROM j, generate_series(1, %(n)s) AS n
        )
        SELECT id::text FROM j
        """,
        {
            "prefix": PROJECT_PREFIX + "%",
            "n": attempts,
            "error": ERRORS[0],
            "worker": SYNTHETIC_WORKER,
            "traceback": TRACEBACK,
        },
    )
    return str(cursor.fetchone()[0])


def _insert_backups(cursor: CursorWrapper) -> int:
    """Give each seeded completed export its backup row (files are not written)."""
    cursor.execute(
        """
        INSERT INTO backups_backup
            (id, project_id, job_id, format, compressed, storage_path, size_bytes, sha256,
             table_count, table_rows, created_at, expires_at, legal_hold, verified_at)
        SELECT gen_random_uuid(), j.project_id, j.id, 'sql', true,
               'backups/synthetic/' || j.id || '.sql.gz',
               (1e5 + random() * 2e9)::bigint,
               encode(sha256(j.id::text::bytea), 'hex'),
               3, '{"public.items": 100}'::jsonb,
               j.completed_at, j.completed_at + interval '30 days',
               random() < 0.01,
               CASE WHEN random() < 0.2 THEN j.completed_at + interval '10 minutes' END
          FROM jobs_job AS j
          LEFT JOIN backups_backup AS b ON b.job_id = j.id
         WHERE j.type = 'export_backup' AND j.status = 'completed' AND j.worker = %s
           AND j.project_id IS NOT NULL AND b.id IS NULL
        """,
        [SYNTHETIC_WORKER],
    )
    return int(cursor.rowcount)


def _insert_backfill(cursor: CursorWrapper) -> int:
    """Fill the 2000-2024 month grid (months already there stay as they are)."""
    cursor.execute(
        """
        INSERT INTO backfill_log
            (year, month, status, retry_count, batch_size, prompt_variant, books_generated,
             isbns_resolved, gemini_calls, xai_calls, isbndb_calls, started_at, completed_at,
             last_retry_at, error_message, created_at, updated_at)
        SELECT y, m, s.status,
               CASE s.status WHEN 'failed' THEN 5 WHEN 'retry' THEN 2 ELSE 0 END,
               20,
               CASE WHEN y >= 2020 THEN 'contemporary-notable' ELSE 'baseline' END,
               CASE WHEN s.status = 'completed' THEN 20 ELSE 0 END,
               CASE WHEN s.status = 'completed' THEN 12 + (y + m) % 9 ELSE 0 END,
               CASE WHEN s.status IN ('completed', 'failed', 'retry') THEN 1 ELSE 0 END,
               0,
               CASE WHEN s.status = 'completed' THEN 20 ELSE 0 END,
               CASE WHEN s.status <> 'pending' THEN s.done - interval '5 minutes' END,
               CASE WHEN s.status = 'completed' THEN s.done END,
               CASE WHEN s.status IN ('failed', 'retry') THEN s.done END,
               CASE WHEN s.status IN ('failed', 'retry')
                    THEN 'Gemini quota exhausted for today' ELSE '' END,
               now() - interval '30 days', now()
          FROM generate_series(2000, 2024) AS y, generate_series(1, 12) AS m
          CROSS JOIN LATERAL (SELECT
                CASE WHEN (y * 12 + m) % 23 = 0 THEN 'failed'
                     WHEN (y * 12 + m) % 17 = 0 THEN 'retry'
                     WHEN (y * 12 + m) % 29 = 0 THEN 'processing'
                     WHEN y >= 2006 THEN 'completed'
                     ELSE 'pending' END AS status,
                now() - make_interval(hours => ((2024 - y) * 12 + (12 - m)) * 2 + 1) AS done
          ) AS s
        ON CONFLICT (year, month) DO NOTHING
        """
    )
    return int(cursor.rowcount)


def seed_synthetic(
    *, jobs: int, projects: int, progress: Callable[[str], None] | None = None
) -> SeedCounts:
    """Insert synthetic projects, jobs (with attempts), backups and backfill months."""
    if jobs < 1 or projects < 1:
        raise ValueError("jobs and projects must be at least 1")
    say = progress or (lambda message: None)
    total_jobs = total_attempts = 0
    with connection.cursor() as cursor:
        with transaction.atomic():
            n_projects = seed_projects(cursor, projects)
        say(f"projects: {n_projects}")
        many = _insert_many_attempts_job(cursor)
        total_jobs, total_attempts = 1, 25
        remaining = jobs - 1
        while remaining > 0:
            batch = min(CHUNK, remaining)
            with transaction.atomic():
                made, attempts = _insert_jobs(cursor, batch)
            total_jobs += made
            total_attempts += attempts
            remaining -= batch
            say(f"jobs: {total_jobs}/{jobs} (attempts {total_attempts})")
        with transaction.atomic():
            backups = _insert_backups(cursor)
            months = _insert_backfill(cursor)
        say(f"backups: {backups}, backfill months: {months}; analysing")
        for table in ("jobs_job", "jobs_jobattempt", "controlplane_project", "backups_backup"):
            cursor.execute(f"ANALYZE {table}")
    return SeedCounts(
        projects=n_projects,
        jobs=total_jobs,
        attempts=total_attempts,
        backups=backups,
        backfill_months=months,
        many_attempts_job=many,
    )


def describe(counts: SeedCounts) -> str:
    """Return a one-line JSON summary of what was seeded."""
    return json.dumps(counts.__dict__)
