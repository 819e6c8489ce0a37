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
# (type, share of jobs, needs a project, what its failures say): the apps' registered types.
LOST = "Worker lost: lease expired during attempt {n}."
TYPE_MIX = [
    (
        "export_backup",
        0.50,
        True,
        [
            "pg_dump: error: connection to server on socket failed: No such file or directory",
            "BackupError: dump larger than BACKUPS_MAX_BYTES (10.0 GB)",
            LOST,
        ],
    ),
    (
        "verify_backup",
        0.10,
        True,
        ["pg_restore: error: could not execute query: relation already exists", LOST],
    ),
    (
        "backfill_month",
        0.20,
        False,
        ["Gemini quota exhausted for today", "ISBNdb answered 429 Too Many Requests", LOST],
    ),
    (
        "provision_project",
        0.05,
        True,
        ["ServiceCallError: auth service answered 503 Service Unavailable", LOST],
    ),
    (
        "rotate_key",
        0.15,
        True,
        ["ServiceCallError: auth service answered 502 Bad Gateway", LOST],
    ),
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


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _type_table() -> str:
    """Return a VALUES list of (type, share upper bound, max_attempts, project, errors)."""
    rows, upper = [], 0.0
    for type_, share, with_project, errors in TYPE_MIX:
        upper += share
        max_attempts = get_handler(type_).max_attempts
        project = "true" if with_project else "false"
        texts = ", ".join(_sql_text(e) for e in errors)
        rows.append(f"('{type_}', {upper:.4f}::float8, {max_attempts}, {project}, ARRAY[{texts}])")
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
), types(type, upper, max_attempts, with_project, errors) AS (VALUES {types}),
raw AS (
    SELECT g, random() AS r_status, random() AS r_type, random() AS r_proj,
           -- Each chunk covers its own slice of time (the oldest first), so the indexes on
           -- times take mostly ordered inserts: far fewer pages touched per row.
           1 - (%(chunk)s + random()) / %(chunks)s AS r_when, random() AS r_dur,
           random() AS r_err
      FROM generate_series(1, %(count)s) AS g
), shaped AS (
    SELECT raw.*, t.type, t.max_attempts, t.with_project, t.errors,
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
), counted AS (
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
), timed AS (
    -- What the failed attempts said (the job keeps it only when it failed for good).
    SELECT c.*, gen_random_uuid() AS new_id,
           replace(errors[1 + floor(r_err * array_length(errors, 1))::int], '{{n}}',
                   n_attempts::text) AS err,
           CASE WHEN status = 'running' THEN now() ELSE fin END AS ends
      FROM counted AS c
), jobs AS (
    INSERT INTO jobs_job
        (id, type, payload, status, priority, attempts, max_attempts, project_id,
         scheduled_at, started_at, completed_at, created_at, updated_at, last_error, result,
         progress, cancel_requested_at, worker, lease_expires_at, handed_off_at)
    SELECT new_id, type,
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
                ELSE fin - dur * n_attempts - interval '30 seconds' * GREATEST(n_attempts - 1, 0)
                     - make_interval(secs => r_dur * 5) END,
           CASE WHEN n_attempts > 0 THEN CASE status WHEN 'running' THEN now() - dur
                                                     ELSE fin - dur END END,
           CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN fin END,
           CASE status WHEN 'running' THEN now() - dur - make_interval(secs => r_dur * 5)
                       WHEN 'pending' THEN fin
                ELSE fin - dur * n_attempts - interval '30 seconds' * GREATEST(n_attempts - 1, 0)
                     - make_interval(secs => r_dur * 5) END,
           CASE status WHEN 'running' THEN now() ELSE fin END,
           CASE WHEN status = 'failed' THEN err ELSE '' END,
           CASE WHEN status = 'completed'
                THEN jsonb_build_object('synthetic', true, 'seconds',
                                        round(extract(epoch FROM dur)::numeric, 2)) END,
           CASE WHEN status = 'running' AND type = 'export_backup'
                THEN jsonb_build_object('phase', 'dumping', 'percent', round(r_dur * 100),
                                        'bytes', floor(r_dur * 5e8)::bigint) END,
           CASE WHEN status = 'cancelled' THEN fin END,
           -- A finished job keeps no worker (as the outcome UPDATE leaves it).
           CASE WHEN status = 'running' THEN %(worker)s ELSE '' END,
           CASE WHEN status = 'running' THEN now() + interval '{never}' END,
           CASE WHEN status <> 'pending' THEN fin - dur * n_attempts END
      FROM timed
     ORDER BY fin
    RETURNING 1
), attempts AS (
    INSERT INTO jobs_jobattempt
        (job_id, number, worker, started_at, finished_at, outcome, error, traceback)
    SELECT j.new_id, n, %(worker)s,
           j.ends - j.dur * (j.n_attempts - n + 1) - interval '30 seconds' * (j.n_attempts - n),
           CASE WHEN j.status = 'running' AND n = j.n_attempts THEN NULL
                ELSE j.ends - j.dur * (j.n_attempts - n)
                     - interval '30 seconds' * (j.n_attempts - n) END,
           CASE WHEN j.status = 'running' AND n = j.n_attempts THEN NULL
                WHEN n < j.n_attempts OR j.status = 'failed' THEN
                     CASE WHEN j.err LIKE 'Worker lost%%' THEN 'lost' ELSE 'error' END
                WHEN j.status = 'cancelled' THEN 'cancelled'
                ELSE 'completed' END,
           CASE WHEN n < j.n_attempts OR j.status = 'failed' THEN j.err ELSE '' END,
           CASE WHEN (n < j.n_attempts OR j.status = 'failed') AND j.err NOT LIKE 'Worker lost%%'
                THEN %(traceback)s || j.err ELSE '' END
      FROM timed AS j
      CROSS JOIN LATERAL generate_series(1, j.n_attempts) AS n
    RETURNING 1
), backups AS (
    -- Each completed export has its backup row (no file is written).
    INSERT INTO backups_backup
        (id, project_id, job_id, format, compressed, compression, storage_path, size_bytes,
         sha256, table_count, table_rows, created_at, expires_at, legal_hold, verified_at,
         storage_parts, delete_error, delete_attempts)
    SELECT gen_random_uuid(), ids[p_idx], new_id, 'sql', true, 'gzip',
           'backups/synthetic/' || new_id || '.sql.gz',
           (1e5 + r_dur * 2e9)::bigint,
           encode(sha256(new_id::text::bytea), 'hex'),
           3, '{{"public.items": 100}}'::jsonb,
           fin, fin + interval '30 days',
           r_err < 0.01,
           CASE WHEN r_err < 0.2 THEN fin + interval '10 minutes' END,
           '[]'::jsonb, '', 0
      FROM timed
     WHERE type = 'export_backup' AND status = 'completed'
    RETURNING 1
)
SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM attempts),
       (SELECT count(*) FROM backups)
