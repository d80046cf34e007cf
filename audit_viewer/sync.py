"""The sync engine: platform pages -> local cache, crash-safe, resumable, cancellable.

A run works through a *plan*: time ranges cut on UTC day boundaries (``chunk``), walked newest
first so the admin sees today's events first and an interrupted first sync has the most useful
days. Each page's events and the progress record (the plan, the completed ranges, the range in
progress) commit in ONE transaction; a range is marked completed in the transaction of its last
page, and the run's end (high-water mark, plan cleared) in the transaction of the plan's last page.
A run killed at any moment therefore leaves events and bookkeeping that agree: the next run skips
the completed ranges and re-reads an unfinished range from its start (the upsert makes re-reading
harmless; cursors of a dead run are never reused).

The high-water mark is the end of a fully covered plan, never ``max(created_at)``: pages come
newest first, so the newest stored event says nothing about the older part of its range.
Plans: first sync [now - retention, now); incremental [high-water mark - overlap, now), the
overlap catching events that show up late (the contract allows 5 minutes); ``full`` re-reads the
retention window; an unfinished plan is resumed and extended up to now. Nothing is deleted
except by ``keep_days``: the local archive outlives the platform's retention.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Concatenate

from audit_viewer import logs
from audit_viewer.api import EndlessPagingError, Page, PlatformClient, RequestAborted
from audit_viewer.cache import CacheError, CacheStore, RejectedEvent, SyncState
from audit_viewer.cache.schema import EPOCH
from audit_viewer.events import EventRow, InvalidEventError, normalize_event, raw_json

log = logging.getLogger(__name__)

Range = tuple[datetime, datetime]

#: Pages in a row without an id new to their range after which a server is taken to loop: a
#: real page repeats at most an event or two (events added while paging), never a whole page.
IDLE_PAGES_LIMIT = 20
#: Events one range can plausibly hold (a day of audit trail; real tenants have thousands):
#: the backstop against a server inventing fresh events under fresh cursors forever.
MAX_RANGE_EVENTS = 1_000_000
#: Characters of a failure kept in the cache's ``last_error``.
LAST_ERROR_LIMIT = 300


@dataclass
class SyncProgress:
    """Where a run is, reported after every stored page."""

    pages: int  # pages stored in this run
    events: int  # events received in this run (repeats included)
    new_events: int  # events that were not cached before
    range_start: datetime  # the range being read
    range_end: datetime
    ranges_done: int  # ranges of the plan fully stored (including earlier runs')
    ranges_total: int


@dataclass
class SyncResult:
    """What a run did; ``cancelled`` runs keep everything they stored."""

    new_events: int
    total_cached: int
    pages: int
    elapsed: float  # seconds
    cancelled: bool
    purged: int = 0  # events deleted locally by keep_days
    # Distinct entries of ``data`` that are no storable event (kept aside, see the cache).
    rejected: int = 0
    flagged: int = 0  # distinct events received with a flag (implausible time, odd text)


class SyncCancelled(Exception):
    """Raise from a progress callback to stop the run like a set ``cancel`` event would."""


class _Stop(Exception):
    """Internal: the run was cancelled between pages."""


class _AbortOnCancel:
    """While a run lasts, a set ``cancel`` also abandons the request in flight (the client's
    ``abort``), so Cancel ends a sync within a second instead of at the request's timeout."""

    def __init__(self, cancel: threading.Event | None, abort: Callable[[], None]) -> None:
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if cancel is not None:
            self._thread = threading.Thread(
                target=self._watch, args=(cancel, abort), name="sync-cancel", daemon=True
            )
            self._thread.start()

    def _watch(self, cancel: threading.Event, abort: Callable[[], None]) -> None:
        while not self._done.is_set():
            if cancel.wait(0.1):
                if not self._done.is_set():
                    abort()
                return

    def stop(self) -> None:
        """End the watch and wait for it: no abort may reach the client once the run is over
        (the next run with the same client would lose its first requests to it)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def _guarded[**P](
    run: Callable[Concatenate[SyncEngine, P], SyncResult],
) -> Callable[Concatenate[SyncEngine, P], SyncResult]:
    """Before a run sends any request, the cache must be able to take what it fetches, and no
    other sync of the profile may be running (it holds the profile's sync lock to the end).

    Outside the run's own failure handling: a cache that refuses writes could not record one,
    and a refused second sync must not overwrite the running one's state.
    """

    def guarded(engine: SyncEngine, /, *args: P.args, **kwargs: P.kwargs) -> SyncResult:
        engine._store.check_writable()
        with engine._store.sync_lock(engine.profile):
            return run(engine, *args, **kwargs)

    functools.update_wrapper(guarded, run)  # a statement: wraps() would retype the function
    return guarded


class SyncEngine:
    """Syncs one profile's audit events from ``client`` into ``store``.

    One engine serves the command line and the window's worker thread; ``run`` may be called
    again (each call is a new run).
    """

    def __init__(
        self,
        client: PlatformClient,
        store: CacheStore,
        profile: str,
        *,
        overlap: timedelta = timedelta(minutes=5),
        chunk: timedelta = timedelta(days=1),
        retention: timedelta = timedelta(days=90),
        now: Callable[[], datetime] | None = None,
        max_range_events: int = MAX_RANGE_EVENTS,
    ) -> None:
        if chunk <= timedelta(0) or retention <= timedelta(0) or overlap < timedelta(0):
            raise ValueError("chunk and retention must be positive and overlap not negative")
        if max_range_events < 1:
            raise ValueError("max_range_events must be at least 1")
        self._client = client
        self._store = store
        self.profile = profile
        self._overlap = overlap
        self._chunk = chunk
        self._retention = retention
        self._now = now or (lambda: datetime.now(UTC))
        self._max_range_events = max_range_events

    @_guarded
    def run(
        self,
        *,
        full: bool = False,
        progress: Callable[[SyncProgress], None] | None = None,
        cancel: threading.Event | None = None,
        keep_days: int | None = None,
    ) -> SyncResult:
        """Sync up to now; on a PlatformError (or CacheError) record the failure and re-raise."""
        if keep_days is not None and keep_days < 1:
            raise ValueError("keep_days must be at least 1")
        started = time.monotonic()
        run = _Run(self, progress, cancel)
        self._client.resume()  # a cancel of an earlier run does not carry over
        watcher = _AbortOnCancel(cancel, self._client.abort)
        try:
            run.state = self._plan(self._store.sync_state(self.profile), full)
            cancelled = run.walk()
            outcome = "cancelled" if cancelled else "ok"
            finished = self._now()
            run.state = replace(
                run.state,
                last_sync_at=finished,
                last_success_at=run.state.last_success_at if cancelled else finished,
                last_outcome=outcome,
                last_error=None,
            )
            self._store.save_sync_state(run.state)
            purged = 0
            if keep_days is not None:
                purged = self._store.purge_older_than(
                    self.profile, finished - timedelta(days=keep_days)
                )
            total = self._store.count(self.profile)
        except Exception as exc:
            # Every outcome reaches the log at INFO, a failure with its reason (one line).
            log.info(
                "Sync of %s failed after %d new events in %d pages: %s",
                self.profile,
                run.new_events,
                run.pages,
                logs.one_line(str(exc)) or type(exc).__name__,
            )
            self._record_failure(run.state, exc)
            raise
        finally:
            watcher.stop()
        log.info(
            "Sync of %s %s: %d new events in %d pages, %d cached",
            self.profile,
            outcome,
            run.new_events,
            run.pages,
            total,
        )
        if run.rejected:
            log.warning(
                "Sync of %s: kept aside %d received entries that are no storable event "
                "(see the log above for each)",
                self.profile,
                len(run.rejected),
            )
        return SyncResult(
            new_events=run.new_events,
            total_cached=total,
            pages=run.pages,
            elapsed=time.monotonic() - started,
            cancelled=cancelled,
            purged=purged,
            rejected=len(run.rejected),
            flagged=len(run.flagged),
        )

    def _record_failure(self, state: SyncState | None, exc: Exception) -> None:
        """Keep the failure for the status line; the original error is what the caller sees."""
        try:
            state = state or self._store.sync_state(self.profile)
            # The status line shows one short line.
            message = logs.one_line(str(exc), LAST_ERROR_LIMIT) or type(exc).__name__
            self._store.save_sync_state(
                replace(state, last_sync_at=self._now(), last_outcome="failed", last_error=message)
            )
        except CacheError:
            log.warning("Could not record the failed sync of %s in the cache", self.profile)

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, state: SyncState, full: bool) -> SyncState:
        """The state the run starts from: its plan (newest range first) and completed ranges."""
        now = self._now()
        window_start = now - self._retention
        completed: tuple[Range, ...] = ()
        if full:
            ranges = self._chunks(window_start, now)
        elif state.plan:
            # Resume the unfinished run, extended up to now; ranges that aged out are dropped.
            ranges = [rng for rng in state.plan if rng[1] > window_start]
            completed = tuple(rng for rng in state.completed_ranges if rng in ranges)
            old_end = max(end for _start, end in state.plan)
            start = max(old_end - self._overlap, window_start)
            # Unread ranges that reach the extension (an earlier resume's, or the newest days
            # of a run that died early) merge into it, so restarts never pile up ranges.
            absorbed: set[Range] = set()
            for rng in sorted(set(ranges) - set(completed), key=lambda r: r[1], reverse=True):
                if rng[1] >= start:
                    start = min(start, rng[0])
                    absorbed.add(rng)
            kept = [rng for rng in ranges if rng not in absorbed]
            ranges = list(dict.fromkeys(kept + self._chunks(max(start, window_start), now)))
        elif state.high_water_mark is not None:
            ranges = self._chunks(max(state.high_water_mark - self._overlap, window_start), now)
        else:
            ranges = self._chunks(window_start, now)
        ranges.sort(key=lambda rng: (rng[1], rng[0]), reverse=True)
        return replace(state, plan=tuple(ranges), completed_ranges=completed, current_range=None)

    def _chunks(self, start: datetime, end: datetime) -> list[Range]:
        """[start, end) cut on multiples of ``chunk`` since the epoch (UTC days by default)."""
        ranges = []
        boundary = EPOCH + ((start - EPOCH) // self._chunk) * self._chunk
        while boundary < end:
            following = boundary + self._chunk
            ranges.append((max(start, boundary), min(end, following)))
            boundary = following
        return ranges


class _Run:
    """The mutable bookkeeping of one ``SyncEngine.run`` call."""

    def __init__(
        self,
        engine: SyncEngine,
        progress: Callable[[SyncProgress], None] | None,
        cancel: threading.Event | None,
    ) -> None:
        self.engine = engine
        self.progress = progress
        self.cancel = cancel
        self.state: SyncState | None = None
        self.pages = 0
        self.events = 0
        self.new_events = 0
        self.rejected: set[str] = set()  # raw texts
        self.flagged: set[str] = set()  # event ids

    def walk(self) -> bool:
        """Read every range of the plan not completed yet; True when cancelled."""
        assert self.state is not None
        # Decided up front: the plan's last page clears the completed list with the plan.
        pending = [rng for rng in self.state.plan if rng not in self.state.completed_ranges]
        try:
            for rng in pending:
                self._read_range(rng)
        except (_Stop, RequestAborted):  # cancelled between pages, or during a request
            return True
        # Normally the plan's last page already closed the plan; not when nothing was left to
        # read (an empty plan, or one whose open ranges aged out of retention meanwhile).
        if self.state.plan:
            self.state = _closed(self.state)
        return False

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise _Stop

    def _read_range(self, rng: Range) -> None:
        """All pages of one range; the last page's commit marks it completed.

        A server that pages without end (a cursor comes back, ``IDLE_PAGES_LIMIT`` pages in a
        row bring no id new to the range, or more pages than ``max_range_events`` fill) stops
        the whole sync with :class:`EndlessPagingError`, not just this range: the other ranges
        would loop the same way. What was committed stays, and the range stays unfinished, so
        the next run reads it again.
        """
        self._check_cancel()
        page_size = self.engine._client.page_size
        max_pages = -(-self.engine._max_range_events // page_size)
        cursors: set[str] = set()
        ids: set[str] = set()
        idle = 0
        for number, page in enumerate(self.engine._client.iter_pages(*rng), start=1):
            rows, rejected = _page_rows(page, self.engine._now())
            self._commit(rng, rows, rejected, last=page.after is None)
            if page.after is None:
                return
            known = len(ids)
            ids.update(row.id for row in rows)
            idle = idle + 1 if len(ids) == known else 0
            if page.after in cursors:
                raise _endless(rng, f"a cursor came back after {number} pages")
            if idle >= IDLE_PAGES_LIMIT:
                raise _endless(rng, f"{idle} pages in a row brought no new events")
            if number >= max_pages:
                raise _endless(rng, f"{number} pages of {page_size}, more than the range can hold")
            cursors.add(page.after)
            self._check_cancel()

    def _commit(
        self, rng: Range, rows: list[EventRow], rejected: list[RejectedEvent], *, last: bool
    ) -> None:
        assert self.state is not None
        state = self.state
        if last:
            state = replace(state, completed_ranges=(*state.completed_ranges, rng))
            if set(state.plan) <= set(state.completed_ranges):
                state = _closed(state)  # the high-water mark moves in this page's transaction
            else:
                state = replace(state, current_range=None)
        else:
            state = replace(state, current_range=rng)
        total_ranges = len(self.state.plan)
        new = self.engine._store.commit_page(state, rows, rejected)
        self.state = state
        self.pages += 1
        self.events += len(rows)
        self.new_events += new
        for item in rejected:
            if item.raw not in self.rejected:  # servers may repeat it in every range
                log.warning("Kept aside an entry the platform sent: %s", item.reason)
                self.rejected.add(item.raw)
        self.flagged.update(row.id for row in rows if row.flags)
        if self.progress is not None:
            done = total_ranges if not state.plan else len(state.completed_ranges)
            report = SyncProgress(
                pages=self.pages,
                events=self.events,
                new_events=self.new_events,
                range_start=rng[0],
                range_end=rng[1],
                ranges_done=done,
                ranges_total=total_ranges,
            )
            try:
                self.progress(report)
            except SyncCancelled:
                raise _Stop from None


def _endless(rng: Range, why: str) -> EndlessPagingError:
    """The one line that stops a sync whose server pages without end, naming the range."""
    start, end = (moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") for moment in rng)
    return EndlessPagingError(
        f"The platform kept paging without end in {start} to {end} UTC ({why}); the sync "
        "stopped there and kept the events stored so far."
    )


def _closed(state: SyncState) -> SyncState:
    """The plan is fully covered: the high-water mark moves to its end and the plan is cleared."""
    end = max((end for _start, end in state.plan), default=None)
    mark = state.high_water_mark
    if end is not None and (mark is None or end > mark):
        mark = end
    return replace(state, high_water_mark=mark, plan=(), completed_ranges=(), current_range=None)


def _page_rows(page: Page, received: datetime) -> tuple[list[EventRow], list[RejectedEvent]]:
    """The page's events as rows, and what of ``data`` is no storable event (kept aside).

    One bad entry never stops the sync: it is logged, kept as received, and the rest is stored.
    """
    rows: list[EventRow] = []
    rejected: list[RejectedEvent] = []
    for event in page.events:
        try:
            rows.append(normalize_event(event, received))
        except InvalidEventError as exc:
            try:
                text = raw_json(event)
            except InvalidEventError:
                text = '"(nested too deeply to keep)"'
            rejected.append(RejectedEvent(received, str(exc), text))
    return rows, rejected
