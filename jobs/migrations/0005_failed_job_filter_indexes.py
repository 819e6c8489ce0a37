"""Partial indexes for the job list's failed-jobs filters (by project, by type).

Built CONCURRENTLY: a big jobs table keeps taking writes while they build.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("controlplane", "0003_cacheentry_unlogged"),
        ("jobs", "0004_notify_dispatchers"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="job",
            index=models.Index(
                condition=models.Q(("status", "failed")),
                fields=["project", "-created_at"],
                name="job_failed_project_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="job",
            index=models.Index(
                condition=models.Q(("status", "failed")),
                fields=["type", "-created_at"],
                name="job_failed_type_idx",
            ),
        ),
    ]
