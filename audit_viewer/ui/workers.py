"""Background jobs for the window: sync, large exports and the profile dialog's login test.

Each job is a QObject moved to its own QThread (the pattern Spyder's update workers use): the
window keeps both referenced until the thread has finished, so neither is collected while Qt still
runs them. Cancellation is a ``threading.Event`` the core checks between pages/chunks, because a
QThread cannot be interrupted safely. Results cross back to the GUI thread through queued signals;
the worker never touches a widget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from PySide6.QtCore import QObject, QThread, Signal, Slot

from audit_viewer.api import PlatformClient, PlatformError
from audit_viewer.cache import CacheError, CacheStore
from audit_viewer.config import Profile
from audit_viewer.export import ExportCancelled, ExportError, write_csv, write_jsonl
from audit_viewer.query import prepare
from audit_viewer.sync import SyncEngine, SyncProgress, SyncResult

log = logging.getLogger(__name__)


class Worker(QObject):
    """Base: a job with a ``run()`` slot executed in a thread, and a cancel flag."""

    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next checkpoint (thread-safe)."""
        self._cancel.set()

    def _report(
        self, job: Callable[[], object], expected: tuple[type[Exception], ...], doing: str
    ) -> None:
        """Run ``job`` and report how it went: ``finished(result)`` or ``failed(message)``.

        Expected errors carry a message for the admin; anything else is a bug, logged with its
        traceback, and must not end the thread silently.
        """
        try:
            result = job()
        except expected as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            log.exception("%s failed unexpectedly", doing)
            self.failed.emit(f"Unexpected error while {doing} ({type(exc).__name__}); see the log.")
        else:
            self.finished.emit(result)  # type: ignore[attr-defined]

    # Subclasses define ``run`` as a ``@Slot()``. The base must not declare one: with PySide6
    # 6.12, a slot overriding a base-class slot is invoked in the *sender's* thread, so the
    # whole job would run in the GUI thread.


class WorkerThread:
    """A worker plus the QThread it runs in, referenced together until both are done.

    ``stop()`` cancels and waits: the window calls it on close so no thread outlives it.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(type(worker).__name__)
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)  # type: ignore[attr-defined]

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop(self) -> None:
        """Cancel the job and block until its thread has ended."""
        self.worker.cancel()
        self.thread.quit()
        self.thread.wait()

    def finish(self) -> None:
        """Called once the worker has reported: end the thread's event loop and join it."""
        self.thread.quit()
        self.thread.wait()

    def abandon(self) -> None:
        """Stop without hearing the outcome (the window is closing): nobody is left to tell."""
        worker: Any = self.worker
        for signal in (worker.finished, worker.failed):
            signal.disconnect()
        self.stop()


