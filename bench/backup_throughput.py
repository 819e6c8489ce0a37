"""Print export throughput next to `pg_dump | gzip -1 > file`, and the worker's peak RSS growth.

Run against the embedded cluster (never as a test):
    .venv/bin/python -m controlplane.embedded_pg exec -- \\
        .venv/bin/python bench/backup_throughput.py 0.1 1
Arguments: tenant sizes in GB (default 0.1). Creates and drops a `bench-*` project and schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from psycopg import sql  # noqa: E402

from backups.pgdump import pg_dump_args  # noqa: E402
from backups.pgtools import DatabaseParams, find_client_bindir, server_major_version  # noqa: E402
from backups.services import backup_delete, backup_export_run  # noqa: E402
from controlplane.models import Project, ProjectStatus  # noqa: E402
from controlplane.services import project_create  # noqa: E402


def vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_hwm() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def make_tenant(gb: float) -> Project:
    slug = f"bench-{int(time.time())}"
    project = project_create(slug=slug, name=slug, status=ProjectStatus.ACTIVE)
    schema = sql.Identifier(project.schema_name)
    rows = int(gb * 1024**3 / 330)  # ~330 bytes of dump text per row
    with connection.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(schema).as_string(cur.connection))
        cur.execute(
            sql.SQL(
                "CREATE TABLE {}.events AS SELECT g AS id, now() AS at, "
                "repeat(md5(g::text), 9) AS body FROM generate_series(1, %s) g"
            )
            .format(schema)
            .as_string(cur.connection),
            [rows],
        )
    return project


def raw_pipeline(project: Project, out: Path) -> float:
    bindir = find_client_bindir(server_major_version())
    db = DatabaseParams.from_alias()
    args = [str(bindir / "pg_dump"), *pg_dump_args(schema=project.schema_name, format="sql")]
    started = time.perf_counter()
    with out.open("wb") as fh:
        dump = subprocess.Popen(
            args, stdout=subprocess.PIPE, env=db.environment(application_name="bench")
        )
        gzip = subprocess.run(["gzip", "-1"], stdin=dump.stdout, stdout=fh, check=True)
        dump.wait()
    assert dump.returncode == 0 and gzip.returncode == 0
    return time.perf_counter() - started


def main() -> None:
    sizes = [float(a) for a in sys.argv[1:]] or [0.1]
    call_command("migrate", verbosity=0)  # a fresh embedded cluster has no tables yet
    for gb in sizes:
        project = make_tenant(gb)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                raw_seconds = raw_pipeline(project, Path(tmp) / "raw.sql.gz")
                raw_size = (Path(tmp) / "raw.sql.gz").stat().st_size
            reset_hwm()
            before = vm_hwm_kb()
            started = time.perf_counter()
            backup = backup_export_run(project=project, format="sql", compress=True)
            ours_seconds = time.perf_counter() - started
            growth_mb = (vm_hwm_kb() - before) / 1024
            raw_mb = gb * 1024
            print(
                f"{gb:g} GB tenant: raw pipeline {raw_seconds:.1f} s "
                f"({raw_mb / raw_seconds:.0f} MB/s,"
                f" {raw_size / 1e6:.0f} MB gz) | export {ours_seconds:.1f} s "
                f"({raw_mb / ours_seconds:.0f} MB/s, {backup.size_bytes / 1e6:.0f} MB gz) | "
                f"ratio {raw_seconds / ours_seconds:.2f}x | peak RSS growth {growth_mb:.1f} MB"
            )
            backup_delete(backup_ids=[backup.pk], actor=None)
        finally:
            with connection.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                    .format(sql.Identifier(project.schema_name))
                    .as_string(cur.connection)
                )
            Project.objects.filter(pk=project.pk).delete()


if __name__ == "__main__":
    main()
