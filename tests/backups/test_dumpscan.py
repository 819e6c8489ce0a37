"""Table and row counting on dump streams cut at arbitrary points."""

from __future__ import annotations

import io
import itertools
import tarfile

from hypothesis import given, settings
from hypothesis import strategies as st

from backups.dumpscan import SqlScanner, TarScanner, parse_qualified_name

PLAIN = (
    b"--\n-- Name: items; Type: TABLE; Schema: tenant_a; Owner: -\n--\n\n"
    b"CREATE TABLE tenant_a.items (\n    id integer NOT NULL,\n    name text\n);\n\n"
    b'CREATE TABLE tenant_a."Odd ""Name"" (x)" (\n    a integer\n);\n\n'
    b"CREATE UNLOGGED TABLE tenant_a.scratch (\n    a integer\n);\n\n"
    b"CREATE FUNCTION tenant_a.f() RETURNS void\n    LANGUAGE sql\n    AS $$ SELECT 1 $$;\n\n"
    b'COPY tenant_a."Odd ""Name"" (x)" (a) FROM stdin;\n\\.\n\n'
    b"COPY tenant_a.items (id, name) FROM stdin;\n"
    b"1\tCREATE TABLE tenant_a.fake (\n"
    b"2\tline\\nbreak \\\\. and \\\\\n"
    b"3\tCOPY tenant_a.items (id) FROM stdin;\n"
    b"\\.\n\n"
    b"COPY tenant_a.scratch (a) FROM stdin;\n7\n\\.\n"
)
EXPECTED = {"items": 3, 'Odd "Name" (x)': 0, "scratch": 1}


def scan_plain(data: bytes, cuts: list[int]) -> dict[str, int]:
    scanner = SqlScanner()
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for start, end in itertools.pairwise(points):
        scanner.feed(data[start:end])
    return scanner.tables


def test_parse_qualified_name__quoted_and_plain() -> None:
    assert parse_qualified_name("tenant_a.items (") == ("tenant_a", "items")
    assert parse_qualified_name('tenant_a."a ""b"".c" (') == ("tenant_a", 'a "b".c')
    assert parse_qualified_name("items (") is None
    assert parse_qualified_name('tenant_a."unterminated') is None


def test_sql_scanner__counts_tables_and_rows_not_data_lookalikes() -> None:
    assert scan_plain(PLAIN, []) == EXPECTED


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_sql_scanner__any_chunking_gives_same_result(cuts: list[int]) -> None:
    assert scan_plain(PLAIN, cuts) == EXPECTED


def test_sql_scanner__one_byte_at_a_time() -> None:
    assert scan_plain(PLAIN, list(range(len(PLAIN)))) == EXPECTED


def make_tar() -> bytes:
    members = {
        "toc.dat": b"PGDMP\x01\x0f\x00binary-toc",
        "3001.dat": b"1\ta\n2\tb\n3\tc\n\\.\n\n\n",
        "3002.dat": b"\\.\n\n\n",
        "restore.sql": (
            b"CREATE TABLE tenant_a.items (\n    id integer\n);\n"
            b"CREATE TABLE tenant_a.empty (\n    id integer\n);\n"
            b"COPY tenant_a.items (id, name) FROM stdin;\n\\.\n"
            b"COPY tenant_a.items (id, name) FROM '$$PATH$$/3001.dat';\n"
            b"COPY tenant_a.empty (id) FROM stdin;\n\\.\n"
            b"COPY tenant_a.empty (id) FROM '$$PATH$$/3002.dat';\n"
        ),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=3000))
def test_tar_scanner__tables_from_restore_sql_rows_from_dat(chunk: int) -> None:
    data = make_tar()
    scanner = TarScanner()
    for start in range(0, len(data), chunk):
        scanner.feed(data[start : start + chunk])
    assert scanner.tables == {"items": 3, "empty": 0}


BACKSLASHY = (
    b"CREATE TABLE tenant_a.paths (\n    p text\n);\n\n"
    b"COPY tenant_a.paths (p) FROM stdin;\n"
    + b"".join(b"C:\\\\dir\\\\%d\\\\.\\\\n\\\\\n" % i for i in range(100))
    + b"\\.\n\nCOPY tenant_a.more (p) FROM stdin;\n\\.\n"
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=10))
def test_sql_scanner__rows_full_of_backslashes(cuts: list[int]) -> None:
    # More backslashes in one piece than the one-byte search tries before the full search.
    assert scan_plain(BACKSLASHY, cuts) == {"paths": 100, "more": 0}
