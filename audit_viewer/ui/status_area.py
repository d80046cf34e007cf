"""The status bar: what is shown and how fresh it is, and a running sync's or export's progress."""

from __future__ import annotations

from datetime import tzinfo

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from audit_viewer.cache import CacheError
from audit_viewer.sync import SyncProgress
from audit_viewer.ui import status
from audit_viewer.ui.session import Session


class StatusArea(QObject):
    """The status line, the shared progress bar and the Cancel button beside it."""

    def __init__(self, bar: QStatusBar, session: Session) -> None:
        super().__init__(bar)
        self._session = session
        self.sync_phrase = "never synced"
        self.label = _StatusLabel(objectName="statusLine")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.label, 1)
        self.progress = QProgressBar(objectName="statusProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", objectName="statusCancel")
        self.cancel_button.hide()
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def refresh_sync_phrase(self) -> None:
        """Read how fresh the cache is from its sync state ("last sync 5 min ago", ...)."""
        name = self._session.profile_name
        if name is None:
            self.sync_phrase = "no events cached yet"
            return
        try:
            state = self._session.store.sync_state(name)
        except CacheError as exc:
            self.sync_phrase = f"sync state unreadable: {exc}"
        else:
            self.sync_phrase = status.sync_phrase(
                state.last_sync_at, state.last_outcome, state.last_error
            )

    def show_counts(self, visible: int, total: int) -> None:
        self.label.setText(
            status.status_line(
                visible,
                total,
                self._session.store.location,
                self.sync_phrase,
                offline=self._session.offline,
            )
        )

    def show_running(self, running: bool, text: str = "", total: int = 0) -> None:
        """Show (with ``text``, out of ``total`` steps) or hide the progress bar and Cancel."""
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        if running and text:
            self.progress.setRange(0, total)
            self.progress.setValue(0)
            self.progress.setFormat("%p%" if total else "")
            self.label.setText(text)

    def sync_progress(self, p: SyncProgress, tz: tzinfo, *, bar: bool) -> None:
        """A sync's report; ``bar`` False leaves the bar to an export running meanwhile."""
        if bar:
            self.progress.setRange(0, p.ranges_total)
            self.progress.setValue(p.ranges_done)
            self.progress.setFormat(f"{p.events:,} events")
        day = p.range_start.astimezone(tz).strftime("%Y-%m-%d")
        pages = f"{p.pages:,} page" + ("" if p.pages == 1 else "s")
        self.label.setText(
            f"Syncing: {p.events:,} events ({p.new_events:,} new) in {pages} · "
            f"at {day} · cache: {self._session.store.location}"
        )

    def sync_waiting(self, seconds: float) -> None:
        self.label.setText(
            f"Syncing: waiting for another program writing the cache ({seconds:.0f} s) · "
            f"cache: {self._session.store.location}"
        )

    def sync_retrying(self, seconds: float, number: int, of: int) -> None:
        self.label.setText(
            f"Syncing: the platform did not answer; retrying in {max(seconds, 1):.0f} s "
            f"({number} of {of}) · cache: {self._session.store.location}"
        )

    def export_progress(self, rows: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(min(rows, total))
        self.progress.setFormat(f"Saving {rows:,} / {total:,}")


class _StatusLabel(QLabel):
    """The status line: elided to the bar's width, the whole text in its tooltip."""

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        return getattr(self, "_full", super().text())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())  # the bar may narrow it

    def _elide(self) -> None:
        full = getattr(self, "_full", "")
        shown = self.fontMetrics().elidedText(full, Qt.TextElideMode.ElideMiddle, self.width())
        super().setText(shown if self.width() > 0 else full)
