"""Cap existing tenant roles at PROVISIONING_TENANT_CONNECTION_LIMIT connections."""

from django.db import migrations


def apply_limit(apps, schema_editor):
    from provisioning.services.tenant_db import tenant_connection_limit_sql

    credential = apps.get_model("provisioning", "TenantDatabaseCredential")
    roles = list(credential.objects.values_list("role_name", flat=True))
    with schema_editor.connection.cursor() as cursor:
        for role in roles:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone():
                cursor.execute(tenant_connection_limit_sql(role).as_string())


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0002_apikey_rotation_lineage")]

    operations = [migrations.RunPython(apply_limit, migrations.RunPython.noop)]
