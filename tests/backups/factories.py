"""Backup rows with real files in the test storage, for tests that need no pg_dump run."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from backups.models import Backup
from backups.storage import backups_storage

_seq = itertools.count(1)


def backup(*, project: Any, content: bytes | None = None, **kw: Any) -> Backup:
    n = next(_seq)
    content = content if content is not None else f"-- dump {n}\n".encode()
    path = backups_storage().save(f"backups/{project.slug}/test-{n}.sql", ContentFile(content))
    created = kw.pop("created_at", timezone.now())
    return Backup.objects.create(
        project=project,
        format=kw.pop("format", "sql"),
        compressed=kw.pop("compressed", False),
        compression=kw.pop("compression", "none"),
        storage_path=path,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        table_count=kw.pop("table_count", 0),
        created_at=created,
        expires_at=kw.pop("expires_at", created + timedelta(days=30)),
        **kw,
    )
