"""The main window: a shell that builds the widgets and wires them to the workflows.

Each workflow lives in its own controller, given the :class:`Session` (which cache, which
profile) instead of the window: loading (:mod:`load_controller`), sync, export, profiles and
caches, reviewing rows. What stays here is the one filter state (:class:`FilterState`, parsed
once, evaluated once, rendered by the search bar, the filter row and the timeline) and what the
user must never lose while data changes underneath: sort, filters, selection and scroll.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from audit_viewer import __version__, logs
from audit_viewer.cache import CacheError, CacheStore
from audit_viewer.config import Profile, SecretStore
from audit_viewer.sync import SyncProgress, SyncResult
from audit_viewer.ui import status, theme
from audit_viewer.ui.banner import Banner
from audit_viewer.ui.detail_pane import DetailPane
from audit_viewer.ui.dialogs import ShortcutsDialog
from audit_viewer.ui.export_controller import ExportController
from audit_viewer.ui.filter_controller import FilterController
from audit_viewer.ui.filter_header import FilterHeader
from audit_viewer.ui.highlight import HighlightDelegate
from audit_viewer.ui.icons import app_icon, icon
from audit_viewer.ui.load_controller import LoadController
from audit_viewer.ui.no_match import NoMatchOverlay
from audit_viewer.ui.profile_controller import ProfileController
from audit_viewer.ui.review_controller import ReviewController
from audit_viewer.ui.search_bar import SearchBar
from audit_viewer.ui.session import Session
from audit_viewer.ui.settings import WindowSettings
from audit_viewer.ui.sync_controller import NEEDS_PROFILE, SyncController
from audit_viewer.ui.table_layout import TableLayout
from audit_viewer.ui.table_model import EventTableModel, RecordRole
from audit_viewer.ui.timeline import Timeline
from audit_viewer.ui.window_actions import WindowActions, build_menus

log = logging.getLogger(__name__)

APP_TITLE = "audit-viewer"
_HEADER_MARGIN = QStyle.PixelMetric.PM_HeaderMargin


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
    #: Emitted when a big cache, loaded in the background, is shown.
    cacheLoaded = Signal()

    def __init__(
        self,
        *,
        store: CacheStore,
        cache_url: str,
        profile_name: str | None,
        profile: Profile | None,
        secrets: SecretStore | None = None,
        session_secret: str | None = None,
        utc: bool | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.session = Session(
            store=store,
            cache_url=cache_url,
            profile_name=profile_name,
            profile=profile,
            secrets=secrets,
            session_secret=session_secret,
            parent=self,
        )
        #: Called after the window closed and the cache is closed (the demo's server, temp dir).
        self.on_close: list[Callable[[], None]] = []
        self._settings = WindowSettings()
        self._sync_phrase = "never synced"
        self._closed = False
        if utc is None:
            utc = self._settings.utc(default=bool(profile and profile.timezone.upper() == "UTC"))
        self._utc = utc

        self.model = EventTableModel(parent=self)
        self._build_widgets()
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
        )
        self.profiles = ProfileController(
            self.session,
            self,
            busy=lambda: self.sync.running or self.exports.running or self.loader.loading,
        )
        self.review = ReviewController(self.table, self.model, self.header)
        self.layout_state = TableLayout(self.table, self.model, self.header)
        self.acts = WindowActions(self, self._slots())
        self.no_match = NoMatchOverlay(self.table.viewport(), self.acts.clear)
        self.profiles_menu, self.columns_menu, self.toolbar = build_menus(self, self.acts)
        self._connect()
        self._load()
        self._restore_settings()
        self._profile_changed()
        if profile is None and len(self.frame) == 0:
            self.banner.show_message(
                "Welcome: no profile is set up yet. Add one with the platform's base URL and an "
                "API client to sync the audit trail, or start “audit-viewer --demo” to try the "
                "app on synthetic events.",
                ("New profile…", self.profiles.new_profile),
                kind="info",
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

        self.table = QTableView(self)
        self.table.setObjectName("eventsTable")
        self.header = FilterHeader(self.table)
        self.table.setHorizontalHeader(self.header)
        self.table.setModel(self.model)
        self.table.setItemDelegate(HighlightDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setAlternatingRowColors(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        vheader = self.table.verticalHeader()
        vheader.setSectionResizeMode(vheader.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 8)
        vheader.setMinimumSectionSize(self.fontMetrics().height() + 4)
        self.table.installEventFilter(self)
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

        bar = self.statusBar()
        self.status_label = QLabel(objectName="statusLine")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.status_label, 1)
        self.progress = QProgressBar(objectName="statusProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", objectName="statusCancel")
        self.cancel_button.hide()
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
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
            "sync": self.sync.start,
            "full_sync": lambda: self.sync.start(full=True),
            "cancel": self.cancel_running,
            "profile": profiles.edit_profile,
            "new_profile": profiles.new_profile,
            "shortcuts": lambda: ShortcutsDialog(self.actions(), self).exec(),
            "about": self.show_about,
        }

    def _connect(self) -> None:
        self.filtering.applied.connect(self._filtered)
        self.filtering.invalid.connect(self._update_status)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.cancel_button.clicked.connect(self.cancel_running)
        self.profiles_menu.aboutToShow.connect(lambda: self.profiles.fill_menu(self.profiles_menu))
        self.columns_menu.aboutToShow.connect(
            lambda: self.layout_state.fill_menu(self.columns_menu, self.acts.reset_columns)
        )
        self.session.switched.connect(self._switched)
        self.session.changed.connect(self._profile_changed)
        self.loader.frameReady.connect(lambda frame: self.filtering.apply(frame=frame))
        self.loader.loaded.connect(self._refresh_sync_phrase)
        self.loader.loaded.connect(self.cacheLoaded)
        self.loader.failed.connect(self._cache_unreadable)
        self.sync.started.connect(lambda: self._busy(True, "Syncing: connecting…", 0))
        self.sync.progress.connect(self._sync_progress)
        self.sync.waiting.connect(self._sync_waiting)
        self.sync.frameLoaded.connect(self.replace_frame)
        self.sync.finished.connect(self._sync_done)
        self.sync.failed.connect(self._sync_failed)
        self.sync.refused.connect(self._sync_refused)
        self.sync.deferred.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.exports.started.connect(lambda text, total: self._busy(True, text, total))
        self.exports.progress.connect(self._export_progress)
        self.exports.finished.connect(self._export_done)
        self.exports.refused.connect(self.banner.show_message)
        for source in (self.exports, self.profiles, self.review):
            source.message.connect(self.statusBar().showMessage)
        self.profiles.problem.connect(self.banner.show_message)
        self.profiles.utcWanted.connect(lambda: self.acts.utc.setChecked(True))
        self._ago_timer = QTimer(self)
        self._ago_timer.setInterval(60_000)
        self._ago_timer.timeout.connect(self._refresh_sync_phrase)
        self._ago_timer.start()

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
        self.detail.show_record(None, self.tz)
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
        anchor_id, anchor_offset, top = None, 0, self.table.rowAt(0)
        if self.table.verticalScrollBar().value() > 0 and top >= 0:
            anchor_id, anchor_offset = (
                self._id_of_view_row(top),
                self.table.rowViewportPosition(top),
            )
        self.filtering.apply(frame=frame, keep_view=False)
        if anchor_id is not None:
            row = self.model.view_row_of_id(anchor_id)
            if row is not None:
                bar = self.table.verticalScrollBar()
                bar.setValue(bar.value() + self.table.rowViewportPosition(row) - anchor_offset)

    def _id_of_view_row(self, row: int) -> str:
        return str(self.frame["id"].array[self.model.record_index(row)])

    # ------------------------------------------------------------------------------- filtering

    def _filtered(self, rows: int) -> None:
        """After each filter pass: the detail pane follows the table, the status counts."""
        current = self.table.currentIndex()
        shown = self.detail.record()
        if not current.isValid():
            if shown is not None:
                self.detail.show_record(None, self.tz)
        elif shown is None or shown.get("id") != self._id_of_view_row(current.row()):
            self._on_current_row(current)
        self.no_match.setVisible(rows == 0 and len(self.frame) > 0)
        self._update_status()
        self.filtersApplied.emit(rows)

    def focus_search(self) -> None:
        self.search_bar.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_bar.selectAll()

    # ------------------------------------------------------------------------------- status

    def _refresh_sync_phrase(self) -> None:
        name = self.session.profile_name
        if name is None:
            self._sync_phrase = "no events cached yet"
        else:
            try:
                state = self.session.store.sync_state(name)
            except CacheError as exc:
                self._sync_phrase = f"sync state unreadable: {exc}"
            else:
                self._sync_phrase = status.sync_phrase(
                    state.last_sync_at, state.last_outcome, state.last_error
                )
        self._update_status()

    def _profile_changed(self) -> None:
        """After the profile (or its secret) changed: zone, title, status (offline or not)."""
        profile = self.session.profile
        zone = profile.timezone if profile else "local"
        tz = None
        if zone.lower() not in ("local", "utc", ""):  # an IANA zone instead of the machine's
            try:
                tz = ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("Unknown time zone %r in profile; using the local zone", zone)
        self.model.set_timezone(tz)
        name = self.session.profile_name
        self.setWindowTitle(f"{APP_TITLE} — {name}" if name else APP_TITLE)
        self._update_status()

    def _update_status(self) -> None:
        if self.loader.loading:
            self.status_label.setText(self.loader.text)
            return
        self.status_label.setText(
            status.status_line(
                self.model.rowCount(),
                len(self.frame),
                self.session.store.location,
                self._sync_phrase,
                offline=self.session.offline,
            )
        )

    def _busy(self, on: bool, text: str = "", total: int = 0) -> None:
        """Show/hide the progress bar and Cancel, and enable the actions that fit the state."""
        syncing, exporting = self.sync.running, self.exports.running
        running = syncing or exporting
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.acts.cancel.setEnabled(running)
        self.acts.sync.setEnabled(not syncing)
        self.acts.full_sync.setEnabled(not syncing)
        self.acts.export.setEnabled(not exporting)
        self.acts.open.setEnabled(not running)
        if on:
            self.progress.setRange(0, total)
            self.progress.setValue(0)
            self.progress.setFormat("%p%" if total else "")
            self.status_label.setText(text)
        else:
            self._update_status()

    def cancel_running(self) -> None:
        """Cancel the sync or export in progress (both stop at their next page/chunk)."""
        self.sync.cancel()
        self.exports.cancel()
        self.progress.setFormat("Cancelling…")

    # ------------------------------------------------------------------------------- sync

    def _sync_progress(self, p: SyncProgress) -> None:
        if not self.exports.running:  # an export's progress wins the shared bar
            self.progress.setRange(0, p.ranges_total)
            self.progress.setValue(p.ranges_done)
            self.progress.setFormat(f"{p.events:,} events")
        self.syncProgress.emit(p)
        day = p.range_start.astimezone(self.tz).strftime("%Y-%m-%d")
        self.status_label.setText(
            f"Syncing: {p.events:,} events ({p.new_events:,} new) in {p.pages:,} pages · "
            f"at {day} · cache: {self.session.store.location}"
        )

    def _sync_waiting(self, seconds: float) -> None:
        self.status_label.setText(
            f"Syncing: waiting for another program writing the cache ({seconds:.0f} s) · "
            f"cache: {self.session.store.location}"
        )

    def _sync_ended(self) -> None:
        self._busy(False)
        self._refresh_sync_phrase()

    def _sync_done(self, result: SyncResult) -> None:
        self._sync_ended()
        what = "Sync cancelled" if result.cancelled else "Sync done"
        self.statusBar().showMessage(
            f"{what}: {result.new_events:,} new events, {result.total_cached:,} cached "
            f"({result.elapsed:.1f} s)",
            15_000,
        )
        self.syncFinished.emit(result)

    def _sync_failed(self, message: str) -> None:
        self._sync_ended()
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

    # ------------------------------------------------------------------------------- export

    def _export_progress(self, rows: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(min(rows, total))
        self.progress.setFormat(f"Saving {rows:,} / {total:,}")

    def _export_done(self, outcome: object) -> None:
        self._busy(False)
        self.exportFinished.emit(outcome)

    # ------------------------------------------------------------------------------- view

    def set_utc(self, on: bool) -> None:
        """Show times in UTC (True) or the local zone; the Time header names the zone."""
        self._utc = bool(on)
        if self.acts.utc.isChecked() != self._utc:
            self.acts.utc.setChecked(self._utc)
            return
        self.model.set_utc(self._utc)
        self._settings.set_utc(self._utc)
        self.filtering.update_timeline()
        self._on_current_row(self.table.currentIndex())

    def _on_current_row(self, current, _previous=None) -> None:
        record = current.data(RecordRole) if current.isValid() else None
        if record is not None:
            record["raw"] = self._event_json(record)
        self.detail.show_record(record, self.tz)

    def _event_json(self, record: dict[str, object]) -> object:
        """The event's whole JSON: frames loaded from SQLite carry only its extra fields, and
        the detail pane shows and copies the event as it arrived. Other caches' frames have it
        already, so moving through rows costs them no query."""
        store, name = self.session.store, self.session.profile_name
        if name is None or store.frames_hold_whole_json:
            return record["raw"]
        try:
            stored = store.event_json(name, str(record["id"]))
        except CacheError:
            stored = None
        return record["raw"] if stored is None else stored

    def _table_menu(self, pos) -> None:
        menu = QMenu(self)
        for act in (self.acts.copy, self.acts.copy_csv, self.acts.filter_value):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.acts.clear)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and self.table.currentIndex().isValid()
        ):
            if not self.detail.isVisible():
                self.acts.detail.setChecked(True)
            self.detail.findChild(QWidget, "detailText").setFocus(
                Qt.FocusReason.ShortcutFocusReason
            )
            return True
        return super().eventFilter(watched, event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._style_errors()
        super().changeEvent(event)

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About audit-viewer",
            f"<b>audit-viewer {__version__}</b><p>Browse, search and archive the platform's "
            "audit trail: events sync into a local cache that outlives the platform's 90-day "
            f"retention.</p><p>Cache: {html.escape(self.session.store.location)}<br>"
            f"Settings: {html.escape(str(self._settings.path))}<br>"
            f"Log: {html.escape(str(logs.log_file()))}</p>",
        )

    # ------------------------------------------------------------------------------- settings

    def _restore_settings(self) -> None:
        s = self._settings
        for saved, restore in (
            (s.geometry(), self.restoreGeometry),
            (s.window_state(), self.restoreState),
            (s.splitter_state(), self.splitter.restoreState),
        ):
            if saved is not None:
                restore(saved)
        self.acts.timeline.setChecked(s.timeline_visible())
        self.acts.detail.setChecked(s.detail_visible())
        self.timeline.setVisible(s.timeline_visible())
        self.detail.setVisible(s.detail_visible())
        self.acts.bom.setChecked(s.bom())
        self.acts.utc.setChecked(self._utc)
        self.model.set_utc(self._utc)
        self.layout_state.reset()
        table = s.table_state()
        if table is not None:
            self.layout_state.apply(table)
        self.table.setSortingEnabled(True)

    def save_settings(self) -> None:
        s = self._settings
        s.save_window(self.saveGeometry(), self.saveState(), self.splitter.saveState())
        s.set_panes(timeline=self.acts.timeline.isChecked(), detail=self.acts.detail.isChecked())
        s.set_utc(self._utc)
        s.set_bom(self.acts.bom.isChecked())
        s.set_table_state(self.layout_state.state())
        s.sync()

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
        self._ago_timer.stop()
        for controller in (self.sync, self.exports, self.loader):
            controller.stop()
        self.save_settings()
        self.session.store.close()
        for cleanup in self.on_close:
            try:
                cleanup()
            except Exception:
                log.exception("cleanup on close failed")
