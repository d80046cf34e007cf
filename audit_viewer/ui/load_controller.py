"""Loading the shown profile's cached events: at once when few, in a thread when many."""

from __future__ import annotations

import pandas as pd
from PySide6.QtCore import QObject, Signal

from audit_viewer.cache import CacheError
from audit_viewer.frame import empty_frame
from audit_viewer.ui.session import Session
from audit_viewer.ui.workers import LoadWorker, OneJob, WorkerThread

#: From this many cached events the window shows itself first and loads them in a thread
#: (a million take seconds); below it, loading inline keeps startup simple and immediate.
BACKGROUND_LOAD_EVENTS = 200_000


class LoadController(OneJob):
    """Hands the window the frame to show: the newest page first for a big cache, then all."""

    #: A frame to show now (the whole profile, or its newest page while the rest loads).
    frameReady = Signal(object)
    #: The cache could not be read; the message says why.
    failed = Signal(str)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._count = 0
        #: What the status line says while loading.
        self.text = ""

    @property
    def loading(self) -> bool:
        """A big cache is still loading in the background (sync and switching wait for it)."""
        return self._job is not None

    def load(self) -> None:
        """Show the profile's cached events; a big cache loads in a thread behind the status."""
        name = self._session.profile_name
        count = self._cached_count(name)
        if name is None or count < BACKGROUND_LOAD_EVENTS:
            self.frameReady.emit(self._read_frame(name))
            return
        self.frameReady.emit(empty_frame())
        worker = LoadWorker(cache_url=self._session.cache_url, profile=name)
        # Bound methods of this QObject: they run in the GUI thread, not the worker's.
        worker.firstPage.connect(self._first_page)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        self._job = WorkerThread(worker)
        self._count = count
        self.text = f"Loading {count:,} cached events…"
        self._job.start()

    def _read_frame(self, name: str | None) -> pd.DataFrame:
        if name is None:
            return empty_frame()
        try:
            return self._session.store.load_frame(name)
        except CacheError as exc:
            self.failed.emit(str(exc))
            return empty_frame()

    def _cached_count(self, name: str | None) -> int:
        if name is None:
            return 0
        try:
            return self._session.store.count(name)
        except CacheError:
            return 0  # _read_frame meets the same error and says it

    def _first_page(self, page: pd.DataFrame) -> None:
        if self._job is None:
            return  # the load was abandoned (window closing)
        self.text = f"Showing the newest {len(page):,} of {self._count:,} events; loading the rest…"
        self.frameReady.emit(page)

    def _finished(self, frame: pd.DataFrame) -> None:
        self._end()
        self.frameReady.emit(frame)

    def _failed(self, message: str) -> None:
        self._end()
        self.failed.emit(message)
