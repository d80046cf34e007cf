"""Syncing the shown profile in a worker thread, while the table stays usable."""

from __future__ import annotations

import pandas as pd
from PySide6.QtCore import QObject, Signal

from audit_viewer.sync import SyncProgress, SyncResult
from audit_viewer.ui.load_controller import LoadController
from audit_viewer.ui.session import Session
from audit_viewer.ui.workers import OneJob, SyncWorker, WorkerThread

#: What :attr:`SyncController.refused` asks the admin to do.
NEEDS_PROFILE = "new profile"
NEEDS_SECRET = "profile settings"


class SyncController(OneJob):
    """Starts, reports and cancels a sync; the window renders what it says."""

    started = Signal()
    #: A SyncProgress after every stored page.
    progress = Signal(object)
    #: Seconds waited so far for another program writing the cache.
    waiting = Signal(float)
    #: A busy or unreachable platform: (seconds until retry number N, N, retries allowed).
    retrying = Signal(float, int, int)
    #: A newer frame of the profile (loaded in the worker thread) to swap in.
    frameLoaded = Signal(object)
    #: The sync ended: a SyncResult (``cancelled`` tells a cancel apart).
    finished = Signal(object)
    #: The sync failed, with the message the banner shows.
    failed = Signal(str)
    #: Not started: (what is missing, said for the admin; NEEDS_PROFILE or NEEDS_SECRET).
    refused = Signal(str, str)
    #: Not started now: a passing reason for the status bar.
    deferred = Signal(str)

    def __init__(self, session: Session, loader: LoadController, parent: QObject | None = None):
        super().__init__(parent)
        self._session = session
        self._loader = loader

    @property
    def thread(self) -> WorkerThread | None:
        """The running sync's thread (None when no sync runs)."""
        return self._job

    def start(self, full: bool = False) -> None:
        """Run the sync engine in a worker thread, unless one runs or something is missing."""
        if self._job is not None:
            return
        if self._loader.loading:
            self.deferred.emit("Still loading the cache; sync once it is shown.")
            return
        profile = self._session.profile
        if profile is None:
            self.refused.emit(
                "No profile to sync with: this window shows the cache only (offline).",
                NEEDS_PROFILE,
            )
            return
        secret = self._session.secret()
        if not secret:
            self.refused.emit(
                f"No client secret for profile “{profile.name}”: store one in the profile "
                "settings (or set AUDIT_VIEWER_CLIENT_SECRET).",
                NEEDS_SECRET,
            )
            return
        worker = SyncWorker(
            cache_url=self._session.cache_url, profile=profile, secret=secret, full=full
        )
        # Bound methods of this QObject: they run in the GUI thread, not the worker's.
        worker.progress.connect(self._progress)
        worker.waiting.connect(self._waiting)
        worker.retrying.connect(self._retrying)
        worker.frameLoaded.connect(self._frame_loaded)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        self._job = WorkerThread(worker)
        self.started.emit()
        self._job.start()

    def _progress(self, report: SyncProgress) -> None:
        if self._job is not None:
            self.progress.emit(report)

    def _waiting(self, seconds: float) -> None:
        if self._job is not None:
            self.waiting.emit(seconds)

    def _retrying(self, seconds: float, number: int, of: int) -> None:
        if self._job is not None:
            self.retrying.emit(seconds, number, of)

    def _frame_loaded(self, frame: pd.DataFrame) -> None:
        self.frameLoaded.emit(frame)

    def _finished(self, result: SyncResult) -> None:
        self._end()
        self.finished.emit(result)

    def _failed(self, message: str) -> None:
        self._end()  # the worker already sent what committed before the failure
        self.failed.emit(message)
