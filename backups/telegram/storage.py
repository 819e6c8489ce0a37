"""STORAGES["backups"] on Telegram: a file is sent as documents of at most one part each.

A bot may upload 50 MB and download 20 MB a file through api.telegram.org (more through
a local Bot API server), so a dump is cut into parts of BACKUPS_TELEGRAM_PART_BYTES as it
streams: one part is held in memory (so it can be sent again after a 429), never the
whole dump. Each part's file id and message id are recorded in TelegramFile under the
storage name as soon as Telegram answers; reading streams the parts back in order and
checks their SHA-256 against what was sent.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from collections.abc import Iterator
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible

from backups.errors import (
    BackupCorrupted,
    StorageDeleteRefused,
    TelegramError,
    TelegramRefused,
)
from backups.models import TelegramFile
from backups.telegram.client import BotApi, RetryPolicy

MIB = 1024 * 1024
# Under the Bot API's 20 MB download limit (api.telegram.org), with room to spare.
DEFAULT_PART_BYTES = 19 * MIB
DELETE_HINT = (
    "a bot may delete its own messages only within 48 hours of sending them, unless it is "
    "an administrator of the chat with the right to delete messages"
)


@deconstructible
class TelegramStorage(Storage):
    """Store files as Telegram documents in one chat, cut into parts."""

    def __init__(
        self,
        *,
        token: str = "",
        chat_id: str = "",
        api_base_url: str = "https://api.telegram.org",
        part_bytes: int = DEFAULT_PART_BYTES,
        max_retries: int = 5,
        max_retry_after: float = 300.0,
        timeout: float = 120.0,
    ) -> None:
        if part_bytes < 1:
            raise ValueError("part_bytes must be positive.")
        self._token = token
        self.chat_id = str(chat_id)
        self.api_base_url = api_base_url
        self.part_bytes = part_bytes
        self.retry = RetryPolicy(max_retries=max_retries, max_retry_after=max_retry_after)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"TelegramStorage(chat_id={self.chat_id!r}, api_base_url={self.api_base_url!r})"

    def _api(self) -> BotApi:
        if not self.chat_id:
            raise TelegramRefused("TELEGRAM_CHAT_ID is not set.")
        return BotApi(
            token=self._token, base_url=self.api_base_url, timeout=self.timeout, retry=self.retry
        )

    # -- writing ---------------------------------------------------------------------------

    def _save(self, name: str, content: Any) -> str:
        record = TelegramFile.objects.create(name=name, chat_id=self.chat_id)
        api = self._api()
        digest = hashlib.sha256()
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            while True:
                part = _read_exactly(content, self.part_bytes)
                if not part:
                    break
                digest.update(part)
                size += len(part)
                parts.append(self._send_part(api, name, len(parts), part))
                # Recorded at once: a delete after a failure finds every message sent so far.
                TelegramFile.objects.filter(pk=record.pk).update(parts=parts)
                if len(part) < self.part_bytes:
                    break
        finally:
            api.close()
        TelegramFile.objects.filter(pk=record.pk).update(
            size_bytes=size, sha256=digest.hexdigest(), complete=True
        )
        return name

    def _send_part(self, api: BotApi, name: str, index: int, part: bytes) -> dict[str, Any]:
        filename = f"{posixpath.basename(name)}.part{index:04d}"
        message = api.call(
            "sendDocument",
            data={
                "chat_id": self.chat_id,
                "caption": f"{name} part {index + 1}",
                "disable_notification": "true",
                "disable_content_type_detection": "true",
            },
            files={"document": (filename, part, "application/octet-stream")},
        )
        document = message.get("document") if isinstance(message, dict) else None
        if not isinstance(document, dict) or "file_id" not in document:
            raise TelegramError("Telegram sendDocument answered without a document.")
        return {
            "index": index,
            "file_id": str(document["file_id"]),
            "file_unique_id": str(document.get("file_unique_id", "")),
            "message_id": int(message["message_id"]),
            "size": len(part),
        }

    # -- reading ---------------------------------------------------------------------------

    def _record(self, name: str) -> TelegramFile:
        record = TelegramFile.objects.filter(name=name, complete=True).first()
        if record is None:
            raise FileNotFoundError(name)
        return record

    def _open(self, name: str, mode: str = "rb") -> File:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("Telegram files are written with save() only.")
        reader = PartsReader(self._api(), self._record(name))
        return File(io.BufferedReader(reader, buffer_size=1 << 18), name=name)

    def exists(self, name: str) -> bool:
        # A half-sent file exists too: it holds messages a cleanup must delete.
        return TelegramFile.objects.filter(name=name).exists()

    def size(self, name: str) -> int:
        return self._record(name).size_bytes

    def parts(self, name: str) -> list[dict[str, Any]]:
        """Return the stored parts of `name` (file ids, message ids, sizes)."""
        return list(self._record(name).parts)

    # -- deleting --------------------------------------------------------------------------

    def delete(self, name: str) -> None:
        record = TelegramFile.objects.filter(name=name).first()
        if record is None:
            return
        api = self._api()
        kept: list[dict[str, Any]] = []
        reasons: list[str] = []
        try:
            for part in record.parts:
                problem = self._delete_message(api, record.chat_id, int(part["message_id"]))
                if problem:
                    kept.append(part)
                    reasons.append(problem)
        finally:
            api.close()
        if not kept:
            record.delete()
            return
        TelegramFile.objects.filter(pk=record.pk).update(parts=kept)
        raise StorageDeleteRefused(
            f"Telegram refused to delete {len(kept)} of {len(record.parts)} messages of {name} "
            f"({reasons[0]}); {DELETE_HINT}."
        )

    def _delete_message(self, api: BotApi, chat_id: str, message_id: int) -> str | None:
        """Delete one message; return why Telegram refused, None if it is gone."""
        try:
            api.call("deleteMessage", data={"chat_id": chat_id, "message_id": message_id})
        except TelegramRefused as exc:
            if "not found" in str(exc).lower():
                return None  # deleted already (an earlier run, or by hand)
            return str(exc)
        return None


def _read_exactly(content: IO[bytes] | Any, size: int) -> bytes:
    """Read `size` bytes (fewer only at the end) from a file whose reads may come up short."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = content.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class PartsReader(io.RawIOBase):
    """A read-only stream of a stored file's parts, in order, with their SHA-256 checked."""

    def __init__(self, api: BotApi, record: TelegramFile) -> None:
        super().__init__()
        self._api = api
        self._record = record
        self._chunks = self._iterate()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._api.close()
        super().close()

    def _iterate(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        name = self._record.name
        for part in self._record.parts:
            info = self._api.call("getFile", data={"file_id": part["file_id"]})
            path = info.get("file_path") if isinstance(info, dict) else None
            if not path:
                raise TelegramError(f"Telegram getFile gave no file_path for a part of {name}.")
            got = 0
            for chunk in self._api.iter_file(str(path)):
                got += len(chunk)
                digest.update(chunk)
                yield chunk
            if got != int(part["size"]):
                raise BackupCorrupted(
                    f"Part {part['index'] + 1} of {name} has {got} bytes, not {part['size']}."
                )
        if digest.hexdigest() != self._record.sha256:
            raise BackupCorrupted(f"The parts of {name} do not match their SHA-256.")
