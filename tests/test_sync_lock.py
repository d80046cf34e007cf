"""One sync of a profile at a time, and a sync that waits for the cache's write lock says so.

Real parts only: a second process holds the lock (or SQLite's write lock), a real sandbox
serves the sync, and the command line runs as an admin would run it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit_viewer import cli, config
from audit_viewer.cache import CacheError, CacheStore, SyncBusyError
from audit_viewer.sandbox import SandboxServer

PROFILE = "main"

# A second program: opens the cache, takes a lock, says "held", and keeps it until killed.
_HOLD_SYNC_LOCK = """
import sys, time
from audit_viewer.cache import CacheStore
store = CacheStore.open(sys.argv[1])
with store.sync_lock(sys.argv[2]):
    print("held", flush=True)
    time.sleep(600)
"""
_HOLD_WRITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()  # released when the test writes a line
conn.execute("COMMIT")
"""


def _holder(script: str, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.communicate(timeout=30)  # closes its pipes


def _sync_args(server: SandboxServer, cache: str, *extra: str) -> list[str]:
    return [
        "sync",
        "--profile",
        PROFILE,
        "--base-url",
        server.url,
        "--client-id",
        server.client_id,
        "--cache",
        cache,
        *extra,
    ]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer(events=300, seed=5) as running:
        monkeypatch.setenv(config.ENV_SECRET, running.secret)
        yield running


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_second_sync_of_a_profile_is_refused_before_any_request(
    cache_url: str, server: SandboxServer, holders, capsys
) -> None:
    CacheStore.open(cache_url).close()
    holders.append(_holder(_HOLD_SYNC_LOCK, cache_url, PROFILE))

    code, out, err = _run(capsys, *_sync_args(server, cache_url))

    assert code == cli.EXIT_BUSY and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Another sync of profile main" in lines[0], err
    assert server.stats.logins == 0 and server.stats.list_requests == 0
    with CacheStore.open(cache_url) as store:
        state = store.sync_state(PROFILE)
    assert state is None or state.last_error is None  # the running sync's state is not touched


def test_the_lock_is_the_profiles_and_goes_with_the_process(
    cache_url: str, server: SandboxServer, holders, capsys
) -> None:
    CacheStore.open(cache_url).close()
    other = _holder(_HOLD_SYNC_LOCK, cache_url, "another-profile")
    holders.append(other)

    code, out, _err = _run(capsys, *_sync_args(server, cache_url))
    assert code == cli.EXIT_OK and "Synced 300 new events" in out

    holder = _holder(_HOLD_SYNC_LOCK, cache_url, PROFILE)
    holders.append(holder)
    assert _run(capsys, *_sync_args(server, cache_url))[0] == cli.EXIT_BUSY
    holder.send_signal(signal.SIGKILL)  # a crashed sync leaves no lock behind
    holder.communicate(timeout=30)
    code, out, _err = _run(capsys, *_sync_args(server, cache_url))
    assert code == cli.EXIT_OK and "Synced 0 new events" in out


def test_two_threads_of_one_process_cannot_sync_one_profile_at_once(cache_url: str) -> None:
    with CacheStore.open(cache_url) as first, CacheStore.open(cache_url) as second:
        with first.sync_lock(PROFILE):
            busy = pytest.raises(SyncBusyError, match="Another sync of profile main")
            with busy, second.sync_lock(PROFILE):
                pass
            with second.sync_lock("another-profile"):
                pass
        with second.sync_lock(PROFILE):  # released on leaving
            pass


def test_a_sync_waiting_for_the_write_lock_says_so_and_then_goes_on(
    tmp_path: Path, server: SandboxServer, holders, capsys
) -> None:
    cache = str(tmp_path / "cache.sqlite3")
    CacheStore.open(cache).close()
    holder = _holder(_HOLD_WRITE_LOCK, cache)
    holders.append(holder)
    waited: list[float] = []

    with CacheStore.open(cache) as store:
        store.on_lock_wait = waited.append
        release = threading.Timer(2.5, lambda: print(file=holder.stdin, flush=True))
        release.start()
        try:
            store.check_writable()  # a write: waits for the other program, then succeeds
        finally:
            release.cancel()
    assert waited and waited[0] >= 0.9  # told after the first second of waiting


def test_a_sync_behind_a_long_write_lock_gives_up_in_one_line(
    tmp_path: Path, server: SandboxServer, holders, capsys
) -> None:
    cache = str(tmp_path / "cache.sqlite3")
    CacheStore.open(cache).close()
    holders.append(_holder(_HOLD_WRITE_LOCK, cache))

    code, out, err = _run(capsys, *_sync_args(server, cache, "--lock-timeout", "2"))

    assert code == cli.EXIT_CACHE and out == ""
    lines = err.strip().splitlines()
    assert any("Waiting for the cache" in line and "another program" in line for line in lines)
    assert "stayed locked by another program" in lines[-1], err
    assert "database is locked" not in err and "Traceback" not in err
    assert server.stats.list_requests == 0  # found before the first request


def test_without_write_lock_wait_the_cache_error_is_immediate(tmp_path: Path, holders) -> None:
    cache = str(tmp_path / "cache.sqlite3")
    CacheStore.open(cache).close()
    holders.append(_holder(_HOLD_WRITE_LOCK, cache))
    locked = pytest.raises(CacheError, match="stayed locked by another program")
    with CacheStore.open(cache, lock_timeout=0) as store, locked:
        store.check_writable()


def test_the_sync_lock_file_sits_beside_the_cache_and_holds_no_data(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    with CacheStore.open(str(cache)) as store, store.sync_lock(PROFILE):
        lock = tmp_path / "cache.sqlite3-synclock"
        assert lock.is_file() and lock.stat().st_size == 0
        assert oct(lock.stat().st_mode & 0o777) == oct(0o600)
    with sqlite3.connect(cache) as conn:  # the cache itself is untouched by the lock
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert os.path.exists(lock)
