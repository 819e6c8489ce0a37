"""Compression of dump files: gzip, zstd or none, streamed both ways in bounded memory."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import zstandard
from django.conf import settings

from backups.errors import InvalidCompression
from backups.models import Compression

_EXTENSIONS = {Compression.GZIP: ".gz", Compression.ZSTD: ".zst", Compression.NONE: ""}


def default_compression() -> str:
    """Return BACKUPS_DEFAULT_COMPRESSION: what `compress: true` means without a codec."""
    return str(settings.BACKUPS_DEFAULT_COMPRESSION)


def resolve_compression(*, compress: bool = True, compression: str | None = None) -> str:
    """Return the codec a request asks for; raise InvalidCompression when the two disagree.

    `compression` absent: `compress` true means the configured default, false means none.
    """
    if compression is None:
        return default_compression() if compress else Compression.NONE.value
    if compression not in Compression.values:
        raise InvalidCompression(f"compression must be one of {', '.join(Compression.values)}.")
    if not compress and compression != Compression.NONE:
        raise InvalidCompression(
            f'compress is false but compression is "{compression}"; '
            'omit compress or use compression "none".'
        )
    return compression


def extension(compression: str) -> str:
    """Return the file suffix of `compression`: `.gz`, `.zst` or ``."""
    return _EXTENSIONS[Compression(compression)]


@dataclass
class Codec:
    """One stream's transform: `feed` takes bytes and returns bytes; `end` returns the rest."""

    feed: Callable[[bytes], bytes]
    end: Callable[[], bytes]


def _identity() -> Codec:
    return Codec(feed=lambda data: data, end=lambda: b"")


def compressor(compression: str, *, gzip_level: int = 1, zstd_level: int = 1) -> Codec:
    """Return a streaming compressor for `compression`."""
    codec = Compression(compression)
    if codec == Compression.GZIP:
        gz = zlib.compressobj(gzip_level, zlib.DEFLATED, 31)
        return Codec(feed=gz.compress, end=gz.flush)
    if codec == Compression.ZSTD:
        # In this thread: a zstd worker thread measured slower here (the handoff costs more
        # than level 1 compression of a 256 KiB piece), and the cores are busy anyway.
        zc = zstandard.ZstdCompressor(level=zstd_level, write_checksum=True)
        zobj = zc.compressobj()
        return Codec(feed=zobj.compress, end=zobj.flush)
    return _identity()


def decompressor(compression: str) -> Codec:
    """Return a streaming decompressor for `compression`."""
    codec = Compression(compression)
    if codec == Compression.GZIP:
        gz = zlib.decompressobj(31)
        return Codec(feed=gz.decompress, end=gz.flush)
    if codec == Compression.ZSTD:
        # read_across_frames: a file may hold several frames (zstd -c a b > f); read them all.
        zobj = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
        return Codec(feed=zobj.decompress, end=lambda: b"")
    return _identity()
