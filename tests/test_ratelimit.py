"""The rate limit is the tenant's: syncs in separate processes keep to it together (issue 10)."""

from __future__ import annotations

import bisect
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from audit_viewer.api import ratelimit
from audit_viewer.api.ratelimit import SharedRateLimiter
from audit_viewer.sandbox import Faults, SandboxServer
from audit_viewer.sandbox.server import RATE_LIMIT_PER_SECOND

SECRET = "s3cr3t-ratelimit-never-in-a-file"
URL = "https://tenant.example.com"

# One sync: N list requests (pages of one event) through a PlatformClient, starting at a wall-
# clock time the test chose, so all processes run at once whatever their start-up took.
SYNC = """
import itertools, os, sys, time
from audit_viewer.api import PlatformClient

url, client_id, pages, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with PlatformClient(url, client_id, os.environ["SYNC_SECRET"], page_size=1) as client:
    time.sleep(max(0.0, start_at - time.time()))
    print(sum(1 for _ in itertools.islice(client.iter_pages(), pages)))
"""


@pytest.fixture(autouse=True)
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh runtime folder, and a fresh record of which warnings were given."""
    folder = tmp_path / "runtime"
    monkeypatch.setenv("AUDIT_VIEWER_RUNTIME_DIR", str(folder))
    monkeypatch.setattr(ratelimit, "_warned", set())
    return folder


class FakeTime:
    """A clock that moves only when the limiter sleeps, so waits are exact and instant."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def most_in_one_second(times: list[float]) -> int:
    """The largest number of ``times`` inside any half-open 1 s window [t, t + 1)."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


@pytest.mark.slow  # three interpreters sending 33 requests at 10 per 1.05 s: about 5 s
def test_syncs_in_separate_processes_keep_to_the_tenants_limit_together(runtime: Path) -> None:
    processes, pages = 3, 10
    with SandboxServer(events=200, secret=SECRET, faults=Faults(enforce_rate_limit=True)) as server:
        start_at = time.time() + 2.0  # after every interpreter has imported the app
        env = {**os.environ, "SYNC_SECRET": SECRET}
        syncs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SYNC,
                    server.url,
                    server.client_id,
                    str(pages),
                    str(start_at),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        outputs = [sync.communicate(timeout=120) for sync in syncs]
        stats = server.stats
    for sync, (stdout, stderr) in zip(syncs, outputs, strict=True):
        assert sync.returncode == 0, stderr
        assert stdout.strip() == str(pages)
    assert stats.rate_limited == 0  # no request was answered 429 for overspeed
    assert stats.list_requests == len(stats.arrivals) == processes * pages
    # Each limiter lets 10 requests go per 1.05 s of sending time; the contract counts 10 per
    # 1 s of arrival. Counting at arrival in the test's own 1 s windows is what the contract asks;
    # the 50 ms margin is what absorbs loopback latency jitter between sending and arrival.
    assert most_in_one_second(stats.arrivals) <= RATE_LIMIT_PER_SECOND
    # The tenant's file names and holds no credential.
    (state,) = runtime.iterdir()
    assert server.client_id not in state.name
    text = state.read_text(encoding="utf-8")
    assert SECRET not in text
    assert server.client_id not in text
    assert all(isinstance(t, float) for t in json.loads(text))


def test_clients_of_one_tenant_share_a_budget_other_tenants_do_not() -> None:
    fake = FakeTime()

    def limiter(url: str, client_id: str) -> SharedRateLimiter:
        return SharedRateLimiter(url, client_id, 2, clock=fake.clock, sleep=fake.sleep)

    first, same_tenant = limiter(URL, "client-a"), limiter(URL, "client-a")
    other_client, other_url = limiter(URL, "client-b"), limiter(URL + "/eu", "client-a")
    first.acquire()
    same_tenant.acquire()
    other_client.acquire()
    other_client.acquire()
    other_url.acquire()
    assert fake.slept == []  # each tenant's 2 requests fit its own window
    first.acquire()  # the tenant's third in one window waits for the first to leave it
    assert fake.slept == [pytest.approx(2 / 2 * 1.05)]
    assert len({first.path, same_tenant.path, other_client.path, other_url.path}) == 3


def test_a_wall_clock_stepped_back_does_not_park_the_sync() -> None:
    fake = FakeTime()
    limiter = SharedRateLimiter(URL, "client", 2, clock=fake.clock, sleep=fake.sleep)
    assert limiter.path is not None
    # Send times an hour ahead: the clock stepped back after they were written. Forgotten.
    limiter.path.write_text(json.dumps([fake.now + 3600.0] * 2))
    limiter.acquire()
    assert fake.slept == []
    # Half a second ahead: still in the window, so waited for, but never for more than two.
    limiter.path.write_text(json.dumps([fake.now + 0.5] * 2))
    limiter.acquire()
    assert fake.slept == [pytest.approx(0.5 + 1.05)]


def test_threads_and_limiters_of_one_process_never_lose_a_count() -> None:
    """Read, count, write under the locks: 8 threads on two limiters record every request."""
    fake = FakeTime()  # never moves: no request leaves the window
    limiters = [
        SharedRateLimiter(URL, "client", 1000, clock=fake.clock, sleep=fake.sleep) for _ in range(2)
    ]

    def send(limiter: SharedRateLimiter) -> None:
        for _ in range(40):
            limiter.acquire()

    workers = [threading.Thread(target=send, args=(limiters[i % 2],)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert limiters[0].path is not None
    assert len(json.loads(limiters[0].path.read_bytes())) == 8 * 40
    assert fake.slept == []


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xff not json", b'{"sent": [1.0]}', b"[1, 2]", b"[" * 100_000, b"[1800000000.0,"],
    ids=["binary", "object", "integers", "deep", "cut short"],
)
def test_a_corrupt_state_file_is_reset_with_one_warning(
    garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeTime()
    limiter = SharedRateLimiter(URL, "client", 10, clock=fake.clock, sleep=fake.sleep)
    assert limiter.path is not None
    with caplog.at_level(logging.WARNING, logger="audit_viewer.api.ratelimit"):
        for _ in range(2):
            limiter.path.write_bytes(garbage)
            limiter.acquire()
    assert json.loads(limiter.path.read_bytes()) == [fake.now]  # afresh, with this request
    assert fake.slept == []
    assert [record.getMessage() for record in caplog.records] == [
        f"The shared rate limit file {limiter.path} was unreadable; starting it afresh"
    ]


def test_an_unwritable_runtime_dir_falls_back_to_an_in_process_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the runtime folder should be")
    monkeypatch.setenv("AUDIT_VIEWER_RUNTIME_DIR", str(blocker / "runtime"))
    with caplog.at_level(logging.WARNING, logger="audit_viewer.api.ratelimit"):
        limiters = [SharedRateLimiter(URL, "client", 10) for _ in range(2)]
        for limiter in limiters:
            limiter.acquire()
    assert len(caplog.records) == 1  # one warning, not one per sync
    assert "Cannot share the request rate limit" in caplog.text
    assert limiters[0]._fallback is limiters[1]._fallback  # one tenant, one in-process window


def test_the_client_uses_the_shared_limiter_unless_given_one(runtime: Path) -> None:
    from audit_viewer.api import PlatformClient

    mine = ratelimit.LocalRateLimiter(5)
    with (
        PlatformClient(URL, "client", SECRET) as shared,
        PlatformClient(URL, "client", SECRET, limiter=mine) as injected,
    ):
        assert isinstance(shared._limiter, SharedRateLimiter)
        assert injected._limiter is mine
    (state,) = runtime.iterdir()
    assert SECRET not in state.name and SECRET not in state.read_text(encoding="utf-8")
