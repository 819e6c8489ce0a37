"""Where backup files live: the `backups` storage, key naming and storage_path checks."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime

from django.core.files.storage import Storage, storages

from backups.codecs import extension
from backups.errors import InvalidStoragePath
from backups.models import BackupFormat

STORAGE_ALIAS = "backups"
MAX_PATH_LENGTH = 500
# File systems allow 255 bytes per name; S3 keys 1024 bytes in all. The file name keeps room
# for the 8 bytes storage adds to a name already taken ("_" + 7 random characters).
MAX_SEGMENT_BYTES = 255
MAX_NAME_BYTES = MAX_SEGMENT_BYTES - 8
MAX_PATH_BYTES = 1000


def backups_storage() -> Storage:
    """Return the storage backups are written to (STORAGES["backups"])."""
    return storages[STORAGE_ALIAS]


def file_extension(*, format: str, compression: str) -> str:
    """Return `sql` or `tar`, followed by `.gz` or `.zst` when compressed."""
    return BackupFormat(format).value + extension(compression)


def default_storage_key(*, project_slug: str, format: str, compression: str, at: datetime) -> str:
    """Return `backups/<slug>/<UTC timestamp>.<sql|tar>[.gz|.zst]` for an export started `at`."""
    # Microseconds keep two exports of one project in the same second apart.
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    ext = file_extension(format=format, compression=compression)
    return f"backups/{project_slug}/{stamp}.{ext}"


def storage_path_problem(path: object, *, project_slug: str) -> str | None:
    """Return why `path` is not a safe storage_path for the project, or None if it is."""
    if not isinstance(path, str) or not path:
        return "storage_path must be a non-empty string."
    if len(path) > MAX_PATH_LENGTH:
        return f"storage_path must be at most {MAX_PATH_LENGTH} characters."
    if "\x00" in path:
        return "storage_path must not contain NUL characters."
    if "\\" in path:
        return "storage_path must not contain backslashes."
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        return "storage_path must not contain control characters."
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "storage_path must be relative, not absolute."
    segments = path.split("/")
    if any(seg in ("", ".", "..") for seg in segments):
        return "storage_path must not contain empty, '.' or '..' segments."
    if len(path.encode()) > MAX_PATH_BYTES:
        return f"storage_path must be at most {MAX_PATH_BYTES} bytes (UTF-8)."
    if any(len(seg.encode()) > MAX_SEGMENT_BYTES for seg in segments[:-1]):
        return f"storage_path folder names must be at most {MAX_SEGMENT_BYTES} bytes (UTF-8)."
    if len(segments[-1].encode()) > MAX_NAME_BYTES:
        return f"storage_path's file name must be at most {MAX_NAME_BYTES} bytes (UTF-8)."
    prefix = f"backups/{project_slug}/"
    if not path.startswith(prefix) or posixpath.normpath(path) != path or len(segments) < 3:
        return f"storage_path must be a file under {prefix}."
    return None


def validate_storage_path(path: str, *, project_slug: str) -> str:
    """Return `path` when it is a safe relative file path under backups/<slug>/."""
    problem = storage_path_problem(path, project_slug=project_slug)
    if problem:
        raise InvalidStoragePath(problem)
    return path
