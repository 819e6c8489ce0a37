"""Fill the new AuditLog.project for rows written before it existed.

A row names its project through its target (a project by slug or id, a backup, a job or an
API key of the project) or, failing that, through `details["project"]` (a slug).
"""

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    """Set each audit row's project from its target or its details, where they name one."""
    audit = apps.get_model("controlplane", "AuditLog")._meta.db_table
    project = apps.get_model("controlplane", "Project")._meta.db_table
    by_target = {
        "backup": apps.get_model("backups", "Backup")._meta.db_table,
        "job": apps.get_model("jobs", "Job")._meta.db_table,
        "api_key": apps.get_model("provisioning", "ApiKey")._meta.db_table,
    }
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {audit} a SET project_id = p.id FROM {project} p"  # noqa: S608
            " WHERE a.project_id IS NULL AND a.target_type = 'project'"
            " AND (a.target_id = p.slug OR a.target_id = p.id::text)"
        )
        for target_type, table in by_target.items():
            cursor.execute(
                f"UPDATE {audit} a SET project_id = t.project_id FROM {table} t"  # noqa: S608
                " WHERE a.project_id IS NULL AND a.target_type = %s"
                " AND a.target_id = t.id::text AND t.project_id IS NOT NULL",
                [target_type],
            )
        cursor.execute(
            f"UPDATE {audit} a SET project_id = p.id FROM {project} p"  # noqa: S608
            " WHERE a.project_id IS NULL AND a.details ->> 'project' = p.slug"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("controlplane", "0004_auditlog_project"),
        ("backups", "0007_telegram_storage_and_delete_errors"),
        ("jobs", "0005_failed_job_filter_indexes"),
        ("provisioning", "0003_tenant_role_connection_limit"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
