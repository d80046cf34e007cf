"""A hostile or broken platform, served for real by the sandbox over 127.0.0.1.

Each test is one way a server can misbehave (issue 10) and asserts what the admin notices: the
one-line error, and that the events already stored stay stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_viewer.api import (
    EndlessPagingError,
    MalformedResponseError,
    PermissionDeniedError,
    PlatformClient,
    ServerUnavailableError,
)
from audit_viewer.cache import CacheStore
from audit_viewer.events import format_timestamp
from audit_viewer.sandbox import SandboxServer
from audit_viewer.sync import MAX_RANGE_EVENTS, SyncCancelled, SyncEngine, SyncProgress

PROFILE = "hostile"
SECRET = "s3cr3t-hostile-never-show-me"


def client_for(server: SandboxServer, **options: Any) -> PlatformClient:
    """A client with quick backoff and no own rate limit, so the tests stay fast."""
    options.setdefault("backoff_factor", 0.01)
    options.setdefault("max_requests_per_second", 1000)
    return PlatformClient(server.url, server.client_id, server.secret, **options)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and SECRET not in text
    return text


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(events=1500, seed=11, secret=SECRET) as sandbox:
        sandbox.faults.enforce_rate_limit = False
        yield sandbox


@pytest.fixture
def store(cache_url: str) -> Iterator[CacheStore]:
    with CacheStore.open(cache_url) as cache:
        yield cache


def sync(
    server: SandboxServer,
    store: CacheStore,
    *,
    chunk_days: int = 30,
    max_range_events: int = MAX_RANGE_EVENTS,
    **options: Any,
) -> SyncEngine:
    """An engine on a fresh client (``options``) of ``server``, caching into ``store``."""
    return SyncEngine(
        client_for(server, **options),
        store,
        PROFILE,
        chunk=timedelta(days=chunk_days),
        max_range_events=max_range_events,
    )


def give_up_after_100_pages(report: SyncProgress) -> None:
    """Ends a sync that would page forever, so a test fails instead of hanging."""
    if report.pages >= 100:
        raise SyncCancelled


def faults_after(server: SandboxServer, pages: int, **faults: Any) -> Any:
    """A progress callback that switches ``faults`` on once ``pages`` pages are stored."""

    def progress(report: SyncProgress) -> None:
        if report.pages == pages:
            for name, value in faults.items():
                setattr(server.faults, name, value)

    return progress


def ids(events: list[dict]) -> set[str]:
    return {event["id"] for event in events}


# -- 403 ------------------------------------------------------------------------------------


def test_the_platforms_403_reason_is_shown_on_one_line_without_secrets(server, store):
    reason = "Audit logs are not enabled for tenant acme"
    server.faults.forbidden_message = f"{reason}.\nContact support, quoting {SECRET}. " + "x" * 500
    with pytest.raises(PermissionDeniedError) as caught:
        sync(server, store).run()
    text = one_line(caught.value)
    assert text.startswith(f'Access denied (HTTP 403): "{reason}. Contact support, quoting ***.')
    assert text.endswith(
        '…". This API client must be an administrator, with the audit log enabled for the tenant.'
    )  # the server's reason is cut short
    assert store.sync_state(PROFILE).last_error == text


# -- endless paging -------------------------------------------------------------------------


def endless_sync(server: SandboxServer, store: CacheStore, **options: Any) -> str:
    """Sync everything as one range; returns the one-line error that must stop it."""
    engine = sync(server, store, chunk_days=100, page_size=100, **options)
    with pytest.raises(EndlessPagingError) as caught:
        engine.run(progress=give_up_after_100_pages)
    text = one_line(caught.value)
    assert text.startswith("The platform kept paging without end in ")
    assert text.endswith("; the sync stopped there and kept the events stored so far.")
    state = store.sync_state(PROFILE)
    assert (state.last_outcome, state.last_error) == ("failed", text)
    assert state.unfinished  # the next run reads the range again
    return text


def cached(store: CacheStore) -> set[str]:
    return set(store.load_frame(PROFILE)["id"])


def test_cursors_that_cycle_stop_the_sync_keeping_the_pages(server, store):
    server.faults.cycle_cursors = True
    assert "(a cursor came back after 3 pages)" in endless_sync(server, store)
    assert server.stats.list_requests == 3
    assert cached(store) == ids(server.all_events()[:300])


def test_the_same_page_under_fresh_cursors_forever_stops_the_sync(server, store):
    server.faults.repeat_page_forever = True
    assert "(20 pages in a row brought no new events)" in endless_sync(server, store)
    assert server.stats.list_requests == 21
    assert cached(store) == ids(server.all_events()[:100])


def test_empty_pages_with_fresh_cursors_forever_stop_the_sync(server, store):
    server.faults.empty_pages_forever = True
    assert "(20 pages in a row brought no new events)" in endless_sync(server, store)
    assert cached(store) == ids(server.all_events())  # every real page was kept


def test_more_pages_than_a_range_can_hold_stop_the_sync(server, store):
    text = endless_sync(server, store, max_range_events=250)
    assert "(3 pages of 100, more than the range can hold)" in text
    assert cached(store) == ids(server.all_events()[:300])


# -- bodies that never end or break off -----------------------------------------------------


def failing_sync(server: SandboxServer, store: CacheStore, **options: Any) -> str:
    """Two pages of 100 stored, then the fault in ``options`` (Faults fields) for the rest."""
    faults = {name: options.pop(name) for name in list(options) if hasattr(server.faults, name)}
    options.setdefault("retries", 2)
    engine = sync(server, store, chunk_days=100, page_size=100, **options)
    with pytest.raises(ServerUnavailableError) as caught:
        engine.run(progress=faults_after(server, 2, **faults))
    assert set(store.load_frame(PROFILE)["id"]) == ids(server.all_events()[:200])
    text = one_line(caught.value)
    assert store.sync_state(PROFILE).last_error == text
    return text


def test_a_body_that_trickles_forever_meets_the_request_deadline(server, store):
    text = failing_sync(server, store, trickle_seconds=0.05, request_deadline=0.3)
    assert text.startswith(
        f"The platform at {server.url} did not finish its answer within 0.3 s (page 3 of the "
        "audit log from "
    )
    assert text.endswith(" UTC), also after 2 retries. Try again later.")
    assert server.stats.list_requests == 2 + 3


def test_a_connection_dropped_mid_body_is_retried(server, store):
    server.faults.drop_mid_body_every = 3
    result = sync(server, store, page_size=100).run()
    assert server.stats.faults_injected >= 5
    assert set(store.load_frame(PROFILE)["id"]) == ids(server.all_events())
    assert result.total_cached == 1500


def test_connections_dropped_mid_body_every_time_stop_the_sync_keeping_the_pages(server, store):
    text = failing_sync(server, store, drop_mid_body_every=1)
    assert text.startswith(
        f"The platform at {server.url} dropped the connection in the middle of its answer "
        "(page 3 of the audit log from "
    )
    assert text.endswith(" UTC), also after 2 retries. Try again later.")


# -- waiting ---------------------------------------------------------------------------------


def test_the_sum_of_waits_is_bounded(server, store):
    """Each Retry-After is capped at 0.1 s here; three of them pass the 0.25 s budget."""
    options = {"max_retry_after": 0.1, "max_total_wait": 0.25, "retries": 5}
    text = failing_sync(server, store, rate_limit_every=1, retry_after=3600, **options)
    assert text == (
        "Stopped: the platform kept asking to wait (rate limiting or server errors at "
        f"{server.url}), more than 0.25 s in all. Try again later."
    )
    assert server.stats.faults_injected == 3


# -- bodies that are hard to decode ---------------------------------------------------------


def recent() -> bytes:
    return format_timestamp(datetime.now(UTC) - timedelta(hours=1)).encode()


def test_bytes_that_are_not_utf8_are_kept_and_flagged(server, store):
    server.faults.raw_events = [
        b'{"id":"latin-1","created_at":"' + recent() + b'","description":"caf\xe9 cr\xe8me"}'
    ]
    sync(server, store).run()
    frame = store.load_frame(PROFILE).set_index("id")
    assert frame.loc["latin-1", "description"] == "caf\ufffd cr\ufffdme"
    assert frame.loc["latin-1", "flags"] == "text"  # the ⚠ badge: the text was not as sent
    assert "caf\\udce9 cr\\udce8me" in store.event_json(PROFILE, "latin-1")  # the bytes' trace
    assert len(frame) == 1501


def test_json_nested_too_deeply_stops_the_sync_with_one_line_keeping_the_pages(server, store):
    deep = b"[" * 200_000 + b"]" * 200_000
    event = b'{"id":"deep","created_at":"' + recent() + b'","metadata":' + deep + b"}"
    reports: list[SyncProgress] = []

    def progress(report: SyncProgress) -> None:
        reports.append(report)
        if report.pages == 2:  # the next range's first page carries the event
            server.faults.raw_events = [event]

    engine = sync(server, store, chunk_days=1, page_size=1000)
    with pytest.raises(MalformedResponseError) as caught:
        engine.run(progress=progress)
    text = one_line(caught.value)
    assert text.startswith("The platform's answer to page 1 of the audit log from ")
    assert text.endswith(" UTC is nested too deeply to read.")
    assert store.sync_state(PROFILE).last_error == text
    assert store.count(PROFILE) == reports[-1].events > 0


def test_the_error_kept_for_the_status_line_is_one_short_line(server, store):
    def progress(report: SyncProgress) -> None:
        raise RuntimeError("a bug\nwith a long story " + "and more " * 100)

    with pytest.raises(RuntimeError):
        sync(server, store).run(progress=progress)
    kept = store.sync_state(PROFILE).last_error
    assert kept.startswith("a bug with a long story and more")
    assert len(kept) == 300 and kept.endswith("…")
