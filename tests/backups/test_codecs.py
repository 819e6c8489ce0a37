"""Compression codecs: the request rule, streamed round trips, and the codec column's migration."""

from __future__ import annotations

import gzip
import hashlib
import os
from datetime import timedelta

import pytest
import zstandard
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from backups.codecs import compressor, decompressor, extension, resolve_compression
from backups.errors import InvalidCompression
from backups.models import Backup
from tests import factories


@pytest.mark.parametrize(
    ("compress", "compression", "default", "codec"),
    [
        (True, None, "gzip", "gzip"),
        (True, None, "zstd", "zstd"),
        (False, None, "zstd", "none"),
        (True, "zstd", "gzip", "zstd"),
        (True, "none", "gzip", "none"),
        (False, "none", "gzip", "none"),
    ],
)
def test_resolve_compression__rule(
    settings: object, compress: bool, compression: str | None, default: str, codec: str
) -> None:
    settings.BACKUPS_DEFAULT_COMPRESSION = default
    assert resolve_compression(compress=compress, compression=compression) == codec


@pytest.mark.parametrize("compression", ["gzip", "zstd", "lz4", ""])
def test_resolve_compression__refuses_contradictions_and_unknown_codecs(compression: str) -> None:
    with pytest.raises(InvalidCompression):
        resolve_compression(compress=compression not in ("gzip", "zstd"), compression=compression)


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_compressor__streamed_round_trip_in_pieces(compression: str) -> None:
    data = os.urandom(300_000) + b"COPY rows\n" * 100_000
    enc = compressor(compression)
    pieces = [enc.feed(data[i : i + 65_536]) for i in range(0, len(data), 65_536)]
    stored = b"".join(pieces) + enc.end()
    if compression == "gzip":
        assert gzip.decompress(stored) == data
    elif compression == "zstd":
        assert zstandard.ZstdDecompressor().stream_reader(stored).read() == data
        assert len(stored) < len(data)
    else:
        assert stored == data
    dec = decompressor(compression)
    back = b"".join(dec.feed(stored[i : i + 10_000]) for i in range(0, len(stored), 10_000))
    assert back + dec.end() == data


def test_extension__per_codec() -> None:
    assert (extension("gzip"), extension("zstd"), extension("none")) == (".gz", ".zst", "")


@pytest.mark.django_db(transaction=True)
def test_migration__fills_the_codec_of_existing_backups() -> None:
    project = factories.project(slug="acme-shop")
    executor = MigrationExecutor(connection)
    executor.migrate([("backups", "0003_export_request")])
    now = timezone.now()
    with connection.cursor() as cur:
        for n, compressed in enumerate((True, False)):
            cur.execute(
                "INSERT INTO backups_backup (id, project_id, format, compressed, storage_path, "
                "size_bytes, sha256, table_count, table_rows, created_at, expires_at, legal_hold) "
                "VALUES (gen_random_uuid(), %s, 'sql', %s, %s, 1, %s, 0, '{}', %s, %s, false)",
                [
                    project.pk,
                    compressed,
                    f"backups/acme-shop/old-{n}.sql",
                    hashlib.sha256(b"x").hexdigest(),
                    now,
                    now + timedelta(days=1),
                ],
            )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    codecs = dict(Backup.objects.values_list("compressed", "compression"))
    assert codecs == {True: "gzip", False: "none"}
