"""The main window: search, filter row, timeline, table, detail pane, Save as CSV and sync.

The window owns no data logic: the frame comes from :class:`CacheStore`, the filters from
:class:`FilterState` (one state, parsed once; the command line's ``export --query`` speaks the
same language), the CSV from
:func:`write_csv` and the sync from :class:`SyncEngine` in a worker thread. What lives here is the
wiring and what the user must never lose while data changes underneath: sort, filters, the
selected event and the scroll position.
"""

from __future__ import annotations

import html
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from audit_viewer import __version__, logs
from audit_viewer.cache import CacheError, CacheStore
from audit_viewer.config import ConfigError, Profile, SecretStore, get_secret, load_profiles
from audit_viewer.events import in_zone
from audit_viewer.export import ExportError, write_csv
from audit_viewer.filters import SEARCH, FilterState
from audit_viewer.frame import empty_frame
from audit_viewer.query import quote_value
from audit_viewer.sync import SyncProgress, SyncResult
from audit_viewer.ui import status, theme
from audit_viewer.ui.detail_pane import DetailPane
from audit_viewer.ui.dialogs import ProfileDialog, ShortcutsDialog
from audit_viewer.ui.filter_header import FilterHeader
from audit_viewer.ui.highlight import HighlightDelegate
from audit_viewer.ui.icons import app_icon, icon
from audit_viewer.ui.log_menu import log_level_menu
from audit_viewer.ui.no_match import NoMatchOverlay
from audit_viewer.ui.search_bar import SearchBar
from audit_viewer.ui.settings import ColumnState, TableState, WindowSettings
from audit_viewer.ui.table_model import (
    COL_ACTION,
    COL_DESCRIPTION,
    COL_TIME,
    COL_USER,
    EventTableModel,
    RecordRole,
)
from audit_viewer.ui.timeline import Timeline
from audit_viewer.ui.workers import (
    ExportOutcome,
    ExportWorker,
    LoadWorker,
    SyncWorker,
    WorkerThread,
    export_frames,
)

log = logging.getLogger(__name__)

#: Exports above this many rows run in a thread with a progress bar and Cancel.
BACKGROUND_EXPORT_ROWS = 50_000
#: From this many cached events the window shows itself first and loads them in a thread
#: (a million take seconds); below it, loading inline keeps startup simple and immediate.
BACKGROUND_LOAD_EVENTS = 200_000
#: The clipboard is for a handful of rows; larger selections belong in Save as CSV.
MAX_COPY_ROWS = 50_000
EXPORT_CHUNK = 20_000
APP_TITLE = "audit-viewer"
_HEADER_MARGIN = QStyle.PixelMetric.PM_HeaderMargin


