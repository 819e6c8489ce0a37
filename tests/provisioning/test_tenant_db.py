"""Tenant schema and role: real PostgreSQL, isolation proven by connecting as the role."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from psycopg import sql

from controlplane.models import ProjectStatus
from provisioning.models import TenantDatabaseCredential
from provisioning.selectors import tenant_password
from provisioning.services import (
    TenantDatabaseConflict,
    tenant_role_create,
    tenant_role_drop,
    tenant_schema_create,
    tenant_schema_drop,
)
from tests import factories
from tests.provisioning.conftest import connect_as, ddl, role_exists, schema_exists, unique_slug


def _tenant(names: list[str]) -> Any:
    """Create a project with committed schema and role; register them for cleanup."""
    project = factories.project(slug=unique_slug(), status=ProjectStatus.PROVISIONING)
    names.append(str(project.schema_name))
    with transaction.atomic():
        tenant_schema_create(project=project)
        tenant_role_create(project=project)
    return project


def test_tenant_role__reads_and_writes_its_own_schema(committed_tenants: list[str]) -> None:
    project = _tenant(committed_tenants)
    role = project.database_credential.role_name
    with connect_as(role, tenant_password(project=project)) as conn:
        # search_path points at the tenant schema, so unqualified names land there.
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes VALUES (1, 'hello')")
        conn.execute("UPDATE notes SET body = 'hi' WHERE id = 1")
        qualified = sql.SQL("SELECT body FROM {}.notes").format(sql.Identifier(project.schema_name))
        rows = conn.execute(qualified).fetchall()
        where = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'notes'"
        ).fetchone()
    assert rows == [("hi",)]
    assert where == (project.schema_name,)


def test_tenant_role__refused_on_another_tenants_schema(committed_tenants: list[str]) -> None:
    mine = _tenant(committed_tenants)
    theirs = _tenant(committed_tenants)
    with connect_as(theirs.database_credential.role_name, tenant_password(project=theirs)) as conn:
        conn.execute("CREATE TABLE secrets (v text)")
        conn.execute("INSERT INTO secrets VALUES ('theirs')")
    with connect_as(mine.database_credential.role_name, tenant_password(project=mine)) as conn:
        other = sql.Identifier(theirs.schema_name)
        for statement in (
            sql.SQL("SELECT * FROM {}.secrets").format(other),
            sql.SQL("CREATE TABLE {}.intruder (v text)").format(other),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # Not even the names inside another tenant's schema are visible.
        seen = conn.execute(
            "SELECT has_schema_privilege(%s, 'USAGE'), has_schema_privilege(%s, 'USAGE')",
            [theirs.schema_name, mine.schema_name],
        ).fetchone()
        assert seen == (False, True)


def test_tenant_role__refused_on_control_plane_tables(committed_tenants: list[str]) -> None:
    project = _tenant(committed_tenants)
    with connect_as(
        project.database_credential.role_name, tenant_password(project=project)
    ) as conn:
        for statement in (
            "SELECT * FROM public.controlplane_project",
            "SELECT * FROM public.provisioning_apikey",
            "SELECT * FROM public.provisioning_tenantdatabasecredential",
            "UPDATE public.controlplane_project SET status = 'ACTIVE'",
            "CREATE TABLE public.intruder (v text)",
            sql.SQL("DROP SCHEMA {}").format(sql.Identifier(project.schema_name)),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_tenant_role__wrong_password_refused(committed_tenants: list[str]) -> None:
    project = _tenant(committed_tenants)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect_as(project.database_credential.role_name, "not-the-password")


def test_tenant_role__not_privileged(committed_tenants: list[str]) -> None:
    project = _tenant(committed_tenants)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
            "rolcanlogin FROM pg_roles WHERE rolname = %s",
            [project.database_credential.role_name],
        )
        assert cursor.fetchone() == (False, False, False, False, False, True)


def test_tenant_db__create_is_idempotent(new_project: Any) -> None:
    assert tenant_schema_create(project=new_project) is True
    assert tenant_role_create(project=new_project) is True
    first = TenantDatabaseCredential.objects.get(project=new_project).password_encrypted
    assert tenant_schema_create(project=new_project) is False
    assert tenant_role_create(project=new_project) is False
    # The stored password still matches the role: a rerun must not orphan it.
    assert TenantDatabaseCredential.objects.get(project=new_project).password_encrypted == first


def test_tenant_db__drops_are_idempotent(new_project: Any) -> None:
    tenant_schema_create(project=new_project)
    tenant_role_create(project=new_project)
    name = str(new_project.schema_name)
    assert tenant_role_drop(project=new_project) is True
    assert tenant_schema_drop(project=new_project) is True
    assert not role_exists(name) and not schema_exists(name)
    assert not TenantDatabaseCredential.objects.filter(project=new_project).exists()
    assert tenant_role_drop(project=new_project) is False
    assert tenant_schema_drop(project=new_project) is False


def test_tenant_role__existing_foreign_role_is_not_taken_over(new_project: Any) -> None:
    name = str(new_project.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(ddl("CREATE ROLE {} NOLOGIN", name))
    tenant_schema_create(project=new_project)
    with pytest.raises(TenantDatabaseConflict, match="already exists"):
        tenant_role_create(project=new_project)
    assert not TenantDatabaseCredential.objects.filter(project=new_project).exists()


def test_tenant_password__stored_encrypted_only(new_project: Any) -> None:
    tenant_schema_create(project=new_project)
    tenant_role_create(project=new_project)
    password = tenant_password(project=new_project)
    stored = TenantDatabaseCredential.objects.get(project=new_project).password_encrypted
    assert len(password) >= 40 and password not in stored
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [str(new_project.schema_name)]
        )
        verifier = cursor.fetchone()[0]
    assert verifier.startswith("SCRAM-SHA-256$") and password not in verifier


def _role_limit(role: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [role])
        return int(cursor.fetchone()[0])


def test_tenant_role__connection_limit_enforced(
    committed_tenants: list[str], settings: Any
) -> None:
    settings.PROVISIONING_TENANT_CONNECTION_LIMIT = 2
    project = _tenant(committed_tenants)
    role, password = project.database_credential.role_name, tenant_password(project=project)
    assert _role_limit(role) == 2
    with (
        connect_as(role, password),
        connect_as(role, password),
        pytest.raises(psycopg.OperationalError, match="too many connections for role"),
    ):
        connect_as(role, password)


def test_tenant_role__default_limit_is_20(committed_tenants: list[str]) -> None:
    project = _tenant(committed_tenants)
    assert _role_limit(project.database_credential.role_name) == 20


def test_tenant_role__migration_caps_existing_roles(
    committed_tenants: list[str], settings: Any
) -> None:
    import importlib

    from django.apps import apps as global_apps
    from django.db import connection as conn

    project = _tenant(committed_tenants)
    role = project.database_credential.role_name
    with connection.cursor() as cursor:
        cursor.execute(ddl("ALTER ROLE {} CONNECTION LIMIT -1", role))
    settings.PROVISIONING_TENANT_CONNECTION_LIMIT = 7
    migration = importlib.import_module("provisioning.migrations.0003_tenant_role_connection_limit")
    with conn.schema_editor() as editor:
        migration.apply_limit(global_apps, editor)
    assert _role_limit(role) == 7


def test_tenant_role__refused_on_every_control_plane_table(committed_tenants: list[str]) -> None:
    project = _tenant(committed_tenants)
    other = _tenant(committed_tenants)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = cursor.fetchall()
        with connection.cursor() as c2:
            c2.execute(ddl("CREATE TABLE {}.secrets (v text)", other.schema_name))
    names = {t for _, t in tables}
    assert {"jobs_job", "django_q_ormq", "django_session", "axes_accessattempt"} <= names
    tables.append((other.schema_name, "secrets"))
    role, password = project.database_credential.role_name, tenant_password(project=project)
    with connect_as(role, password) as conn:
        for schema, table in tables:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(
                    sql.SQL("SELECT 1 FROM {}.{} LIMIT 1").format(
                        sql.Identifier(schema), sql.Identifier(table)
                    )
                )
