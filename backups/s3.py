"""The S3-compatible backend of STORAGES["backups"], with bounded upload memory."""

from __future__ import annotations

from typing import Any

from boto3.s3.transfer import TransferConfig
from storages.backends.s3 import S3Storage

PART_BYTES = 8 * 1024 * 1024  # S3 wants parts of at least 5 MiB
PARTS_IN_MEMORY = 2


class BackupS3Storage(S3Storage):
    """S3Storage whose streamed uploads hold at most PARTS_IN_MEMORY parts in memory.

    A dump arrives as a stream that cannot seek, so boto3 buffers every multipart part it
    reads ahead; its defaults (8 MiB parts, 10 read ahead) hold about 80 MB per export.
    """

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        if settings.get("transfer_config") is None:
            config = TransferConfig(
                multipart_threshold=PART_BYTES,
                multipart_chunksize=PART_BYTES,
                max_concurrency=PARTS_IN_MEMORY,
                use_threads=self.use_threads,
            )
            config.max_in_memory_upload_chunks = PARTS_IN_MEMORY
            self.transfer_config = config
