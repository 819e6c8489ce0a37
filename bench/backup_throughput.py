"""Print gzip and zstd export throughput beside `pg_dump | gzip -1` / `pg_dump | zstd -1`.

Each row also gives the export's peak RSS growth. The raw pipelines need the gzip and zstd
command-line tools (Debian: `apt-get install zstd`); the export itself needs neither.

Run against the embedded cluster (never as a test):
    .venv/bin/python -m controlplane.embedded_pg exec -- \\
        .venv/bin/python bench/backup_throughput.py 0.1 1
Arguments: tenant sizes in GB (default 0.1); `--gzip` or `--zstd` runs one codec only.
Creates and drops a `bench-*` project and schema.
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
        # Done now, so autovacuum does not wake mid-bench and take a core from one run.
        cur.execute(
            sql.SQL("VACUUM (FREEZE, ANALYZE) {}.events").format(schema).as_string(cur.connection)
        )
        cur.execute("CHECKPOINT")
    return project


RAW_TOOLS = {"gzip": ["gzip", "-1"], "zstd": ["zstd", "-1", "-q", "-c"]}


def raw_pipeline(project: Project, out: Path, codec: str) -> float:
    """Return the seconds `pg_dump | <codec> -1 > out` takes."""
    bindir = find_client_bindir(server_major_version())
    db = DatabaseParams.from_alias()
    args = [str(bindir / "pg_dump"), *pg_dump_args(schema=project.schema_name, format="sql")]
    started = time.perf_counter()
    with out.open("wb") as fh:
        dump = subprocess.Popen(
            args, stdout=subprocess.PIPE, env=db.environment(application_name="bench")
        )
        assert dump.stdout is not None
        tool = subprocess.run(RAW_TOOLS[codec], stdin=dump.stdout, stdout=fh, check=True)
        dump.stdout.close()
        dump.wait()
    assert dump.returncode == 0 and tool.returncode == 0
    return time.perf_counter() - started


def plain_dump(project: Project, out: Path) -> float:
    """Return the seconds `pg_dump > out` takes."""
    bindir = find_client_bindir(server_major_version())
    db = DatabaseParams.from_alias()
    args = [str(bindir / "pg_dump"), *pg_dump_args(schema=project.schema_name, format="sql")]
    started = time.perf_counter()
    with out.open("wb") as fh:
        subprocess.run(args, stdout=fh, env=db.environment(application_name="bench"), check=True)
    return time.perf_counter() - started


def export_row(project: Project, gb: float, codec: str, tmp: Path) -> None:
    """Print one codec's row: raw pipeline, our export, their ratio, our peak RSS growth."""
    raw_out = tmp / f"raw.{codec}"
    os.sync()  # no writeback of an earlier run's files during this one
    raw_seconds = raw_pipeline(project, raw_out, codec)
    raw_size = raw_out.stat().st_size
    raw_out.unlink()
    os.sync()
    reset_hwm()
    before = vm_hwm_kb()
    started = time.perf_counter()
    backup = backup_export_run(project=project, format="sql", compression=codec)
    ours_seconds = time.perf_counter() - started
    growth_mb = (vm_hwm_kb() - before) / 1024
    raw_mb = gb * 1024
    print(
        f"  {codec:4}: pg_dump | {codec} -1 {raw_seconds:5.1f} s "
        f"({raw_mb / raw_seconds:4.0f} MB/s, {raw_size / 1e6:4.0f} MB) | export "
        f"{ours_seconds:5.1f} s ({raw_mb / ours_seconds:4.0f} MB/s, "
        f"{backup.size_bytes / 1e6:4.0f} MB) | ratio {raw_seconds / ours_seconds:.2f}x | "
        f"peak RSS growth {growth_mb:.1f} MB",
        flush=True,
    )
    backup_delete(backup_ids=[backup.pk], actor=None)


def main() -> None:
    sizes = [float(a) for a in sys.argv[1:] if not a.startswith("--")] or [0.1]
    picked = [a[2:] for a in sys.argv[1:] if a.startswith("--")]
    codecs = picked or ["gzip", "zstd"]
    call_command("migrate", verbosity=0)  # a fresh embedded cluster has no tables yet
    for gb in sizes:
        project = make_tenant(gb)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                load = os.getloadavg()[0]
                plain = plain_dump(project, Path(tmp) / "plain.sql")
                (Path(tmp) / "plain.sql").unlink()
                print(
                    f"{gb:g} GB tenant (load {load:.1f}): plain pg_dump to a file {plain:.1f} s",
                    flush=True,
                )
                for codec in codecs:
                    export_row(project, gb, codec, Path(tmp))
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
