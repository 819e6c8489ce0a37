"""Reading the audit log by object: which rows concern a record, and where a row's target is.

Audit rows name their target as (`target_type`, `target_id`); this module maps those names
to models by label only, so it imports nothing from the apps above controlplane.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.admin.utils import quote
from django.db.models import Model, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode

from controlplane.models import AuditLog, Project

# target_type -> the model (app_label.model_name) its target_id names.
TARGET_MODELS: dict[str, str] = {
    "project": "controlplane.project",
    "backup": "backups.backup",
    "job": "jobs.job",
    "api_key": "provisioning.apikey",
    "backfill_log": "backfill.backfilllog",
}
_TYPES_BY_MODEL = {label: target_type for target_type, label in TARGET_MODELS.items()}
# How a model's rows are named in target_id where it is not the primary key.
_TARGET_IDS: dict[str, Callable[[Any], str]] = {
    "backfill.backfilllog": lambda log: f"{log.year}-{log.month:02d}",
}


def target_type_of(obj: Model) -> str:
    """Return the target_type audit rows use for `obj`'s model (its model name if unlisted)."""
    label = obj._meta.label_lower
    return _TYPES_BY_MODEL.get(label, obj._meta.model_name or label)


def audit_rows_for(obj: Model) -> QuerySet[AuditLog]:
    """Return the audit rows about `obj`, newest first; a project's include its records'."""
    label = obj._meta.label_lower
    target_id = _TARGET_IDS.get(label, lambda o: str(o.pk))(obj)
    rows = Q(target_type=target_type_of(obj), target_id=target_id)
    if isinstance(obj, Project):
        # Older rows name a project by its id; any row may concern it through `project`.
        rows |= Q(target_type="project", target_id=str(obj.pk)) | Q(project=obj)
    return AuditLog.objects.filter(rows).select_related("actor").order_by("-at", "-id")


def audit_target_url(row: AuditLog) -> str | None:
    """Return the admin URL of a row's target, or None where it has no page."""
    label = TARGET_MODELS.get(row.target_type)
    if label is None:
        return None
    app_label, model_name = label.split(".")
    try:
        if row.target_type == "project":
            if row.project_id is None:
                return None
            return reverse("admin:controlplane_project_change", args=[row.project_id])
        if row.target_type == "backfill_log":
            year, _, month = row.target_id.partition("-")
            if not (year.isdigit() and month.isdigit()):
                return None
            changelist = reverse(f"admin:{app_label}_{model_name}_changelist")
            return f"{changelist}?{urlencode({'year': int(year), 'month': int(month)})}"
        return reverse(f"admin:{app_label}_{model_name}_change", args=[quote(row.target_id)])
    except NoReverseMatch:  # a model without an admin page
        return None


def audit_bulk_url(bulk_id: str) -> str:
    """Return the audit list of the rows one bulk action wrote."""
    changelist = reverse("admin:controlplane_auditlog_changelist")
    return f"{changelist}?{urlencode({'details__bulk_id': bulk_id})}"
