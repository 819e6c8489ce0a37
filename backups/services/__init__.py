"""Writes of the backups app; views, admin actions, schedules and job handlers call these."""

from backups.services.exports import (
    backup_delete,
    backup_download_link,
    backup_download_link_grant,
    backup_download_record,
    backup_export_run,
    backup_legal_hold_set,
    backup_notify_email,
    backup_retention_run,
    backup_verify,
)
from backups.services.requests import (
    EXPORT_JOB,
    IDEMPOTENCY_TTL,
    VERIFY_JOB,
    backup_request,
    backup_verify_request,
    export_exclusive_key,
    export_fingerprint,
    export_payload,
    export_requests_prune,
)
from backups.services.restores import (
    RESTORE_JOB,
    ProjectNotReady,
    backup_restore_enqueue,
    backup_restore_request,
    backup_restore_run,
)

__all__ = [
    "EXPORT_JOB",
    "IDEMPOTENCY_TTL",
    "RESTORE_JOB",
    "VERIFY_JOB",
    "ProjectNotReady",
    "backup_delete",
    "backup_download_link",
    "backup_download_link_grant",
    "backup_download_record",
    "backup_export_run",
    "backup_legal_hold_set",
    "backup_notify_email",
    "backup_request",
    "backup_restore_enqueue",
    "backup_restore_request",
    "backup_restore_run",
    "backup_retention_run",
    "backup_verify",
    "backup_verify_request",
    "export_exclusive_key",
    "export_fingerprint",
    "export_payload",
    "export_requests_prune",
]
