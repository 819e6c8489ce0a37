"""The two operator roles, kept as Django groups with exactly their permissions.

`operators-viewer` sees every record of our apps and can act on nothing; `operators` also
runs the job, project, backup and backfill actions. `sync_operator_groups` runs after every
`migrate` (permissions exist only after `post_migrate`) and sets each group's permissions
to exactly these, so a fresh database and an old one end up the same.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

VIEWER_GROUP = "operators-viewer"
OPERATOR_GROUP = "operators"

# Our apps: their view_* permissions make the viewer (django-q2's and axes' are left out).
ROLE_APPS = ("controlplane", "jobs", "provisioning", "backups", "backfill", "console")

# Secret stores no role reads: tenant passwords and keys awaiting their reveal (encrypted),
# and the cache table (rate-limit counters, pickled values). None has an admin page.
WITHHELD_VIEWS = (
    "provisioning.view_tenantdatabasecredential",
    "provisioning.view_apikeyreveal",
    "controlplane.view_cacheentry",
)

# Every permission behind an admin action, button or staff endpoint that changes something
# (or, for download_backup, hands out a file). jobs.pause_jobtype and jobs.run_job are
# granted where the jobs app declares them.
ACTION_PERMISSIONS = (
    "jobs.operate_job",
    "jobs.pause_jobtype",
    "jobs.run_job",
    "backups.manage_backup",
    "backups.download_backup",
    "backups.request_export",
    "backups.change_backupschedule",
    "backfill.manage_backfill",
    "controlplane.suspend_project",
    "controlplane.add_project",  # provisioning a project, retrying it, restoring into one
    "provisioning.issue_apikey",
    "provisioning.revoke_apikey",
)


def _permissions(q: Q) -> list[Permission]:
    return list(Permission.objects.filter(q).select_related("content_type"))


def viewer_permissions() -> list[Permission]:
    """Return every view_* permission of our apps but the secret stores'."""
    withheld = Q()
    for name in WITHHELD_VIEWS:
        app_label, codename = name.split(".")
        withheld |= Q(content_type__app_label=app_label, codename=codename)
    return _permissions(
        Q(content_type__app_label__in=ROLE_APPS, codename__startswith="view_") & ~withheld
    )


def operator_permissions() -> list[Permission]:
    """Return the viewer's permissions plus every action permission that exists."""
    actions = Q()
    for name in ACTION_PERMISSIONS:
        app_label, codename = name.split(".")
        actions |= Q(content_type__app_label=app_label, codename=codename)
    return viewer_permissions() + _permissions(actions)


def sync_operator_groups(**kwargs: Any) -> None:
    """Create both groups if missing and set their permissions to exactly the listed ones."""
    using = kwargs.get("using", "default")
    for name, permissions in (
        (VIEWER_GROUP, viewer_permissions()),
        (OPERATOR_GROUP, operator_permissions()),
    ):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(permissions)
