"""Restore into a new project: provisioned by its job, loaded from the dump, rows compared."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.utils import timezone
from psycopg import sql

from backups.models import Backup
from backups.services import backup_export_run, backup_restore_request
from controlplane.models import AuditLog, Project, ProjectStatus
from jobs.models import Job, JobStatus
from jobs.worker import execute_job
from tests.backups.conftest import conninfo, scratch_databases
from tests.backups.fake_telegram import FakeBotApi, fake_bot_api
from tests.backups.restore import schema_contents
from tests.backups.test_telegram import TOKEN, use_telegram
from tests.provisioning.conftest import drop_tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def new_slugs() -> Iterator[list[str]]:
    """Collect the slugs of projects a test restores into; drop their schema and role after."""
    slugs: list[str] = []
    yield slugs
    for slug in slugs:
        drop_tenant(f"tenant_{slug.replace('-', '_')}")


def fresh_slug(slugs: list[str]) -> str:
    slug = f"rs-{uuid.uuid4().hex[:10]}"
    slugs.append(slug)
    return slug


def run(job: Job) -> Job:
    # Make a job delayed by its retry policy due now: the test plays the dispatcher.
    Job.objects.filter(pk=job.pk, status=JobStatus.PENDING).update(scheduled_at=timezone.now())
    execute_job(str(job.pk))
    job.refresh_from_db()
    return job


def table_owners(schema: str) -> set[str]:
    with psycopg.connect(**conninfo()) as conn:
        rows = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
            (schema,),
        ).fetchall()
    return {r[0] for r in rows}


def restore_and_compare(backup: Backup, slugs: list[str]) -> tuple[Project, Job]:
    source = backup.project
    before = schema_contents(None, source.schema_name)
    project, restore = backup_restore_request(
        backup_id=backup.pk, new_slug=fresh_slug(slugs), actor=None
    )
    assert project.status == ProjectStatus.PROVISIONING
    # Before provisioning finishes, the restore waits: a retry, not a failure.
    restore = run(restore)
    assert restore.status == JobStatus.PENDING, restore.last_error
    assert "still being provisioned" in restore.last_error
    provision = Job.objects.get(type="provision_project", project=project)
    assert run(provision).status == JobStatus.COMPLETED, provision.last_error

    restore = run(restore)

    assert restore.status == JobStatus.COMPLETED, restore.last_error
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert schema_contents(None, project.schema_name) == before
    assert restore.result["table_rows"] == backup.table_rows
    assert table_owners(project.schema_name) == {project.schema_name}
    # The source is never touched.
    assert schema_contents(None, source.schema_name) == before
    assert Project.objects.get(pk=source.pk).status == ProjectStatus.ACTIVE
    assert not scratch_databases()
    assert AuditLog.objects.filter(action="backup.restore", target_id=str(backup.pk)).exists()
    return project, restore


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("format", ["sql", "tar"])
def test_restore_backup__filesystem_dump_into_a_new_project(
    tenant: Any, new_slugs: list[str], format: str, compression: str
) -> None:
    source = tenant("acme-shop")
    backup = backup_export_run(project=source, format=format, compression=compression)
    restore_and_compare(backup, new_slugs)


@pytest.fixture
def telegram(settings: Any) -> Iterator[FakeBotApi]:
    with fake_bot_api(token=TOKEN) as api:
        use_telegram(settings, api)
        yield api


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("format", ["sql", "tar"])
def test_restore_backup__telegram_dump_into_a_new_project(
    tenant: Any, new_slugs: list[str], telegram: FakeBotApi, format: str, compression: str
) -> None:
    source = tenant("acme-shop", extra_tables={"filler": 100})
    backup = backup_export_run(project=source, format=format, compression=compression)
    assert len(backup.storage_parts) > 1
    restore_and_compare(backup, new_slugs)


def test_restore_backup__row_mismatch_fails_naming_the_tables(
    tenant: Any, new_slugs: list[str]
) -> None:
    source = tenant("acme-shop")
    backup = backup_export_run(project=source, format="sql", compression="zstd")
    Backup.objects.filter(pk=backup.pk).update(
        table_rows={**backup.table_rows, "orders": 299, "ghosts": 1}
    )
    project, restore = backup_restore_request(
        backup_id=backup.pk, new_slug=fresh_slug(new_slugs), actor=None
    )
    run(Job.objects.get(type="provision_project", project=project))

    restore = run(restore)

    assert restore.status == JobStatus.FAILED
    assert "orders" in restore.last_error and "ghosts" in restore.last_error


def test_restore_backup__command_requests_a_restore(tenant: Any, new_slugs: list[str]) -> None:
    source = tenant("acme-shop")
    backup = backup_export_run(project=source, format="tar", compression="gzip")
    slug = fresh_slug(new_slugs)
    out = StringIO()

    call_command("restore_backup", str(backup.pk), slug, stdout=out)

    project = Project.objects.get(slug=slug)
    job = Job.objects.get(type="restore_backup", project=project)
    assert str(job.pk) in out.getvalue()
    assert job.payload["backup_id"] == str(backup.pk)


def test_restore_backup__taken_slug_refused(tenant: Any) -> None:
    source = tenant("acme-shop")
    tenant("taken-co")
    backup = backup_export_run(project=source, format="sql", compression="none")
    with pytest.raises(Exception, match="already exists"):
        call_command("restore_backup", str(backup.pk), "taken-co", stdout=StringIO())
    assert not Job.objects.filter(type="restore_backup").exists()


def test_restore_backup__non_empty_target_schema_is_not_overwritten(
    tenant: Any, new_slugs: list[str]
) -> None:
    source = tenant("acme-shop")
    backup = backup_export_run(project=source, format="sql", compression="gzip")
    project, restore = backup_restore_request(
        backup_id=backup.pk, new_slug=fresh_slug(new_slugs), actor=None
    )
    run(Job.objects.get(type="provision_project", project=project))
    with psycopg.connect(**conninfo()) as conn:
        conn.execute(
            sql.SQL("CREATE TABLE {}.precious (id int)").format(sql.Identifier(project.schema_name))
        )

    restore = run(restore)

    assert restore.status == JobStatus.FAILED
    assert "not empty" in restore.last_error
    with psycopg.connect(**conninfo()) as conn:
        tables = conn.execute(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND relkind = 'r'",
            (project.schema_name,),
        ).fetchall()
    assert [t[0] for t in tables] == ["precious"]
