"""The sync engine against the real sandbox server over loopback HTTP, into a real cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from audit_viewer.api import PermissionDeniedError, PlatformClient
from audit_viewer.cache import CacheStore, SyncState
from audit_viewer.events import normalize_event, parse_timestamp
from audit_viewer.sandbox import SandboxServer
from audit_viewer.sync import SyncCancelled, SyncEngine, SyncProgress

PROFILE = "demo"


class Clock:
    """A settable 'now' shared by the sandbox and the engine."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def server(sandbox: SandboxServer) -> SandboxServer:
    # Our own client limit is lifted below, so the server's must be too; repeated events across
    # page boundaries make the engine deduplicate as it must against the real platform.
    sandbox.faults.enforce_rate_limit = False
    sandbox.faults.repeat_across_pages = True
    return sandbox


@pytest.fixture
def store(cache_url: str) -> Iterator[CacheStore]:
    with CacheStore.open(cache_url) as cache:
        yield cache


def make_client(server: SandboxServer, page_size: int = 100) -> PlatformClient:
    return PlatformClient(
        server.url,
        server.client_id,
        server.secret,
        page_size=page_size,
        max_requests_per_second=1000,
    )


@pytest.fixture
def client(server: SandboxServer) -> Iterator[PlatformClient]:
    with make_client(server) as platform:
        yield platform


def server_ids(server: SandboxServer) -> set[str]:
    return {event["id"] for event in server.all_events()}


def cached_ids(store: CacheStore, profile: str = PROFILE) -> set[str]:
    frame = store.load_frame(profile)
    assert frame["id"].is_unique
    return set(frame["id"])


def test_first_sync_stores_exactly_the_server_events_and_a_second_adds_nothing(
    server, client, store
):
    reports: list[SyncProgress] = []
    result = SyncEngine(client, store, PROFILE).run(progress=reports.append)

    expected = server_ids(server)
    assert cached_ids(store) == expected
    assert result.new_events == result.total_cached == len(expected) == store.count(PROFILE)
    assert not result.cancelled
    assert result.pages == len(reports) == reports[-1].pages
    assert reports[-1].ranges_done == reports[-1].ranges_total >= 90  # day-sized ranges
    # Newest day first: the admin sees today's events before the rest arrives.
    assert reports[0].range_end == max(report.range_end for report in reports)
    assert reports[-1].range_start == min(report.range_start for report in reports)
    state = store.sync_state(PROFILE)
    assert state.last_outcome == "ok"
    assert not state.unfinished
    assert state.high_water_mark is not None
    assert state.high_water_mark <= state.last_sync_at <= datetime.now(UTC)

    again = SyncEngine(client, store, PROFILE).run()
    assert again.new_events == 0
    assert again.total_cached == len(expected)
    assert again.pages <= 2  # only the overlap since the high-water mark was read
    assert cached_ids(store) == expected


def test_events_repeated_across_pages_are_stored_once(server, store):
    reports: list[SyncProgress] = []
    with make_client(server, page_size=50) as client:
        engine = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30))
        result = engine.run(progress=reports.append)
    assert reports[-1].events > reports[-1].new_events == result.new_events
    assert cached_ids(store) == server_ids(server)
    assert store.count(PROFILE) == len(server_ids(server))


def test_late_events_within_the_overlap_are_caught(server, client, store):
    engine = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30))
    engine.run()
    mark = store.sync_state(PROFILE).high_water_mark
    assert mark is not None
    late = server.make_event(mark - timedelta(minutes=3))
    server.add_events([late])

    result = engine.run()

    assert result.new_events == 1
    assert late["id"] in cached_ids(store)
    assert cached_ids(store) == server_ids(server)


def test_the_archive_keeps_events_that_aged_out_upstream(cache_url):
    clock = Clock()
    with (
        SandboxServer(events=400, seed=3, now=clock) as server,
        make_client(server) as client,
        CacheStore.open(cache_url) as store,
    ):
        server.faults.enforce_rate_limit = False
        engine = SyncEngine(client, store, PROFILE, chunk=timedelta(days=7), now=clock)
        engine.run()
        first = server_ids(server)

        clock.now += timedelta(days=30)
        fresh = server.make_event(clock.now - timedelta(hours=1))
        server.add_events([fresh])
        result = engine.run()

        upstream = server_ids(server)
        assert len(upstream) < len(first)  # a month of events left the platform's retention
        assert result.new_events == 1
        assert cached_ids(store) == first | {fresh["id"]}

        engine.run(full=True)  # a full resync re-reads the window; it never deletes
        assert cached_ids(store) == first | {fresh["id"]}


def test_keep_days_purges_older_events_locally(cache_url):
    clock = Clock()
    with (
        SandboxServer(events=400, seed=5, now=clock) as server,
        make_client(server) as client,
        CacheStore.open(cache_url) as store,
    ):
        server.faults.enforce_rate_limit = False
        engine = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30), now=clock)
        result = engine.run(keep_days=30)

        cutoff = clock.now - timedelta(days=30)
        recent = {
            event["id"]
            for event in server.all_events()
            if parse_timestamp(event["created_at"]) >= cutoff
        }
        assert 0 < len(recent) < len(server_ids(server))
        assert cached_ids(store) == recent
        assert result.purged == len(server_ids(server)) - len(recent)
        assert result.total_cached == len(recent)
        assert store.load_frame(PROFILE)["created_at"].min() >= pd.Timestamp(cutoff)


