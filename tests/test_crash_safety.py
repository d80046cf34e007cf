"""A sync process killed with SIGKILL mid-run, run again, ends with exactly the server's events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from audit_viewer.api import PlatformClient
from audit_viewer.cache import CacheStore, SyncState
from audit_viewer.events import parse_timestamp
from audit_viewer.sandbox import SandboxServer
from audit_viewer.sync import SyncEngine, SyncProgress

PROFILE = "demo"
PAGE_SIZE = 50

# The killed process: a plain first sync. The secret travels in the environment, never in argv.
SYNC_SCRIPT = f"""
import os, sys
from audit_viewer.api import PlatformClient
from audit_viewer.cache import CacheStore
from audit_viewer.sync import SyncEngine

url, client_id, cache = sys.argv[1:4]
secret = os.environ["AUDIT_VIEWER_CLIENT_SECRET"]
with (
    PlatformClient(url, client_id, secret, page_size={PAGE_SIZE}, max_requests_per_second=1000)
    as client,
    CacheStore.open(cache) as store,
):
    SyncEngine(client, store, {PROFILE!r}).run()
"""


def wait_until_ranges_completed(store: CacheStore, process: subprocess.Popen, ranges: int) -> None:
    deadline = time.monotonic() + 60
    while len(store.sync_state(PROFILE).completed_ranges) < ranges:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the sync made no progress"
        time.sleep(0.02)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_sync_resumes_without_losing_or_doubling_events(cache_url):
    with (
        SandboxServer(events=1500, seed=11) as server,
        CacheStore.open(cache_url) as store,  # created and migrated before the child starts
    ):
        server.faults.enforce_rate_limit = False
        server.faults.slow_page_seconds = 0.03
        env = {**os.environ, "AUDIT_VIEWER_CLIENT_SECRET": server.secret}
        child = subprocess.Popen(
            [sys.executable, "-c", SYNC_SCRIPT, server.url, server.client_id, cache_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until_ranges_completed(store, child, ranges=3)
            time.sleep(0.05)  # land somewhere inside a later page, commit or request
        finally:
            child.send_signal(signal.SIGKILL)
            child.communicate()
        assert child.returncode == -signal.SIGKILL

        killed: SyncState = store.sync_state(PROFILE)
        assert killed.unfinished
        assert len(killed.completed_ranges) >= 3
        partial = store.count(PROFILE)
        expected = {event["id"] for event in server.all_events()}
        assert 0 < partial < len(expected)
        # A range counts as completed only once all its events are committed.
        stored = store.load_frame(PROFILE)
        for start, end in killed.completed_ranges:
            upstream = {
                event["id"]
                for event in server.all_events()
                if start <= parse_timestamp(event["created_at"]) < end
            }
            inside = (stored["created_at"] >= start) & (stored["created_at"] < end)
            assert upstream <= set(stored.loc[inside, "id"])

        server.faults.slow_page_seconds = 0
        reports: list[SyncProgress] = []
        with PlatformClient(
            server.url,
            server.client_id,
            server.secret,
            page_size=PAGE_SIZE,
            max_requests_per_second=1000,
        ) as client:
            resumed = SyncEngine(client, store, PROFILE).run(progress=reports.append)

        frame = store.load_frame(PROFILE)
        assert frame["id"].is_unique
        assert set(frame["id"]) == expected
        assert store.count(PROFILE) == len(expected)
        assert resumed.new_events == len(expected) - partial
        # Only what the killed run had not finished was read again (the unfinished range from
        # its start), plus the time since the killed run's plan ended.
        killed_end = max(end for _start, end in killed.plan)
        read_again = {(report.range_start, report.range_end) for report in reports}
        assert read_again.isdisjoint(killed.completed_ranges)
        for start, end in read_again:
            assert (start, end) in killed.plan or end > killed_end
        unfinished = len(killed.plan) - len(killed.completed_ranges)
        assert unfinished <= len(read_again) <= unfinished + 2
        assert not store.sync_state(PROFILE).unfinished
