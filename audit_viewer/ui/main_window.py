"""The main window: a shell that builds the widgets and wires them to the workflows.

Each workflow lives in its own controller, given the :class:`Session` (which cache, which
profile) rather than the window: loading, sync, export, profiles and caches, reviewing rows,
the one filter state (:class:`FilterController`), the detail pane, the status bar and the
table's layout. The window only builds them, connects their signals, and renders what they
report in the banner and the status line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import tzinfo

import pandas as pd
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from audit_viewer.sync import SyncProgress, SyncResult
from audit_viewer.ui import status, theme, window_state
from audit_viewer.ui.banner import WELCOME, Banner
from audit_viewer.ui.detail_controller import DetailController
from audit_viewer.ui.detail_pane import DetailPane
from audit_viewer.ui.dialogs import ShortcutsDialog, show_about
from audit_viewer.ui.events_table import EventsTable
from audit_viewer.ui.export_controller import ExportController
from audit_viewer.ui.filter_controller import FilterController
from audit_viewer.ui.icons import app_icon, icon
from audit_viewer.ui.load_controller import LoadController
from audit_viewer.ui.no_match import NoMatchOverlay
from audit_viewer.ui.profile_controller import ProfileController
from audit_viewer.ui.review_controller import ReviewController
from audit_viewer.ui.search_bar import SearchBar
from audit_viewer.ui.session import Session
from audit_viewer.ui.settings import WindowSettings
from audit_viewer.ui.status_area import StatusArea
from audit_viewer.ui.sync_controller import NEEDS_PROFILE, SyncController
from audit_viewer.ui.table_layout import TableLayout
from audit_viewer.ui.table_model import EventTableModel
from audit_viewer.ui.timeline import Timeline
from audit_viewer.ui.window_actions import WindowActions, build_menus

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The audit-log window over one cache and (optionally) one profile to sync from."""

    #: Emitted after every filter pass with the number of rows shown.
    filtersApplied = Signal(int)
    #: The sync controller's reports, re-emitted for whoever watches the window.
    syncProgress = Signal(object)
    syncFinished = Signal(object)
    syncFailed = Signal(str)
    #: Emitted when a Save as CSV ends: an ExportOutcome (None when it failed).
    exportFinished = Signal(object)

    def __init__(self, session: Session, *, utc: bool | None = None) -> None:
        """The window over ``session`` (which it then owns); ``utc`` None: the saved choice."""
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.session = session
        session.setParent(self)
        profile = session.profile
        #: Called after the window closed and the cache is closed (the demo's server, temp dir).
        self.on_close: list[Callable[[], None]] = []
        self._settings = WindowSettings()
        self._closed = False
        if utc is None:
            utc = self._settings.utc(default=bool(profile and profile.timezone.upper() == "UTC"))
        self.utc = utc

        self.model = EventTableModel(parent=self)
        self._build_widgets()
        self.status_area = StatusArea(self.statusBar(), self.session)
        self.filtering = FilterController(
            model=self.model,
            table=self.table,
            search_bar=self.search_bar,
            header=self.header,
            timeline=self.timeline,
            error_label=self.search_error,
        )
        self.loader = LoadController(self.session, self)
        self.sync = SyncController(self.session, self.loader, self)
        self.exports = ExportController(
            self,
            self._settings,
            rows=self.model.rowCount,
            chunks=self.model.visible_frame_chunks,
            valid=lambda: self.filtering.state.valid,
            bom=lambda: self.acts.bom.isChecked(),
            json_of=self.session.whole_json,
        )
        self.profiles = ProfileController(
            self.session,
            self,
            busy=lambda: self.sync.running or self.exports.running or self.loader.loading,
        )
        self.review = ReviewController(self.table, self.model, self.header)
        self.layout_state = TableLayout(self.table, self.model, self.header)
        self.acts = WindowActions(self, self._slots())
        self.details = DetailController(
            self.table, self.model, self.detail, self.session, self.acts.detail
        )
        self.no_match = NoMatchOverlay(self.table.viewport(), self.acts.clear)
        self.profiles_menu, self.columns_menu, self.toolbar = build_menus(self, self.acts)
        self._connect()
        self._load()
        window_state.restore(self, self._settings)
        self._profile_changed()
        # A first start: no profile, and a cache without events (asked only then: it is a query).
        if profile is None and session.profile_name is None and not session.store.profiles():
            self.banner.show_message(
                WELCOME, ("New profile…", self.profiles.new_profile), kind="info"
            )

    # ------------------------------------------------------------------------------- building

    def _build_widgets(self) -> None:
        self.search_bar = SearchBar(self)
        self.search_bar.setObjectName("searchBar")
        self.search_bar.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search_error = QLabel(objectName="searchError")
        self.search_error.setWordWrap(True)
        self.search_error.hide()
        self.banner = Banner(self)
        self.timeline = Timeline(self)
        self.timeline.setObjectName("timeline")
        self.table = EventsTable(self.model, self)
        self.header = self.table.filter_header
        self.detail = DetailPane(self)
        self.detail.setObjectName("detailPane")

        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(4)
        left_layout.addWidget(self.timeline)
        left_layout.addWidget(self.table, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([900, 380])  # first start; later the saved state wins
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(4)
        for widget in (self.search_bar, self.search_error, self.banner):
            layout.addWidget(widget)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self._style_errors()
        self.resize(1280, 800)

    def _style_errors(self) -> None:
        sheet = f"color: {theme.error_color(self.palette()).name()};"
        if sheet != self.search_error.styleSheet():
            self.search_error.setStyleSheet(sheet)

    def _slots(self) -> dict[str, Callable[..., object]]:
        """What each command of :class:`WindowActions` does."""
        profiles, review = self.profiles, self.review
        return {
            "open": profiles.open_cache_dialog,
            "export": self.exports.export_csv,
            "bom": lambda on: self._settings.set_bom(bool(on)),
            "quit": self.close,
            "copy": review.copy_selection,
            "copy_csv": review.copy_rows_as_csv,
            "filter_value": review.filter_on_current_value,
            "find": self.focus_search,
            "filter_row": self.header.focus_filters,
            "clear": self.filtering.clear,
            "timeline": self.timeline.setVisible,
            "detail": self.detail.setVisible,
            "utc": self.set_utc,
            "reset_columns": self.layout_state.reset,
            "sort_up": lambda: self.layout_state.sort_current(ascending=True),
            "sort_down": lambda: self.layout_state.sort_current(ascending=False),
            "sort_then": self.layout_state.then_sort_current,
            "sync": self.sync.start,
            "full_sync": lambda: self.sync.start(full=True),
            "cancel": self.cancel_running,
            "profile": profiles.edit_profile,
            "new_profile": profiles.new_profile,
            "shortcuts": lambda: ShortcutsDialog(self.actions(), self).exec(),
            "about": lambda: show_about(self, self.session.store.location, self._settings.path),
        }

    def _connect(self) -> None:
        bar = self.statusBar()
        self.filtering.applied.connect(self._filtered)
        self.table.customContextMenuRequested.connect(
            lambda pos: self.review.context_menu(
                pos,
                [self.acts.copy, self.acts.copy_csv, self.acts.filter_value, None, self.acts.clear],
            )
        )
        self.status_area.cancel_button.clicked.connect(self.cancel_running)
        self.profiles_menu.aboutToShow.connect(lambda: self.profiles.fill_menu(self.profiles_menu))
        self.columns_menu.aboutToShow.connect(
            lambda: self.layout_state.fill_menu(self.columns_menu, self.acts.reset_columns)
        )
        self.session.switched.connect(self._switched)
        self.session.changed.connect(self._profile_changed)
        self.loader.frameReady.connect(lambda frame: self.filtering.apply(frame=frame))
        self.loader.failed.connect(self._cache_unreadable)
        self.sync.started.connect(lambda: self._busy("Syncing: connecting…"))
        self.sync.progress.connect(self._sync_progress)
        self.sync.waiting.connect(self.status_area.sync_waiting)
        self.sync.retrying.connect(self.status_area.sync_retrying)
        self.sync.frameLoaded.connect(self.replace_frame)
        self.sync.finished.connect(self._sync_done)
        self.sync.failed.connect(self._sync_failed)
        self.sync.refused.connect(self._sync_refused)
        self.sync.deferred.connect(lambda text: bar.showMessage(text, 5000))
        self.exports.started.connect(self._busy)
        self.exports.progress.connect(self.status_area.export_progress)
        self.exports.finished.connect(self._export_done)
        self.exports.refused.connect(self.banner.show_message)
        for source in (self.exports, self.profiles, self.review):
            source.message.connect(bar.showMessage)
        self.profiles.problem.connect(self.banner.show_message)
        self.profiles.utcWanted.connect(lambda: self.acts.utc.setChecked(True))
        self.profiles.created.connect(self.sync.start)
        #: "last sync 5 min ago" grows older by itself: read again every minute.
        self.ago_timer = QTimer(self)
        self.ago_timer.setInterval(60_000)
        self.ago_timer.timeout.connect(self._refresh_sync_phrase)
        self.ago_timer.start()

    # ------------------------------------------------------------------------------- data

    @property
    def tz(self) -> tzinfo:
        """The zone times are shown in (UTC, or the profile's / the machine's zone)."""
        return self.model.display_timezone

    @property
    def frame(self) -> pd.DataFrame:
        return self.model.frame

    def _load(self) -> None:
        self.loader.load()
        self._refresh_sync_phrase()

    def _switched(self) -> None:
        """Another profile or cache: its events, its zone, its title; nothing of the old one."""
        self.banner.hide()
        self.details.clear()
        self._load()
        self._profile_changed()

    def _cache_unreadable(self, message: str) -> None:
        self.banner.show_message(f"Could not read the cache: {message}")
        self._update_status()

    def replace_frame(self, frame: pd.DataFrame) -> None:
        """Swap in a newer frame (after sync) keeping sort, filters, selection and scroll.

        The model moves the selection and current row to the same events by id; the window
        keeps the event at the top of the viewport where it was, unless the user is at the very
        top, where new events should push in.
        """
        table, top = self.table, self.table.rowAt(0)
        anchor = None
        if table.verticalScrollBar().value() > 0 and top >= 0:
            event_id = self.frame["id"].array[self.model.record_index(top)]
            anchor = (str(event_id), table.rowViewportPosition(top))
        self.filtering.apply(frame=frame, keep_view=False)
        row = self.model.view_row_of_id(anchor[0]) if anchor is not None else None
        if anchor is not None and row is not None:
            bar = table.verticalScrollBar()
            bar.setValue(bar.value() + table.rowViewportPosition(row) - anchor[1])

    def _filtered(self, rows: int) -> None:
        """After each filter pass: the detail pane follows the table, the status counts."""
        self.details.follow()
        self.no_match.setVisible(rows == 0 and len(self.frame) > 0)
        self._update_status()
        self.filtersApplied.emit(rows)

    def focus_search(self) -> None:
        self.search_bar.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_bar.selectAll()

    # ------------------------------------------------------------------------------- status

    def _refresh_sync_phrase(self) -> None:
        self.status_area.refresh_sync_phrase()
        self._update_status()

    def _profile_changed(self) -> None:
        """After the profile (or its secret) changed: zone, title, status (offline or not)."""
        self.model.set_timezone(self.session.zone())
        name = self.session.profile_name
        # Qt appends the application's display name ("prod — audit-viewer") where that is the
        # platform's convention; naming it here too showed it twice.
        self.setWindowTitle(name or "")
        self._update_status()

    def _update_status(self) -> None:
        if self.loader.loading:
            self.status_area.label.setText(self.loader.text)
        else:
            self.status_area.show_counts(self.model.rowCount(), len(self.frame))

    def _busy(self, text: str = "", total: int = 0) -> None:
        """Show/hide the progress and Cancel, and enable the commands that fit what runs."""
        syncing, exporting = self.sync.running, self.exports.running
        self.status_area.show_running(syncing or exporting, text, total)
        self.acts.cancel.setEnabled(syncing or exporting)
        for act in (self.acts.sync, self.acts.full_sync):
            act.setEnabled(not syncing)
        self.acts.export.setEnabled(not exporting)
        self.acts.open.setEnabled(not (syncing or exporting))
        if not text:  # started: the status line says what runs; ended: what is shown
            self._update_status()

    def cancel_running(self) -> None:
        """Cancel the sync or export in progress (both stop at their next page/chunk)."""
        self.sync.cancel()
        self.exports.cancel()
        self.status_area.progress.setFormat("Cancelling…")

    def _sync_progress(self, report: SyncProgress) -> None:
        self.status_area.sync_progress(report, self.tz, bar=not self.exports.running)
        self.syncProgress.emit(report)

    def _sync_done(self, result: SyncResult) -> None:
        self._busy()
        self._refresh_sync_phrase()
        self.statusBar().showMessage(status.sync_summary(result), 15_000)
        self.syncFinished.emit(result)

    def _sync_failed(self, message: str) -> None:
        self._busy()
        self._refresh_sync_phrase()
        self.banner.show_message(
            f"Sync failed: {message} The cached events stay available.",
            ("Open profile settings", self.profiles.edit_profile),
        )
        self.syncFailed.emit(message)

    def _sync_refused(self, message: str, needs: str) -> None:
        if needs == NEEDS_PROFILE:
            self.banner.show_message(message, ("New profile…", self.profiles.new_profile))
        else:
            self.banner.show_message(message, ("Open profile settings", self.profiles.edit_profile))

    def _export_done(self, outcome: object) -> None:
        self._busy()
        self.exportFinished.emit(outcome)

    # ------------------------------------------------------------------------------- view

    def set_utc(self, on: bool) -> None:
        """Show times in UTC (True) or the local zone; the Time header names the zone."""
        self.utc = bool(on)
        if self.acts.utc.isChecked() != self.utc:
            self.acts.utc.setChecked(self.utc)
            return
        self.model.set_utc(self.utc)
        self._settings.set_utc(self.utc)
        self.filtering.update_timeline()
        self.details.refresh()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._style_errors()
        super().changeEvent(event)

    # ------------------------------------------------------------------------------- closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop threads, remember the layout, close the cache, run cleanups. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.ago_timer.stop()
        for controller in (self.sync, self.exports, self.loader):
            controller.stop()
        window_state.save(self, self._settings)
        self.session.store.close()
        for cleanup in self.on_close:
            try:
                cleanup()
            except Exception:
                log.exception("cleanup on close failed")