class Banner(QFrame):
    """A non-modal message above the table (sync errors, missing secret) with one action.

    ``kind`` "error" is tinted like an error; "info" (the first-run welcome) in the palette's
    neutral highlight, so a newcomer is not greeted by something that looks broken.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text = QLabel(objectName="bannerText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton(objectName="bannerAction")
        self.close_button = QToolButton(objectName="bannerClose")
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        self.action_button.clicked.connect(self._run_action)
        self._action: Callable[[], None] | None = None
        self.kind = "error"
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 6, 6)
        row.addWidget(self.text, 1)
        row.addWidget(self.action_button)
        row.addWidget(self.close_button)
        self._restyle()
        self.hide()

    def _restyle(self) -> None:
        if self.kind == "info":
            fg = theme.range_edge_color(self.palette())
            bg = theme.range_fill_color(self.palette())
        else:
            fg = theme.error_color(self.palette())
            bg = theme.error_background_color(self.palette())
        sheet = (
            f"#banner {{ background: {bg.name()}; border: 1px solid {fg.name()};"
            " border-radius: 4px; }"
        )
        if sheet != self.styleSheet():  # setting a style sheet itself sends PaletteChange
            self.setStyleSheet(sheet)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._restyle()
        super().changeEvent(event)

    def show_message(
        self,
        message: str,
        action: tuple[str, Callable[[], None]] | None = None,
        *,
        kind: str = "error",
    ) -> None:
        self.kind = kind
        self._restyle()
        self.text.setText(message)
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        self.show()

    def _run_action(self) -> None:
        if self._action is not None:
            self.hide()
            self._action()


class MainWindow(QMainWindow):
    """The audit-log window over one cache and (optionally) one profile to sync from."""

    #: Emitted after every filter pass with the number of rows shown.
    filtersApplied = Signal(int)
    #: Emitted for each sync progress report (a SyncProgress), in the GUI thread.
    syncProgress = Signal(object)
    #: Emitted when a sync ends: a SyncResult (``cancelled`` tells a cancel apart).
    syncFinished = Signal(object)
    #: Emitted when a sync fails, with the message the banner shows.
    syncFailed = Signal(str)
    #: Emitted when a Save as CSV ends: an ExportOutcome.
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
        self._store = store
        self._cache_url = cache_url
        self._profile_name = profile_name
        self._profile = profile
        self._secrets = secrets if secrets is not None else SecretStore()
        self._session_secret = session_secret
        #: Called after the window closed and the cache is closed (the demo's server, temp dir).
        self.on_close: list[Callable[[], None]] = []
        self._settings = WindowSettings()
        self._sync: WorkerThread | None = None
        self._load: WorkerThread | None = None
        self._load_count = 0
        self._load_text = ""
        self._export: WorkerThread | None = None
        self._sync_phrase = "never synced"
        #: What the user set (may not parse) and the last valid state, which the table shows.
        self._filters = FilterState()
        self._shown_filters = FilterState()
        self._result = FilterState().evaluate(empty_frame())
        self._closed = False
        self._columns_source: QMenu | None = None
        self._export_target: Path | None = None
        self._export_total = 0
        if utc is None:
            utc = self._settings.utc(default=bool(profile and profile.timezone.upper() == "UTC"))
        self._utc = utc
        self._offline = True

        self.model = EventTableModel(parent=self)
        self._apply_profile_timezone()
        self._build_widgets()
        self._build_actions()
        self.no_match = NoMatchOverlay(self.table.viewport(), self.act_clear)
        self._build_menus_and_toolbar()
        self._connect()
        self._load_frame_from_store()
        self._restore_settings()
        self._profile_changed()
        if self._profile is None and len(self.frame) == 0:
            self.banner.show_message(
                "Welcome: no profile is set up yet. Add one with the platform's base URL and an "
                "API client to sync the audit trail, or start “audit-viewer --demo” to try the "
                "app on synthetic events.",
                ("New profile…", self.new_profile),
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
        layout.addWidget(self.search_bar)
        layout.addWidget(self.search_error)
        layout.addWidget(self.banner)
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

    def _action(
        self,
        name: str,
        text: str,
        slot: Callable[..., object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        *,
        icon_name: str | None = None,
        checkable: bool = False,
        tip: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if icon_name:
            action.setIcon(icon(icon_name))
        action.setCheckable(checkable)
        if tip or shortcut is not None:
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            base = tip or text.replace("&", "").rstrip("…")
            action.setToolTip(f"{base} ({keys})" if keys else base)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        a = self._action
        self.act_open = a("actOpenCache", "&Open cache…", self.open_cache_dialog, K.Open)
        self.act_export = a(
            "actExport",
            "&Save as CSV…",
            self.export_csv,
            K.Save,
            icon_name="export",
            tip="Save the rows shown as CSV",
        )
        self.act_bom = a(
            "actBom",
            "Excel-compatible CSV (&BOM)",
            self._set_bom,
            checkable=True,
            tip="Start CSV files with a UTF-8 byte order mark so Excel reads accents right",
        )
        self.act_quit = a("actQuit", "&Quit", self.close, "Ctrl+Q")
        self.act_copy = a("actCopy", "&Copy", self.copy_selection, K.Copy)
        self.act_copy_csv = a(
            "actCopyCsv", "Copy row as C&SV", self.copy_rows_as_csv, "Ctrl+Shift+C"
        )
        self.act_filter_value = a(
            "actFilterValue", "&Filter on this value", self.filter_on_current_value, "Ctrl+Shift+E"
        )
        self.act_find = a("actFind", "&Find…", self.focus_search, K.Find)
        self.act_filter_row = a(
            "actFilterRow", "Filter &row", self.header.focus_filters, "Ctrl+Shift+F"
        )
        self.act_clear = a(
            "actClearFilters",
            "C&lear filters",
            self.clear_filters,
            "Ctrl+Shift+L",
            icon_name="clear-filter",
        )
        self.act_timeline = a(
            "actTimeline", "&Timeline", self.timeline.setVisible, "Ctrl+Shift+T", checkable=True
        )
        self.act_detail = a(
            "actDetail", "&Detail pane", self.detail.setVisible, "Ctrl+Shift+D", checkable=True
        )
        self.act_utc = a(
            "actUtc",
            "Show times in &UTC",
            self.set_utc,
            "Ctrl+Shift+U",
            checkable=True,
            icon_name="utc",
        )
        self.act_reset_columns = a("actResetColumns", "&Reset columns", self.reset_columns)
        self.act_sync = a(
            "actSync",
            "&Sync now",
            self.start_sync,
            "F5",
            icon_name="sync",
            tip="Fetch new events from the platform",
        )
        self.act_full_sync = a(
            "actFullSync", "&Full resync (90 days)", lambda: self.start_sync(full=True), "Shift+F5"
        )
        self.act_cancel = a(
            "actCancel",
            "&Cancel",
            self.cancel_running,
            "Ctrl+.",
            icon_name="cancel",
            tip="Cancel the running sync or export",
        )
        self.act_cancel.setEnabled(False)
        self.act_profile = a(
            "actProfile",
            "&Profile settings…",
            self.edit_profile,
            K.Preferences,
            icon_name="settings",
        )
        if self.act_profile.shortcut().isEmpty():
            self.act_profile.setShortcut(QKeySequence("Ctrl+,"))
        self.act_new_profile = a("actNewProfile", "&New profile…", self.new_profile)
        self.act_shortcuts = a("actShortcuts", "&Keyboard shortcuts", self.show_shortcuts, "Ctrl+/")
        self.act_about = a("actAbout", "&About audit-viewer", self.show_about)

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.act_open)
        self.profiles_menu = file_menu.addMenu("Cached &profiles")
        self.profiles_menu.aboutToShow.connect(self._fill_profiles_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act_export)
        file_menu.addAction(self.act_bom)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)

        edit = menu.addMenu("&Edit")
        for act in (self.act_copy, self.act_copy_csv, self.act_filter_value):
            edit.addAction(act)
        edit.addSeparator()
        for act in (self.act_find, self.act_filter_row, self.act_clear):
            edit.addAction(act)

        view = menu.addMenu("&View")
        view.addAction(self.act_timeline)
        view.addAction(self.act_detail)
        view.addSeparator()
        view.addAction(self.act_utc)
        self.columns_menu = view.addMenu("&Columns")
        self.columns_menu.setIcon(icon("columns"))
        self.columns_menu.aboutToShow.connect(self._fill_columns_menu)

        sync = menu.addMenu("&Sync")
        for act in (self.act_sync, self.act_full_sync, self.act_cancel):
            sync.addAction(act)
        sync.addSeparator()
        sync.addAction(self.act_profile)
        sync.addAction(self.act_new_profile)

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.act_shortcuts)
        help_menu.addMenu(log_level_menu(self))
        help_menu.addAction(self.act_about)

        tools = self.addToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.addAction(self.act_sync)
        tools.addAction(self.act_cancel)
        tools.addSeparator()
        tools.addAction(self.act_export)
        tools.addAction(self.act_clear)
        columns_button = QToolButton(self)
        columns_button.setObjectName("columnsButton")
        columns_button.setText("Columns")
        columns_button.setIcon(icon("columns"))
        columns_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        columns_button.setMenu(self.columns_menu)
        tools.addWidget(columns_button)
        tools.addAction(self.act_utc)
        tools.addSeparator()
        tools.addAction(self.act_profile)
        tools.widgetForAction(self.act_sync).setObjectName("syncButton")
        tools.widgetForAction(self.act_export).setObjectName("exportButton")
        tools.widgetForAction(self.act_cancel).setObjectName("cancelButton")
        self.toolbar = tools

    def _connect(self) -> None:
        self.search_bar.queryChanged.connect(
            lambda text: self.set_filters(self._filters.with_search(text))
        )
        self.header.stateEdited.connect(self.set_filters)
        # After the view has re-sorted (it reacts to the same signal), bring the selection back.
        self.header.sortIndicatorChanged.connect(
            lambda *_: QTimer.singleShot(0, self._scroll_to_current)
        )
        self.timeline.rangeSelected.connect(self._on_timeline_range)
        self.timeline.rangeCleared.connect(self._on_timeline_cleared)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.cancel_button.clicked.connect(self.cancel_running)
        self.model.columnsInserted.connect(self._hide_new_columns)
        self._ago_timer = QTimer(self)
        self._ago_timer.setInterval(60_000)
        self._ago_timer.timeout.connect(self._refresh_sync_phrase)
        self._ago_timer.start()

    # ------------------------------------------------------------------------------- data

    @property
    def store(self) -> CacheStore:
        return self._store

    @property
    def tz(self) -> tzinfo:
        """The zone times are shown in (UTC, or the profile's / the machine's zone)."""
        return self.model.display_timezone

    @property
    def frame(self) -> pd.DataFrame:
        return self.model.frame

    def _read_frame(self) -> pd.DataFrame:
        """The current profile's cached events (an empty frame without a profile)."""
        if self._profile_name is None:
            return empty_frame()
        try:
            return self._store.load_frame(self._profile_name)
        except CacheError as exc:
            self.banner.show_message(f"Could not read the cache: {exc}")
            return empty_frame()

    def _load_frame_from_store(self) -> None:
        """Show the profile's cached events; a big cache loads in a thread behind the status."""
        count = self._cached_count()
        if count < BACKGROUND_LOAD_EVENTS:
            self._apply_filters(frame=self._read_frame())
            self._refresh_sync_phrase()
            return
        self._apply_filters(frame=empty_frame())
        self._refresh_sync_phrase()
        assert self._profile_name is not None  # a count needs a profile
        worker = LoadWorker(cache_url=self._cache_url, profile=self._profile_name)
        worker.firstPage.connect(self._first_page_loaded)  # a slot of ours: runs in our thread
        worker.finished.connect(self._frame_loaded)
        worker.failed.connect(self._load_failed)
        self._load = WorkerThread(worker)
        self._load.start()
        self._load_count = count
        self._load_text = f"Loading {count:,} cached events…"
        self._update_status()

    def _cached_count(self) -> int:
        if self._profile_name is None:
            return 0
        try:
            return self._store.count(self._profile_name)
        except CacheError:
            return 0  # _read_frame meets the same error and shows it

    def _first_page_loaded(self, page: pd.DataFrame) -> None:
        """Paint the newest events at once while the rest of a big cache loads."""
        if self._load is None:
            return  # the load was abandoned (window closing)
        self._load_text = (
            f"Showing the newest {len(page):,} of {self._load_count:,} events; loading the rest…"
        )
        self._apply_filters(frame=page)

    def _frame_loaded(self, frame: pd.DataFrame) -> None:
        self._end_load()
        self._apply_filters(frame=frame)
        self._refresh_sync_phrase()
        self.cacheLoaded.emit()

    def _load_failed(self, message: str) -> None:
        self._end_load()
        self.banner.show_message(f"Could not read the cache: {message}")
        self._update_status()

    def _end_load(self) -> None:
        if self._load is not None:
            self._load.finish()
            self._load = None

    @property
    def loading(self) -> bool:
        """A big cache is still loading in the background (sync, switching wait for it)."""
        return self._load is not None

    def replace_frame(self, frame: pd.DataFrame) -> None:
        """Swap in a newer frame (after sync) keeping sort, filters, selection and scroll.

        The model moves the selection and current row to the same events by id; the window
        keeps the event at the top of the viewport where it was, unless the user is at the very
        top, where new events should push in.
        """
        anchor_id, anchor_offset = self._scroll_anchor()
        self._apply_filters(frame=frame, keep_view=False)
        if anchor_id is not None:
            row = self.model.view_row_of_id(anchor_id)
            if row is not None:
                bar = self.table.verticalScrollBar()
                bar.setValue(bar.value() + self.table.rowViewportPosition(row) - anchor_offset)

    def _scroll_anchor(self) -> tuple[str | None, int]:
        """The event at the top of the viewport and its pixel offset, when scrolled down."""
        if self.table.verticalScrollBar().value() == 0:
            return None, 0
        row = self.table.rowAt(0)
        if row < 0:
            return None, 0
        return self._id_of_view_row(row), self.table.rowViewportPosition(row)

    def _id_of_view_row(self, row: int) -> str:
        return str(self.frame["id"].array[self.model.record_index(row)])

    def _scroll_to_current(self) -> None:
        current = self.table.currentIndex()
        if current.isValid():
            self.table.scrollTo(current, QAbstractItemView.ScrollHint.EnsureVisible)

    # ------------------------------------------------------------------------------- filtering

    @property
    def filters(self) -> FilterState:
        """What the user has set now (search bar + filter row + timeline); may not parse."""
        return self._filters

    @property
    def shown_filters(self) -> FilterState:
        """The filters the table shows the result of: the last valid :attr:`filters`."""
        return self._shown_filters

    def set_filters(self, state: FilterState) -> None:
        """Keep ``state`` as the one filter state, render it, and show its result if valid.

        While it does not parse, the table keeps the last valid result and the error line says
        so. A new valid query starts at the top of the result: the newest matches.
        """
        if state == self._filters:
            return
        self._filters = state
        if state.valid:
            self._apply_filters(new_query=True)
        else:
            self._render_filters()
            self._update_status()

    def _on_timeline_range(self, start: datetime | None, end: datetime | None) -> None:
        self.set_filters(self._filters.with_time((start, end)))

    def _on_timeline_cleared(self) -> None:
        self.set_filters(self._filters.with_time(None))

    def _apply_filters(
        self, *, frame: pd.DataFrame | None = None, keep_view: bool = True, new_query: bool = False
    ) -> None:
        """Evaluate the filter state once over the whole frame and show the result.

        With ``frame``, that frame replaces the model's in the same step (after a sync), so the
        view never shows the new rows unfiltered.
        """
        if self._filters.valid:
            self._shown_filters = self._filters
        state = self._shown_filters
        now = datetime.now(UTC)
        data = frame if frame is not None else self.model.frame
        self._result = state.evaluate(data, now=now)
        if frame is not None:
            self.model.set_frame(frame, mask=self._result.mask)
            self._fit_row_numbers(len(frame))
        else:
            self.model.set_mask(self._result.mask)
        self._render_filters()
        self._update_timeline(now)
        self.model.set_highlight(state.highlight_terms)
        if new_query:
            self.table.scrollToTop()
        elif keep_view:
            self._scroll_to_current()
        # Lay the rows out now rather than on the view's timer, so they are painted once.
        self.table.executeDelayedItemsLayout()
        self._follow_current_row()
        self.no_match.setVisible(self.model.rowCount() == 0 and len(self.frame) > 0)
        self._update_status()
        self.filtersApplied.emit(self.model.rowCount())

    def _follow_current_row(self) -> None:
        """The detail pane shows the current row, or nothing once the filter removed it."""
        current = self.table.currentIndex()
        shown = self.detail.record()
        if not current.isValid():
            if shown is not None:
                self.detail.show_record(None, self.tz)
        elif shown is None or shown.get("id") != self._id_of_view_row(current.row()):
            self._on_current_row(current)

    def _render_filters(self) -> None:
        """Every widget shows the one state: texts, errors, time, actions, the error line."""
        state = self._filters
        self.search_bar.show_query(state.search, state.errors.get(SEARCH))
        self.header.show_state(state, self._result.facets)
        messages = [
            f"{'Search' if key == SEARCH else key.replace('_', ' ').capitalize() + ' filter'}: "
            f"{error}"
            for key, error in state.errors.items()
        ]
        if messages:
            messages.append("the table still shows the result of the last valid filters")
        text = "  ·  ".join(messages)
        self.search_error.setText(text)
        self.search_error.setVisible(bool(text))

    def _fit_row_numbers(self, rows: int) -> None:
        """Size the row-number column for every event, so filtering never shifts the columns
        sideways (nor repaints the whole table) as the count of shown rows changes digits."""
        vheader = self.table.verticalHeader()
        digits = vheader.fontMetrics().horizontalAdvance("9" * len(str(max(rows, 1))))
        vheader.setMinimumWidth(digits + 2 * vheader.style().pixelMetric(_HEADER_MARGIN) + 4)

    def _update_timeline(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        self.timeline.set_shown(self.model.created_at(), self.model.filter_mask, self.tz)
        self.timeline.set_range(*self._shown_filters.time_bounds(now))

    def clear_filters(self) -> None:
        """Clear the search bar, every column filter and the timeline range, in one pass."""
        self.set_filters(FilterState())

    def focus_search(self) -> None:
        self.search_bar.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_bar.selectAll()

    # ------------------------------------------------------------------------------- status

    def _refresh_sync_phrase(self) -> None:
        if self._profile_name is None:
            self._sync_phrase = "no events cached yet"
        else:
            try:
                state = self._store.sync_state(self._profile_name)
            except CacheError as exc:
                self._sync_phrase = f"sync state unreadable: {exc}"
            else:
                self._sync_phrase = status.sync_phrase(
                    state.last_sync_at, state.last_outcome, state.last_error
                )
        self._update_status()

    def is_offline(self) -> bool:
        """No profile or no secret: the cache is browsable, but Sync cannot run."""
        return self._offline

    def _profile_changed(self) -> None:
        """After the profile (or its secret) changed: zone, offline state, title, status."""
        self._offline = self._profile is None or self._secret() is None
        self._apply_profile_timezone()
        self._update_title()
        self._update_status()

    def _apply_profile_timezone(self) -> None:
        """A profile may name an IANA zone to show instead of the machine's ("local")."""
        zone = self._profile.timezone if self._profile else "local"
        tz = None
        if zone.lower() not in ("local", "utc", ""):
            try:
                tz = ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("Unknown time zone %r in profile; using the local zone", zone)
        self.model.set_timezone(tz)

    def _update_status(self) -> None:
        if self.loading:
            self.status_label.setText(self._load_text)
            return
        self.status_label.setText(
            status.status_line(
                self.model.rowCount(),
                len(self.frame),
                self._store.location,
                self._sync_phrase,
                offline=self.is_offline(),
            )
        )

    def _update_title(self) -> None:
        name = self._profile_name
        self.setWindowTitle(f"{APP_TITLE} — {name}" if name else APP_TITLE)

    # ------------------------------------------------------------------------------- copy

    def _visible_columns(self) -> list[int]:
        """Logical columns in the order shown, hidden ones left out."""
        header = self.header
        return [
            header.logicalIndex(v)
            for v in range(header.count())
            if not header.isSectionHidden(header.logicalIndex(v))
        ]

    def _selected_view_rows(self) -> list[int]:
        """Rows touched by the selection (from its ranges: cheap even after Ctrl+A)."""
        ranges = self.table.selectionModel().selection()
        rows = {r for rng in ranges for r in range(rng.top(), rng.bottom() + 1)}
        if not rows and self.table.currentIndex().isValid():
            rows = {self.table.currentIndex().row()}
        return sorted(rows)

    def _too_many_to_copy(self, rows: list[int]) -> bool:
        if len(rows) <= MAX_COPY_ROWS:
            return False
        self.statusBar().showMessage(
            f"{len(rows):,} rows selected: too many for the clipboard (at most "
            f"{MAX_COPY_ROWS:,}); use Save as CSV for large selections.",
            15_000,
        )
        return True

    def copy_selection(self) -> None:
        """Ctrl+C: the selected cells as TSV; with the header line when whole rows are selected."""
        focus = QGuiApplication.focusObject()
        if focus is not None and focus is not self.table and hasattr(focus, "copy"):
            focus.copy()  # a line edit or the raw JSON view: copy its own selection
            return
        selection = self.table.selectionModel()
        rows = sorted(
            {r for rng in selection.selection() for r in range(rng.top(), rng.bottom() + 1)}
        )
        if not rows or self._too_many_to_copy(rows):
            return
        visible = self._visible_columns()
        whole_rows = all(selection.isRowSelected(r, QModelIndex()) for r in rows)
        if whole_rows:
            columns = visible
        else:
            chosen = {i.column() for i in selection.selectedIndexes()}
            columns = [c for c in visible if c in chosen]
        lines = ["\t".join(self._header_text(c) for c in columns)] if whole_rows else []
        for r in rows:
            cells = []
            for c in columns:
                index = self.model.index(r, c)
                selected = whole_rows or selection.isSelected(index)
                cells.append(_tsv_cell(index.data()) if selected else "")
            lines.append("\t".join(cells))
        QGuiApplication.clipboard().setText("\n".join(lines) + "\n")
        self.statusBar().showMessage(f"Copied {len(rows):,} row(s)", 5000)

    def _header_text(self, column: int) -> str:
        return str(self.model.headerData(column, Qt.Orientation.Horizontal) or "")

    def copy_rows_as_csv(self) -> None:
        """The selected rows as CSV (the export's columns, quoting and formula guard)."""
        rows = self._selected_view_rows()
        if not rows or self._too_many_to_copy(rows):
            return
        records = np.array([self.model.record_index(r) for r in rows], dtype=np.int64)
        buffer = io.StringIO()
        write_csv([self.frame.take(records)], buffer, formula_guard=True)
        QGuiApplication.clipboard().setText(buffer.getvalue())
        self.statusBar().showMessage(f"Copied {len(rows):,} row(s) as CSV", 5000)

    def filter_on_current_value(self) -> None:
        """Set the current cell's column filter to the cell's value."""
        index = self.table.currentIndex()
        column = index.column()
        if not index.isValid():
            return
        record = self.model.record_index(index.row())
        if column == COL_TIME:
            moment = in_zone(self.frame["created_at"].iat[record].to_pydatetime(), self.tz)
            start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            self.header.set_filter(COL_TIME, (start, start + timedelta(days=1)))
        elif column == COL_ACTION:
            self.header.set_filter(COL_ACTION, [str(self.frame["action"].iat[record])])
        else:
            key = self.model.column(column).key
            if key in self.frame.columns:
                value = self.frame[key].iat[record]
                value = None if pd.isna(value) else str(value)
            else:  # an extra field: the text its cell shows is what its filter searches
                value = self.model.index(index.row(), column).data(Qt.ItemDataRole.DisplayRole)
            if value in (None, ""):
                return
            self.header.set_filter(column, "=" + quote_value(str(value)))

    # ------------------------------------------------------------------------------- menus

    def _table_menu(self, pos) -> None:
        menu = QMenu(self)
        for act in (self.act_copy, self.act_copy_csv, self.act_filter_value):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.act_clear)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _fill_columns_menu(self) -> None:
        """View → Columns and the toolbar's Columns: the header's own show/hide menu."""
        self._columns_source = self.header.column_menu()  # owns the actions; keep it alive
        self.columns_menu.clear()
        self.columns_menu.addActions(self._columns_source.actions())
        self.columns_menu.addSeparator()
        self.columns_menu.addAction(self.act_reset_columns)

    def _hide_new_columns(self, _parent: QModelIndex, first: int, last: int) -> None:
        """Extra-field columns a sync discovers start hidden, like at startup."""
        for column in range(first, last + 1):
            self.header.setSectionHidden(column, self.model.column(column).hidden)

    def reset_columns(self) -> None:
        """Default widths/order/visibility: Time, User, Action, Description; newest first."""
        header = self.header
        for column in range(self.model.columnCount()):
            header.moveSection(header.visualIndex(column), column)
            header.setSectionHidden(column, self.model.column(column).hidden)
        widths = {COL_TIME: 150, COL_USER: 200, COL_ACTION: 210, COL_DESCRIPTION: 240}
        for column, width in widths.items():
            header.resizeSection(column, width)
        self.table.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)

    def _fill_profiles_menu(self) -> None:
        self.profiles_menu.clear()
        try:
            names = sorted(set(self._store.profiles()) | set(load_profiles()))
        except Exception as exc:  # ConfigError/CacheError: show it in the menu, not a crash
            self.profiles_menu.addAction(f"Unavailable: {exc}").setEnabled(False)
            return
        for name in names:
            act = self.profiles_menu.addAction(name)
            act.setCheckable(True)
            act.setChecked(name == self._profile_name)
            act.triggered.connect(lambda _=False, n=name: self.switch_profile(n))
        if not names:
            self.profiles_menu.addAction("No profiles yet").setEnabled(False)

    def switch_profile(self, name: str) -> None:
        """Show another profile's cached events (and sync that profile from now on)."""
        if name == self._profile_name or self._sync is not None or self.loading:
            return
        self._profile_name = name
        self._profile = self._saved_profile(name)
        self._session_secret = None
        self.banner.hide()
        self.detail.show_record(None, self.tz)
        self._load_frame_from_store()
        self._profile_changed()

    def _saved_profile(self, name: str | None) -> Profile | None:
        """The saved profile of that name; None when there is none or the settings are broken."""
        if name is None:
            return None
        try:
            return load_profiles().get(name)
        except ConfigError as exc:
            self.banner.show_message(f"Saved profiles are unavailable: {exc}")
            return None

    # ------------------------------------------------------------------------------- view

    def set_utc(self, on: bool) -> None:
        """Show times in UTC (True) or the local zone; the Time header names the zone."""
        self._utc = bool(on)
        if self.act_utc.isChecked() != self._utc:
            self.act_utc.setChecked(self._utc)
            return
        self.model.set_utc(self._utc)
        self._settings.set_utc(self._utc)
        self._update_timeline()
        self._on_current_row(self.table.currentIndex())

    def _set_bom(self, on: bool) -> None:
        self._settings.set_bom(bool(on))

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        record = current.data(RecordRole) if current.isValid() else None
        if record is not None:
            record["raw"] = self._event_json(record)
        self.detail.show_record(record, self.tz)

    def _event_json(self, record: dict[str, object]) -> object:
        """The event's whole JSON: frames loaded from SQLite carry only its extra fields, and
        the detail pane shows and copies the event as it arrived. Other caches' frames have it
        already, so moving through rows costs them no query."""
        if self._profile_name is None or self._store.frames_hold_whole_json:
            return record["raw"]
        try:
            stored = self._store.event_json(self._profile_name, str(record["id"]))
        except CacheError:
            stored = None
        return record["raw"] if stored is None else stored

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.table
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and self.table.currentIndex().isValid()
        ):
            if not self.detail.isVisible():
                self.act_detail.setChecked(True)
            self.detail.findChild(QWidget, "detailText").setFocus(
                Qt.FocusReason.ShortcutFocusReason
            )
            return True
        return super().eventFilter(watched, event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._style_errors()
        super().changeEvent(event)

    # ------------------------------------------------------------------------------- settings

    def _column_key(self, column: int) -> str:
        return self.model.column(column).key

    def _restore_settings(self) -> None:
        s = self._settings
        geometry = s.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = s.window_state()
        if state is not None:
            self.restoreState(state)
        splitter = s.splitter_state()
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.act_timeline.setChecked(s.timeline_visible())
        self.act_detail.setChecked(s.detail_visible())
        self.timeline.setVisible(s.timeline_visible())
        self.detail.setVisible(s.detail_visible())
        self.act_bom.setChecked(s.bom())
        self.act_utc.setChecked(self._utc)
        self.model.set_utc(self._utc)
        self.reset_columns()
        table = s.table_state()
        if table is not None:
            self._apply_table_state(table)
        self.table.setSortingEnabled(True)

    def _apply_table_state(self, table: TableState) -> None:
        header = self.header
        keys = {self._column_key(c): c for c in range(self.model.columnCount())}
        ordered = sorted(
            (
                (state.visual, keys[key], state)
                for key, state in table.columns.items()
                if key in keys
            ),
        )
        for visual, column, state in ordered:
            if visual < header.count():
                header.moveSection(header.visualIndex(column), visual)
            header.setSectionHidden(column, state.hidden)
            if state.width > 0:
                header.resizeSection(column, state.width)
        if len(self._visible_columns()) == 0:
            header.setSectionHidden(COL_TIME, False)
        if table.sort_column in keys:
            order = (
                Qt.SortOrder.AscendingOrder
                if table.sort_ascending
                else Qt.SortOrder.DescendingOrder
            )
            self.table.sortByColumn(keys[table.sort_column], order)

    def _table_state(self) -> TableState:
        header = self.header
        columns = {
            self._column_key(c): ColumnState(
                visual=header.visualIndex(c),
                width=header.sectionSize(c) if not header.isSectionHidden(c) else 0,
                hidden=header.isSectionHidden(c),
            )
            for c in range(self.model.columnCount())
        }
        sort_column = header.sortIndicatorSection()
        return TableState(
            columns=columns,
            sort_column=self._column_key(sort_column)
            if 0 <= sort_column < self.model.columnCount()
            else None,
            sort_ascending=header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder,
        )

    def save_settings(self) -> None:
        s = self._settings
        s.save_window(self.saveGeometry(), self.saveState(), self.splitter.saveState())
        s.set_panes(timeline=self.act_timeline.isChecked(), detail=self.act_detail.isChecked())
        s.set_utc(self._utc)
        s.set_bom(self.act_bom.isChecked())
        s.set_table_state(self._table_state())
        s.sync()

    # ------------------------------------------------------------------------------- export

    def default_export_name(self) -> str:
        return f"audit-log-{datetime.now():%Y%m%d-%H%M}.csv"

    def export_csv(self) -> None:
        """Save exactly the rows shown, in the order shown, as CSV.

        Not while a filter does not parse: the table then shows an older result than the
        filters read, and a file of those rows would be mistaken for what was asked.
        """
        if self._export is not None:
            return
        if not self._filters.valid:
            self.banner.show_message(
                "Not saved: fix the filter marked in red first (the table still shows the "
                "result of the last valid filters)."
            )
            return
        folder = self._settings.export_dir() or str(Path.home())
        path_text, _ = QFileDialog.getSaveFileName(
            self,
            "Save as CSV",
            str(Path(folder) / self.default_export_name()),
            "CSV files (*.csv);;All files (*)",
        )
        if not path_text:
            return
        path = Path(path_text)
        if not path.suffix:
            path = path.with_suffix(".csv")
        self._settings.set_export_dir(str(path.parent))
        self.save_csv(path)

    def save_csv(self, path: Path) -> None:
        """Write the rows shown to ``path``, in a worker when they are many; exportFinished ends it.

        Save as CSV after its dialog, and what ``--self-check`` runs (it has no one to answer).
        """
        if self._export is not None:
            return
        rows = self.model.rowCount()
        chunks = self._export_chunks()
        bom = self.act_bom.isChecked()
        if rows <= BACKGROUND_EXPORT_ROWS:
            try:
                outcome = export_frames(chunks, path, bom=bom)
            except ExportError as exc:
                self._export_failed(str(exc), path)
                return
            self._export_done(outcome)
            return
        # Bound methods only: PySide runs a lambda connected to a worker's signal in the
        # worker's thread, where it must not touch widgets.
        worker = ExportWorker(chunks, path, bom=bom)
        worker.progress.connect(self._export_progress)
        worker.finished.connect(self._export_done)
        worker.failed.connect(self._export_worker_failed)
        self._export_target, self._export_total = path, rows
        self._export = WorkerThread(worker)
        self._busy(True, f"Saving {rows:,} events to {path.name}…", rows)
        self._export.start()

    def _export_chunks(self):
        """The shown rows in shown order, snapshotted now so later filtering cannot race."""
        return self.model.visible_frame_chunks(EXPORT_CHUNK)

    def _end_export(self) -> None:
        if self._export is not None:
            self._export.finish()
            self._export = None
            self._busy(False)

    def _export_done(self, outcome: ExportOutcome) -> None:
        self._end_export()
        if outcome.cancelled:
            self.statusBar().showMessage("Save as CSV cancelled; nothing was written.", 15_000)
        else:
            self.statusBar().showMessage(f"Saved {outcome.rows:,} events to {outcome.path}", 30_000)
        self.exportFinished.emit(outcome)

    def _export_progress(self, rows: int) -> None:
        total = self._export_total
        self.progress.setRange(0, total)
        self.progress.setValue(min(rows, total))
        self.progress.setFormat(f"Saving {rows:,} / {total:,}")

    def _export_worker_failed(self, message: str) -> None:
        self._export_failed(message, self._export_target)

    def _export_failed(self, message: str, path: Path | None) -> None:
        self._end_export()
        QMessageBox.critical(
            self,
            "Save as CSV failed",
            f"Could not save {path}.\n\n{message}\n\nNothing was written under that name.",
        )
        self.statusBar().showMessage(f"Save as CSV failed: {message}", 15_000)
        self.exportFinished.emit(None)

    # ------------------------------------------------------------------------------- sync

    def _secret(self) -> str | None:
        if self._session_secret:
            return self._session_secret
        profile = self._profile
        return get_secret(profile.name, secrets=self._secrets) if profile else None

    def start_sync(self, full: bool = False) -> None:
        """Run the sync engine in a worker thread; the table stays usable meanwhile."""
        if self._sync is not None:
            return
        if self.loading:
            self.statusBar().showMessage("Still loading the cache; sync once it is shown.", 5000)
            return
        profile = self._profile
        if profile is None:
            self.banner.show_message(
                "No profile to sync with: this window shows the cache only (offline).",
                ("New profile…", self.new_profile),
            )
            return
        secret = self._secret()
        if not secret:
            self.banner.show_message(
                f"No client secret for profile “{profile.name}”: store one in the profile "
                "settings (or set AUDIT_VIEWER_CLIENT_SECRET).",
                ("Open profile settings", self.edit_profile),
            )
            return
        self.banner.hide()
        worker = SyncWorker(cache_url=self._cache_url, profile=profile, secret=secret, full=full)
        worker.progress.connect(self._sync_progress)
        worker.waiting.connect(self._sync_waiting)
        worker.frameLoaded.connect(self.replace_frame)
        worker.finished.connect(self._sync_done)
        worker.failed.connect(self._sync_failed)
        self._sync = WorkerThread(worker)
        self._busy(True, "Syncing: connecting…", 0)
        self._sync.start()

    @property
    def sync_thread(self) -> WorkerThread | None:
        return self._sync

    def _sync_progress(self, p: SyncProgress) -> None:
        if self._sync is None:
            return
        if self._export is None:  # an export's progress wins the shared bar
            self.progress.setRange(0, p.ranges_total)
            self.progress.setValue(p.ranges_done)
            self.progress.setFormat(f"{p.events:,} events")
        self.syncProgress.emit(p)
        day = p.range_start.astimezone(self.tz).strftime("%Y-%m-%d")
        self.status_label.setText(
            f"Syncing: {p.events:,} events ({p.new_events:,} new) in {p.pages:,} pages · "
            f"at {day} · cache: {self._store.location}"
        )

    def _sync_waiting(self, seconds: float) -> None:
        if self._sync is not None:
            self.status_label.setText(
                f"Syncing: waiting for another program writing the cache ({seconds:.0f} s) · "
                f"cache: {self._store.location}"
            )

    def _end_sync(self) -> None:
        if self._sync is not None:
            self._sync.finish()
            self._sync = None
        self._busy(False)
        self._refresh_sync_phrase()

    def _sync_done(self, result: SyncResult) -> None:
        self._end_sync()
        what = "Sync cancelled" if result.cancelled else "Sync done"
        self.statusBar().showMessage(
            f"{what}: {result.new_events:,} new events, {result.total_cached:,} cached "
            f"({result.elapsed:.1f} s)",
            15_000,
        )
        self.syncFinished.emit(result)

    def _sync_failed(self, message: str) -> None:
        self._end_sync()  # the worker already sent what committed before the failure
        self.banner.show_message(
            f"Sync failed: {message} The cached events stay available.",
            ("Open profile settings", self.edit_profile),
        )
        self.syncFailed.emit(message)

    def cancel_running(self) -> None:
        """Cancel the sync or export in progress (both stop at their next page/chunk)."""
        for job in (self._sync, self._export):
            if job is not None:
                job.worker.cancel()
        self.progress.setFormat("Cancelling…")

    def _busy(self, on: bool, text: str = "", total: int = 0) -> None:
        """Show/hide the progress bar and Cancel, and enable the actions that fit the state."""
        syncing, exporting = self._sync is not None, self._export is not None
        running = syncing or exporting
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.act_cancel.setEnabled(running)
        self.act_sync.setEnabled(not syncing)
        self.act_full_sync.setEnabled(not syncing)
        self.act_export.setEnabled(not exporting)
        self.act_open.setEnabled(not running)
        if on:
            self.progress.setRange(0, total)
            self.progress.setValue(0)
            self.progress.setFormat("%p%" if total else "")
            self.status_label.setText(text)
        else:
            self._update_status()

    # ------------------------------------------------------------------------------- profiles

    def edit_profile(self) -> None:
        self._run_profile_dialog(self._profile)

    def new_profile(self) -> None:
        self._run_profile_dialog(None)

    def _run_profile_dialog(self, profile: Profile | None) -> None:
        dialog = ProfileDialog(profile, self._secrets, self)
        if dialog.exec() != ProfileDialog.DialogCode.Accepted or dialog.profile is None:
            return
        saved = dialog.profile
        if saved.name != self._profile_name:
            if self._sync is not None:
                self.statusBar().showMessage(
                    f"Saved profile {saved.name}; switch to it once the sync has finished.", 15_000
                )
                return
            self.switch_profile(saved.name)
        self._profile = saved
        if dialog.session_secret:
            self._session_secret = dialog.session_secret
        if saved.timezone.upper() == "UTC" and not self._utc:
            self.act_utc.setChecked(True)
        self.banner.hide()
        self._profile_changed()

    # ------------------------------------------------------------------------------- files

    def open_cache_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open cache",
            str(Path(self._store.location).parent),
            "Cache databases (*.sqlite3 *.sqlite *.db);;All files (*)",
        )
        if path:
            self.open_cache(path)

    def open_cache(self, url: str) -> None:
        """Switch to another cache file/URL; the current one stays open if that fails."""
        from audit_viewer.cache import resolve_cache_url

        if self._sync is not None or self._export is not None or self.loading:
            self.banner.show_message(
                "Wait for the sync, export or loading to finish before switching caches."
            )
            return
        resolved = resolve_cache_url(url)
        try:
            store = CacheStore.open_for_reading(resolved)
            profiles = store.profiles()
        except CacheError as exc:
            QMessageBox.critical(self, "Open cache", f"Could not open {url}.\n\n{exc}")
            return
        self._store.close()
        self._store, self._cache_url = store, resolved
        name = self._profile_name if self._profile_name in profiles else None
        if name is None and profiles:
            name = sorted(profiles)[0]
        self._profile_name = name
        self._profile = self._saved_profile(name)
        self.detail.show_record(None, self.tz)
        self._load_frame_from_store()
        self._profile_changed()

    # ------------------------------------------------------------------------------- help

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.actions(), self).exec()

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About audit-viewer",
            f"<b>audit-viewer {__version__}</b><p>Browse, search and archive the platform's "
            "audit trail: events sync into a local cache that outlives the platform's 90-day "
            f"retention.</p><p>Cache: {html.escape(self._store.location)}<br>"
            f"Settings: {html.escape(str(self._settings.path))}<br>"
            f"Log: {html.escape(str(logs.log_file()))}</p>",
        )

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
        for attr in ("_sync", "_export", "_load"):
            job: WorkerThread | None = getattr(self, attr)
            if job is not None:
                for signal in (job.worker.finished, job.worker.failed):
                    signal.disconnect()
                job.stop()
                setattr(self, attr, None)
        self.save_settings()
        self._store.close()
        for cleanup in self.on_close:
            try:
                cleanup()
            except Exception:
                log.exception("cleanup on close failed")


def _tsv_cell(value: object) -> str:
    """One TSV cell: tabs and newlines would break the grid, so they become spaces."""
    if value is None:
        return ""
    return str(value).replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
