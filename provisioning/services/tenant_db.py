"""Create and drop a tenant's schema and its login role, each idempotent.

These compose into the caller's transaction (PostgreSQL DDL, role creation included, is
transactional), so a provisioning step either creates schema, role and credential together
or leaves nothing behind.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from psycopg import sql

from controlplane.models import Project
from provisioning.crypto import encrypt_secret
from provisioning.models import TenantDatabaseCredential

_TENANT_NAME = re.compile(r"^tenant_[a-z][a-z0-9_]{2,39}$")
PASSWORD_BYTES = 32


class TenantDatabaseConflict(Exception):
    """Raise when a schema or role we would create exists and is not ours to take over."""


def tenant_names(project: Project) -> tuple[str, str]:
    """Return the (schema, role) names of `project`; the role is named after its schema."""
    schema = str(project.schema_name)
    if not _TENANT_NAME.fullmatch(schema):
        raise ValueError(f"{schema!r} is not a tenant schema name.")
    return schema, schema


def _raw() -> Any:
    """Return the psycopg connection under Django's, in the same transaction."""
    connection.ensure_connection()
    return connection.connection


def _execute(statement: sql.Composable | str, params: list[Any] | None = None) -> list[Any]:
    # The raw cursor keeps statements out of Django's debug query log.
    with _raw().cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _role_exists(role: str) -> bool:
    return bool(_execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]))


def _schema_exists(schema: str) -> bool:
    return bool(_execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]))


def _dbname() -> str:
    return str(connection.settings_dict["NAME"])


@transaction.atomic
def tenant_schema_create(*, project: Project) -> bool:
    """Create the project's schema unless it exists; return whether this call created it."""
    schema, _ = tenant_names(project)
    if _schema_exists(schema):
        return False
    # Owned by the control plane, so the tenant can use its schema but not drop or rename it.
    _execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    _execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(schema)))
    return True


@transaction.atomic
def tenant_role_create(*, project: Project) -> bool:
    """Create the login role that may use only the project's schema; return whether created.

    The password comes from `secrets`, is stored encrypted, and reaches PostgreSQL only as a
    SCRAM verifier computed here, so not even the server's statement log sees it.
    """
    schema, role = tenant_names(project)
    credential = TenantDatabaseCredential.objects.filter(project=project).first()
    exists = _role_exists(role)
    if exists and (credential is None or credential.role_name != role):
        raise TenantDatabaseConflict(
            f"A PostgreSQL role named {role} already exists and is not this project's role."
        )
    created = not exists
    if created:
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        verifier = _raw().pgconn.encrypt_password(
            password.encode(), role.encode(), b"scram-sha-256"
        )
        _execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS PASSWORD {}"
            ).format(sql.Identifier(role), sql.Literal(verifier.decode()))
        )
        TenantDatabaseCredential.objects.update_or_create(
            project=project,
            defaults={"role_name": role, "password_encrypted": encrypt_secret(password)},
        )
    ident_role, ident_schema = sql.Identifier(role), sql.Identifier(schema)
    # Grants and the limit are repeated on every call: cheap, and they repair a role.
    _execute(tenant_connection_limit_sql(role))
    _execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(_dbname()), ident_role)
    )
    _execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(ident_schema, ident_role))
    _execute(
        sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path TO {}").format(
            ident_role, sql.Identifier(_dbname()), ident_schema
        )
    )
    return created


def tenant_connection_limit_sql(role: str) -> sql.Composed:
    """Return the statement capping `role` at PROVISIONING_TENANT_CONNECTION_LIMIT connections."""
    limit = int(settings.PROVISIONING_TENANT_CONNECTION_LIMIT)
    return sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(
        sql.Identifier(role), sql.Literal(limit)
    )


@transaction.atomic
def tenant_role_drop(*, project: Project) -> bool:
    """Drop the project's role (and what it owns here) and its credential; return if dropped."""
    _, role = tenant_names(project)
    TenantDatabaseCredential.objects.filter(project=project).delete()
    if not _role_exists(role):
        return False
    _execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    _execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    return True


@transaction.atomic
def tenant_schema_drop(*, project: Project) -> bool:
    """Drop the project's schema with everything in it; return whether it existed."""
    schema, _ = tenant_names(project)
    if not _schema_exists(schema):
        return False
    _execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return True