"""


def _insert_jobs(
    cursor: CursorWrapper, count: int, *, chunk: int, chunks: int
) -> tuple[int, int, int]:
    sql = JOBS_SQL.format(types=_type_table(), never=NEVER_DUE)
    cursor.execute(
        sql,
        {
            "prefix": PROJECT_PREFIX + "%",
            "count": count,
            "chunk": chunk,
            "chunks": chunks,
            "worker": SYNTHETIC_WORKER,
            "traceback": TRACEBACK,
        },
    )
    jobs, attempts, backups = cursor.fetchone()
    return int(jobs), int(attempts), int(backups)


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
                   %(error)s, '', now() - interval '24 minutes',
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
            "error": TYPE_MIX[0][3][0],
            "worker": SYNTHETIC_WORKER,
            "traceback": TRACEBACK,
        },
    )
    return str(cursor.fetchone()[0])


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
    total_jobs = total_attempts = backups = 0
    with connection.cursor() as cursor:
        with transaction.atomic():
            n_projects = seed_projects(cursor, projects)
        say(f"projects: {n_projects}")
        many = _insert_many_attempts_job(cursor)
        total_jobs, total_attempts = 1, 25
        remaining = jobs - 1
        chunks = -(-remaining // CHUNK)
        for chunk in range(chunks):
            batch = min(CHUNK, remaining)
            with transaction.atomic():
                made, attempts, made_backups = _insert_jobs(
                    cursor, batch, chunk=chunk, chunks=chunks
                )
            total_jobs += made
            total_attempts += attempts
            backups += made_backups
            remaining -= batch
            say(f"jobs: {total_jobs}/{jobs} (attempts {total_attempts})")
        with transaction.atomic():
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
