"""System check: `manage.py qcluster` must be ours, not django-q2's (app order decides)."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.management import get_commands


@checks.register(checks.Tags.compatibility)
def qcluster_is_ours(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Return an error when INSTALLED_APPS lets django-q2's own qcluster win over ours."""
    owner = get_commands().get("qcluster")
    if owner == "jobs":
        return []
    return [
        checks.Error(
            f"manage.py qcluster resolves to {owner!r}, not to the jobs app: without its "
            "dispatcher no job is ever handed to a worker.",
            hint="List 'jobs' before 'django_q' in INSTALLED_APPS.",
            id="jobs.E001",
        )
    ]