class OneJob(QObject):
    """A controller that runs at most one worker at a time, in its own thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job: WorkerThread | None = None

    @property
    def running(self) -> bool:
        return self._job is not None

    def cancel(self) -> None:
        """Ask the job to stop at its next checkpoint; what it finished stays."""
        if self._job is not None:
            self._job.worker.cancel()

    def stop(self) -> None:
        """Abandon the job (the window is closing): cancel it and wait for its thread."""
        if self._job is not None:
            self._job.abandon()
            self._job = None

    def _end(self) -> None:
        """The job reported: join its thread."""
        if self._job is not None:
            self._job.finish()
            self._job = None


# ---------------------------------------------------------------------------------------------
# Loading a big cache


class LoadWorker(Worker):
    """Loads one profile's cached events in its own thread and cache connection.

    A million events take seconds to load; the window shows itself first and swaps the frame in
    when it arrives, instead of freezing before it appears.
    """

    #: The newest events, painted while the rest loads (one screen needs fewer than this).
    FIRST_PAGE = 5_000

    firstPage = Signal(object)  # pandas.DataFrame of the newest FIRST_PAGE events
    finished = Signal(object)  # pandas.DataFrame of the profile

    def __init__(self, *, cache_url: str, profile: str) -> None:
        super().__init__()
        self._cache_url = cache_url
        self._profile = profile

    @Slot()
    def run(self) -> None:
        self._report(self._load, (CacheError,), "loading the cache")

    def _load(self) -> pd.DataFrame:
        with CacheStore.open_for_reading(self._cache_url) as store:
            self.firstPage.emit(store.load_frame(self._profile, limit=self.FIRST_PAGE))
            return searchable_frame(store, self._profile)


def searchable_frame(store: CacheStore, profile: str) -> pd.DataFrame:
    """The profile's events, made ready to search here (in the worker's thread), not on the
    GUI thread at the first keystroke."""
    frame = store.load_frame(profile)
    prepare(frame)
    return frame


# ---------------------------------------------------------------------------------------------
# Sync


class SyncWorker(Worker):
    """Runs :class:`audit_viewer.sync.SyncEngine` against its own client and cache connection.

    The worker opens its own :class:`CacheStore` (SQLite connections are per thread) and, every
    ``reload_interval`` seconds while pages commit and once at the end (also after a platform
    error), loads the whole frame in this thread so the GUI only swaps it in (``frameLoaded``)
    and never blocks on the database.
    """

    progress = Signal(object)  # SyncProgress
    waiting = Signal(float)  # seconds waited so far for another program writing the cache
    retrying = Signal(float, int, int)  # seconds until retry number N of M (a busy platform)
    frameLoaded = Signal(object)  # pandas.DataFrame of the profile, loaded in the worker thread
    finished = Signal(object)  # SyncResult

    def __init__(
        self,
        *,
        cache_url: str,
        profile: Profile,
        secret: str,
        full: bool = False,
        reload_interval: float = 2.0,
        client_factory: Callable[..., PlatformClient] = PlatformClient,
    ) -> None:
        super().__init__()
        self._cache_url = cache_url
        self._profile = profile
        self._secret = secret
        self._full = full
        self._reload_interval = reload_interval
        self._client_factory = client_factory
        self._store: CacheStore | None = None
        self._last_reload = 0.0

    @Slot()
    def run(self) -> None:
        self._report(self._sync, (PlatformError, CacheError), "syncing")

    def _sync(self) -> SyncResult:
        profile = self._profile
        try:
            with (
                CacheStore.open(self._cache_url) as store,
                self._client_factory(
                    profile.base_url,
                    profile.client_id,
                    self._secret,
                    page_size=profile.page_size,
                    ca_bundle=profile.ca_bundle,
                ) as client,
            ):
                self._store = store
                store.on_lock_wait = self.waiting.emit
                client.on_retry = self.retrying.emit
                self._last_reload = time.monotonic()
                engine = SyncEngine(client, store, profile.name)
                try:
                    result = engine.run(
                        full=self._full, progress=self._on_progress, cancel=self._cancel
                    )
                except PlatformError:
                    # The pages committed before the failure are kept: show them too, loaded
                    # here rather than on the GUI thread (``failed`` follows this signal).
                    self.frameLoaded.emit(searchable_frame(store, profile.name))
                    raise
                self.frameLoaded.emit(searchable_frame(store, profile.name))
                return result
        finally:
            self._store = None

    def _on_progress(self, progress: SyncProgress) -> None:
        self.progress.emit(progress)
        if self._store is None or time.monotonic() - self._last_reload < self._reload_interval:
            return
        started = time.monotonic()
        self.frameLoaded.emit(searchable_frame(self._store, self._profile.name))
        self._last_reload = time.monotonic()
        # A big cache takes seconds to load: reload less often, so the sync itself keeps pace.
        self._reload_interval = max(self._reload_interval, 4 * (self._last_reload - started))


# ---------------------------------------------------------------------------------------------
# Export


@dataclass(frozen=True)
class ExportOutcome:
    path: Path
    rows: int
    cancelled: bool = False


def export_frames(
    frames: Iterable[pd.DataFrame],
    path: Path,
    *,
    bom: bool,
    progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    json_of: Callable[[pd.DataFrame], list[str]] | None = None,
    workbook: bool = False,
) -> ExportOutcome:
    """Write ``frames`` to ``path``: CSV with the formula guard on, an Excel ``workbook``, or
    with ``json_of`` (each frame's whole events as JSON) JSON Lines; the window's one export
    path."""
    try:
        if workbook:
            from audit_viewer.workbook import write_xlsx

            rows = write_xlsx(frames, path, progress=progress, cancel=cancel)
        elif json_of is not None:
            texts = (json_of(frame) for frame in frames)
            rows = write_jsonl(texts, path, progress=progress, cancel=cancel)
        else:
            rows = write_csv(
                frames, path, bom=bom, formula_guard=True, progress=progress, cancel=cancel
            )
    except ExportCancelled:
        return ExportOutcome(path, 0, cancelled=True)
    return ExportOutcome(path, rows)


class ExportWorker(Worker):
    """Writes already-snapshotted frame chunks to a CSV or JSON Lines file in the background."""

    progress = Signal(int)  # rows written so far
    finished = Signal(object)  # ExportOutcome

    def __init__(
        self,
        frames: Iterable[pd.DataFrame],
        path: Path,
        *,
        bom: bool,
        json_of: Callable[[pd.DataFrame], list[str]] | None = None,
        workbook: bool = False,
    ) -> None:
        super().__init__()
        self._frames = frames
        self._path = path
        self._bom = bom
        self._json_of = json_of
        self._workbook = workbook

    @Slot()
    def run(self) -> None:
        self._report(self._export, (ExportError,), "exporting")

    def _export(self) -> ExportOutcome:
        return export_frames(
            self._frames,
            self._path,
            bom=self._bom,
            progress=self.progress.emit,
            cancel=self._cancel,
            json_of=self._json_of,
            workbook=self._workbook,
        )


# ---------------------------------------------------------------------------------------------
# Test connection


class LoginWorker(Worker):
    """The profile dialog's "Test connection": log in, then read one event.

    Logging in only proves the credentials; reading one page also proves the client is an
    administrator with the audit log enabled (the 403 case), which is what sync needs.
    """

    finished = Signal(str)  # a success sentence

    def __init__(
        self,
        profile: Profile,
        secret: str,
        client_factory: Callable[..., PlatformClient] = PlatformClient,
    ) -> None:
        super().__init__()
        self._profile = profile
        self._secret = secret
        self._client_factory = client_factory

    @Slot()
    def run(self) -> None:
        self._report(self._test, (PlatformError,), "testing the connection")

    def _test(self) -> str:
        p = self._profile
        with self._client_factory(
            p.base_url, p.client_id, self._secret, page_size=1, ca_bundle=p.ca_bundle
        ) as client:
            client.login()
            next(iter(client.iter_pages(start=datetime.now(UTC) - timedelta(hours=1))), None)
        return "Connected: the credentials work and the audit log is readable."
