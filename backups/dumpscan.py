"""Count tables and rows in a pg_dump stream as it flows past, in bounded memory.

Plain dumps: `CREATE TABLE` statements give the tables, `COPY ... FROM stdin;`
blocks (one line per row, ended by a line `\\.`) give the rows. Tar archives:
`restore.sql`, the script pg_restore prints from the archive's table of contents,
names the tables and maps each `NNNN.dat` member to its table; the `.dat` members
hold the COPY rows.
"""

from __future__ import annotations

import re

_MAX_LINE_HEAD = 8192
_COPY_END = b"\n\\.\n"
_DAT_REF = re.compile(r"FROM '\$\$PATH\$\$/(\d+\.dat)';$")
_CREATE_PREFIXES = ("CREATE TABLE ", "CREATE UNLOGGED TABLE ")
_UNQUOTED = re.compile(r'[^\s."(]+')


def parse_qualified_name(text: str) -> tuple[str, str] | None:
    """Return (schema, name) from the start of `text` (`s.t`, `s."T x"`), or None."""
    parts: list[str] = []
    pos = 0
    for _ in range(2):
        if text.startswith('"', pos):
            end = pos + 1
            chunks: list[str] = []
            while True:
                close = text.find('"', end)
                if close == -1:
                    return None
                chunks.append(text[end:close])
                if text.startswith('"', close + 1):
                    chunks.append('"')
                    end = close + 2
                    continue
                pos = close + 1
                break
            parts.append("".join(chunks))
        else:
            match = _UNQUOTED.match(text, pos)
            if not match:
                return None
            parts.append(match.group(0))
            pos = match.end()
        if len(parts) == 1:
            if not text.startswith(".", pos):
                return None
            pos += 1
    return parts[0], parts[1]


class CopyRowCounter:
    """Count the rows of one COPY text block; `feed` returns where the block ended."""

    def __init__(self) -> None:
        self.rows = 0
        self.done = False
        # The line before the block ended with a newline: the end marker may come first.
        self._tail = b"\n"

    def feed(self, data: bytes | memoryview, start: int = 0) -> int:
        """Consume `data[start:]`; return the offset just past the end marker, or len(data)."""
        if self.done:
            return start
        chunk = bytes(data)  # no copy when it is bytes already
        # A marker split across pieces: look at the last bytes of the previous piece too.
        head = self._tail + chunk[start : start + 3]
        idx = head.find(_COPY_END)
        if idx != -1:
            end = start + idx + len(_COPY_END) - len(self._tail)
            self.rows += chunk.count(b"\n", start, max(start, end - 3))
            self.done = True
            return end
        idx = _find_end(chunk, start)
        if idx == -1:
            self.rows += chunk.count(b"\n", start)
            self._tail = (self._tail + chunk[max(start, len(chunk) - 3) :])[-3:]
            return len(chunk)
        # Rows end at each newline before the marker's backslash (its leading newline included).
        self.rows += chunk.count(b"\n", start, idx + 1)
        self.done = True
        return idx + len(_COPY_END)


_BACKSLASH_TRIES = 64


def _find_end(chunk: bytes, start: int) -> int:
    """Return where `\\n\\\\.\\n` starts in chunk[start:], or -1.

    Backslashes are rare in COPY text, and finding one byte is far faster than finding
    four; after many false hits, the four-byte search takes over.
    """
    pos = start
    for _ in range(_BACKSLASH_TRIES):
        hit = chunk.find(b"\\", pos)
        if hit == -1:
            return -1
        if hit - 1 >= start and chunk[hit - 1 : hit + 3] == _COPY_END:
            return hit - 1
        pos = hit + 1
    return chunk.find(_COPY_END, max(start, pos - 1))


