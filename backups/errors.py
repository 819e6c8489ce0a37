"""Errors of the backup engine; permanent ones are PermanentJobErrors (never retried)."""

from __future__ import annotations

from jobs.errors import PermanentJobError


class BackupError(Exception):
    """Raise when a backup operation fails; the message is safe to show and store."""

    permanent = False


class BackupPermanentError(BackupError, PermanentJobError):
    """Raise when retrying cannot help (bad input, project gone or not active)."""

    permanent = True


class ProjectNotActive(BackupPermanentError):
    """Raise when the project is missing or not ACTIVE."""


class InvalidStoragePath(BackupPermanentError):
    """Raise when a storage_path is not a safe relative path under backups/<project>/."""


class InvalidCompression(BackupPermanentError):
    """Raise when `compress` and `compression` disagree or the codec is unknown."""


class StoragePathTaken(BackupPermanentError):
    """Raise when the requested storage_path already holds a file."""


class PgBinaryNotFound(BackupPermanentError):
    """Raise when no pg_dump matching the server's major version (or newer) exists."""


class BackupTooLarge(BackupPermanentError):
    """Raise when the stored file would exceed BACKUPS_MAX_BYTES."""


class BackupTimeout(BackupError):
    """Raise when pg_dump runs longer than BACKUPS_TIMEOUT."""


class BackupCancelled(BackupError):
    """Raise when the caller asked to stop the export."""


class PgToolFailed(BackupError):
    """Raise when pg_dump, psql or pg_restore exits with an error."""


class BackupCorrupted(BackupPermanentError):
    """Raise when a stored file no longer matches its recorded SHA-256."""


class VerificationMismatch(BackupPermanentError):
    """Raise when a restored dump's tables or row counts differ from what was dumped."""


class TelegramError(BackupError):
    """Raise when the Bot API keeps failing (rate limits, server errors) past the retry cap."""


class TelegramRefused(BackupPermanentError):
    """Raise when the Bot API refuses for good: bad token, unknown chat, part too large."""


class StorageDeleteRefused(BackupPermanentError):
    """Raise when storage refuses to delete a file (a Telegram message past 48 h, say)."""


class ExportRefused(Exception):
    """Raise when an export request cannot be accepted; the message is safe to show."""


class ProjectNotFound(ExportRefused):
    """Raise when no project has the requested slug."""


class ProjectUnavailable(ExportRefused):
    """Raise when the project exists but is not ACTIVE (`suspended` tells which case)."""

    def __init__(self, message: str, *, suspended: bool) -> None:
        super().__init__(message)
        self.suspended = suspended


class IdempotencyKeyReused(ExportRefused):
    """Raise when an Idempotency-Key comes back with a different request body."""
