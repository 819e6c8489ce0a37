"""The embedded cluster: starts from the machine's binaries, twice without harm, stops cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from controlplane import embedded_pg
from controlplane.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError


def test_cluster__start_twice_then_stop_cleanly(scratch_dir: Path) -> None:
    cluster = EmbeddedPostgres(scratch_dir / "pg")
    assert cluster.start() is True
    try:
        assert cluster.start() is False  # already running: no harm, no second server
        with psycopg.connect(cluster.url()) as conn:
            conn.execute("CREATE TABLE kept (v int)")
            conn.execute("INSERT INTO kept VALUES (42)")
        socket = cluster.socketdir / ".s.PGSQL.5432"
        assert socket.exists()
    finally:
        assert cluster.stop() is True
    assert cluster.running() is False
    assert not socket.exists()
    assert cluster.stop() is False  # stopping a stopped cluster is harmless
    assert cluster.start() is True  # and it comes back with its data
    try:
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
    finally:
        cluster.stop()


def test_cluster__url_known_before_start_when_its_path_is_too_long_for_a_socket(
    scratch_dir: Path,
) -> None:
    root = scratch_dir / ("deep-folder-" * 8) / "pg"
    assert len(str(root / "socket" / ".s.PGSQL.5432")) > 107  # the kernel's limit
    url = EmbeddedPostgres(root).url()  # what settings compute before rundev starts it
    cluster = EmbeddedPostgres(root)
    cluster.start(fast=True)
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert cluster.url() == url
    finally:
        cluster.stop()


def test_cluster__listens_on_its_socket_only(scratch_dir: Path) -> None:
    cluster = EmbeddedPostgres(scratch_dir / "pg")
    cluster.start(fast=True)
    try:
        with psycopg.connect(cluster.url()) as conn:
            listen = conn.execute("SHOW listen_addresses").fetchone()
            fsync = conn.execute("SHOW fsync").fetchone()
        assert listen == ("",)
        assert fsync == ("off",)
    finally:
        cluster.stop()


def test_cluster__other_roles_need_a_password(scratch_dir: Path) -> None:
    cluster = EmbeddedPostgres(scratch_dir / "pg")
    cluster.start(fast=True)
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE ROLE tenant_probe LOGIN PASSWORD 'right-password'")
        base = dict(
            host=str(cluster.socketdir), port=5432, dbname="controlplane", user="tenant_probe"
        )
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(**base, password="wrong").close()
        with psycopg.connect(**base, password="right-password") as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("tenant_probe",)
    finally:
        cluster.stop()


def test_exec__runs_command_with_database_url_and_stops(scratch_dir: Path) -> None:
    folder = scratch_dir / "pg"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "controlplane.embedded_pg",
            "exec",
            "--dir",
            str(folder),
            "--",
            sys.executable,
            "-c",
            "import os, psycopg; conn = psycopg.connect(os.environ['DATABASE_URL']);"
            " print(conn.execute('select 7*6').fetchone()[0])",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"
    assert EmbeddedPostgres(folder).running() is False


def test_find_bindir__clear_message_without_binaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PG_BIN_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EmbeddedPostgresError, match=r"install them .* or set DATABASE_URL"):
        embedded_pg.find_bindir(debian_root=tmp_path)


def test_find_bindir__bad_override_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_BIN_DIR", str(tmp_path))
    with pytest.raises(EmbeddedPostgresError, match="PG_BIN_DIR"):
        embedded_pg.find_bindir()


def test_cli__exits_non_zero_with_one_sentence(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controlplane.embedded_pg", "start", "--dir", str(tmp_path / "x")],
        env={"PATH": str(tmp_path), "PG_BIN_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: PG_BIN_DIR=")
