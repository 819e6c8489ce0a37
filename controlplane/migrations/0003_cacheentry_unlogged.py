"""Make the cache table UNLOGGED: its rows need no WAL and no disk flush at commit.

A cache is disposable by definition: after a crash PostgreSQL empties an unlogged table,
and rate-limit windows start again. In exchange every counter update (two per limited
request) commits without waiting for the WAL to reach the disk.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("controlplane", "0002_project_status_reason")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE controlplane_cacheentry SET UNLOGGED",
            "ALTER TABLE controlplane_cacheentry SET LOGGED",
        )
    ]