class SqlScanner:
    """Scan a plain SQL dump (or a tar's restore.sql) for tables, rows and .dat references."""

    def __init__(self) -> None:
        self.tables: dict[str, int] = {}
        self.dat_files: dict[str, str] = {}
        self._copy: CopyRowCounter | None = None
        self._copy_table = ""
        self._line = bytearray()
        self._line_truncated = False
        self._line_tail = b""

    def feed(self, data: bytes | memoryview) -> None:
        """Consume the next piece of the stream."""
        chunk = bytes(data)
        pos, size = 0, len(chunk)
        while pos < size:
            if self._copy is not None:
                pos = self._copy.feed(chunk, pos)
                if self._copy.done:
                    self.tables[self._copy_table] = self._copy.rows
                    self._copy = None
                continue
            newline = chunk.find(b"\n", pos)
            self._append(chunk[pos : size if newline == -1 else newline])
            if newline == -1:
                return
            self._line_done()
            pos = newline + 1

    def _append(self, piece: bytes) -> None:
        room = _MAX_LINE_HEAD - len(self._line)
        if room > 0:
            self._line += piece[:room]
        if len(piece) > room:
            self._line_truncated = True
        self._line_tail = (self._line_tail + piece)[-64:]

    def _line_done(self) -> None:
        head = self._line.decode("utf-8", "replace")
        tail = self._line_tail.decode("utf-8", "replace")
        self._line.clear()
        self._line_truncated = False
        self._line_tail = b""
        if not head.startswith(("CREATE ", "COPY ")):
            return
        for prefix in _CREATE_PREFIXES:
            if head.startswith(prefix):
                name = parse_qualified_name(head[len(prefix) :])
                if name:
                    self.tables.setdefault(name[1], 0)
                return
        if head.startswith("COPY "):
            name = parse_qualified_name(head[5:])
            if name is None:
                return
            if tail.endswith(" FROM stdin;"):
                self._copy = CopyRowCounter()
                self._copy_table = name[1]
                return
            dat = _DAT_REF.search(tail)
            if dat:
                self.dat_files[dat.group(1)] = name[1]


class TarScanner:
    """Walk a tar stream's members: restore.sql to a SqlScanner, *.dat to row counters."""

    def __init__(self) -> None:
        self.sql = SqlScanner()
        self._dat_rows: dict[str, int] = {}
        self._header = bytearray()
        self._remaining = 0
        self._padding = 0
        self._member = ""
        self._counter: CopyRowCounter | None = None
        self._ended = False

    def feed(self, data: bytes | memoryview) -> None:
        """Consume the next piece of the tar stream."""
        view = memoryview(data)
        pos = 0
        while pos < len(view) and not self._ended:
            if self._remaining:
                take = min(self._remaining, len(view) - pos)
                self._member_data(view[pos : pos + take])
                self._remaining -= take
                pos += take
                if not self._remaining:
                    self._member_end()
            elif self._padding:
                skip = min(self._padding, len(view) - pos)
                self._padding -= skip
                pos += skip
            else:
                take = min(512 - len(self._header), len(view) - pos)
                self._header += view[pos : pos + take]
                pos += take
                if len(self._header) == 512:
                    self._parse_header(bytes(self._header))
                    self._header.clear()

    def _parse_header(self, block: bytes) -> None:
        if block == b"\0" * 512:
            return  # end-of-archive blocks
        name = block[0:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        size_field = block[124:136]
        if size_field[0] & 0x80:  # GNU base-256 for members over 8 GiB
            size = int.from_bytes(size_field[1:], "big")
        else:
            size = int(size_field.split(b"\0", 1)[0].strip() or b"0", 8)
        self._member = name
        self._remaining = size
        self._padding = (-size) % 512
        self._counter = CopyRowCounter() if name.endswith(".dat") else None
        if size == 0:
            self._member_end()

    def _member_data(self, piece: memoryview) -> None:
        if self._member == "restore.sql":
            self.sql.feed(piece)
        elif self._counter is not None:
            self._counter.feed(piece)

    def _member_end(self) -> None:
        if self._counter is not None:
            self._dat_rows[self._member] = self._counter.rows
            self._counter = None

    @property
    def tables(self) -> dict[str, int]:
        """Return table → rows, joining restore.sql's tables with the .dat row counts."""
        result = dict(self.sql.tables)
        for dat, table in self.sql.dat_files.items():
            if table in result:
                result[table] = self._dat_rows.get(dat, 0)
        return result