def test_full_resync_keeps_what_only_the_archive_has(server, client, store):
    ancient = normalize_event(
        {
            "id": "01ANCIENT",
            "created_at": "2020-01-01T00:00:00.000Z",
            "actor_type": "system",
            "action": "Created API key",
            "description": "",
        }
    )
    store.upsert_events(PROFILE, [ancient])
    engine = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30))
    engine.run()
    result = engine.run(full=True)
    assert result.new_events == 0
    assert result.pages >= 3  # the whole window was read again
    assert cached_ids(store) == server_ids(server) | {"01ANCIENT"}


def test_cancelled_sync_keeps_its_pages_and_the_next_run_resumes(server, client, store):
    cancel = threading.Event()

    def progress(report: SyncProgress) -> None:
        if report.pages == 8:
            cancel.set()

    engine = SyncEngine(client, store, PROFILE, chunk=timedelta(days=7))
    result = engine.run(progress=progress, cancel=cancel)

    assert result.cancelled
    assert result.pages == 8
    assert 0 < store.count(PROFILE) == result.total_cached < len(server_ids(server))
    state = store.sync_state(PROFILE)
    assert state.last_outcome == "cancelled"
    assert state.unfinished
    assert state.high_water_mark is None  # nothing is fully covered yet
    assert state.completed_ranges  # the newest days are done ...
    assert max(end for _start, end in state.completed_ranges) == max(
        end for _start, end in state.plan
    )

    resumed = engine.run()
    assert not resumed.cancelled
    assert cached_ids(store) == server_ids(server)
    assert resumed.total_cached == len(server_ids(server))
    assert not store.sync_state(PROFILE).unfinished

    fresh = SyncEngine(client, store, "another-profile", chunk=timedelta(days=7)).run()
    assert resumed.pages < fresh.pages  # ... and were not read again


def test_resume_trusts_the_completed_ranges_in_any_order(server, client, store):
    now = datetime.now(UTC)
    month = timedelta(days=30)
    newest, middle, oldest = (
        (now - month, now),
        (now - 2 * month, now - month),
        (
            now - 3 * month,
            now - 2 * month,
        ),
    )
    store.save_sync_state(
        SyncState(PROFILE, plan=(newest, middle, oldest), completed_ranges=(oldest, newest))
    )
    reports: list[SyncProgress] = []
    SyncEngine(client, store, PROFILE, chunk=month).run(progress=reports.append)

    read = {(report.range_start, report.range_end) for report in reports}
    assert middle in read
    assert not read & {oldest, newest}
    # What the record called done was not fetched again; everything else was.
    outside_done = {
        event["id"]
        for event in server.all_events()
        if not any(
            start <= parse_timestamp(event["created_at"]) < end for start, end in (oldest, newest)
        )
    }
    assert outside_done <= cached_ids(store)
    assert not store.sync_state(PROFILE).unfinished


def test_a_progress_callback_may_cancel_by_raising(server, client, store):
    def progress(report: SyncProgress) -> None:
        if report.pages == 2:
            raise SyncCancelled

    result = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30)).run(progress=progress)
    assert result.cancelled
    assert result.pages == 2
    assert store.sync_state(PROFILE).last_outcome == "cancelled"


def test_an_event_that_cannot_be_stored_is_kept_aside_and_the_rest_of_its_page_stored(
    server, client, store
):
    engine = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30))
    engine.run()
    mark = store.sync_state(PROFILE).high_water_mark
    good = server.make_event(datetime.now(UTC) - timedelta(seconds=30))
    broken = server.make_event(datetime.now(UTC) - timedelta(seconds=20), id="")
    server.add_events([good, broken])

    result = engine.run()

    assert result.rejected == 1 and result.new_events == 1
    assert cached_ids(store) == server_ids(server) - {""}
    [kept] = store.rejected(PROFILE)
    assert kept.reason == "event without an id"
    assert json.loads(kept.raw) == broken  # as received
    state = store.sync_state(PROFILE)
    assert state.last_outcome == "ok"
    assert state.high_water_mark > mark


def test_platform_errors_are_recorded_for_the_status_line(server, client, store):
    server.admin = False
    with pytest.raises(PermissionDeniedError) as caught:
        SyncEngine(client, store, PROFILE).run()
    state = store.sync_state(PROFILE)
    assert state.last_outcome == "failed"
    assert state.last_error == str(caught.value)
    assert state.last_sync_at is not None
    assert store.count(PROFILE) == 0


def test_restarts_that_die_early_do_not_grow_the_resume(cache_url):
    """However often a sync is restarted and stopped again, resuming it costs the same."""
    clock = Clock()
    start = clock.now
    costs: list[int] = []
    with (
        SandboxServer(events=1500, seed=7, now=clock) as server,
        make_client(server) as client,
        CacheStore.open(cache_url) as store,
    ):
        server.faults.enforce_rate_limit = False
        for restarts in (1, 2, 4):
            clock.now = start
            profile = f"restarted-{restarts}"
            engine = SyncEngine(client, store, profile, chunk=timedelta(days=7), now=clock)

            def stop_after_three(report: SyncProgress) -> None:
                if report.pages == 3:
                    raise SyncCancelled

            assert engine.run(progress=stop_after_three).cancelled
            for _ in range(restarts):  # each restart is stopped before its first page
                clock.now += timedelta(minutes=1)
                stopped = threading.Event()
                stopped.set()
                assert engine.run(cancel=stopped).cancelled
            clock.now = start + timedelta(minutes=10)
            before = server.stats.list_requests
            engine.run()
            costs.append(server.stats.list_requests - before)
            assert cached_ids(store, profile) == server_ids(server)
    assert costs[0] == costs[1] == costs[2]
