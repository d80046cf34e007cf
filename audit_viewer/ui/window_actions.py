"""The window's commands (menus, toolbar, shortcuts), built in one place and listed in Ctrl+/."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QToolButton

from audit_viewer.ui.icons import icon
from audit_viewer.ui.log_menu import log_level_menu

K = QKeySequence.StandardKey
Shortcut = QKeySequence | QKeySequence.StandardKey | str | None

#: name -> (object name, text, shortcut, icon, checkable, tooltip). The slot of each comes from
#: the window, which owns the workflows they start.
SPECS: dict[str, tuple[str, str, Shortcut, str | None, bool, str | None]] = {
    "open": ("actOpenCache", "&Open cache…", K.Open, None, False, None),
    "export": (
        "actExport",
        "&Save as…",
        K.Save,
        "export",
        False,
        "Save the rows shown as CSV or JSON Lines",
    ),
    "bom": (
        "actBom",
        "Excel-compatible CSV (&BOM)",
        None,
        None,
        True,
        "Start CSV files with a UTF-8 byte order mark so Excel reads accents right",
    ),
    "quit": ("actQuit", "&Quit", "Ctrl+Q", None, False, None),
    "copy": ("actCopy", "&Copy", K.Copy, None, False, None),
    "copy_csv": ("actCopyCsv", "Copy row as C&SV", "Ctrl+Shift+C", None, False, None),
    "filter_value": (
        "actFilterValue",
        "&Filter on this value",
        "Ctrl+Shift+E",
        None,
        False,
        None,
    ),
    "find": ("actFind", "&Find…", K.Find, None, False, None),
    "filter_row": ("actFilterRow", "Filter &row", "Ctrl+Shift+F", None, False, None),
    "clear": ("actClearFilters", "C&lear filters", "Ctrl+Shift+L", "clear-filter", False, None),
    "timeline": ("actTimeline", "&Timeline", "Ctrl+Shift+T", None, True, None),
    "detail": ("actDetail", "&Detail pane", "Ctrl+Shift+D", None, True, None),
    "utc": ("actUtc", "Show times in &UTC", "Ctrl+Shift+U", "utc", True, None),
    "reset_columns": ("actResetColumns", "&Reset columns", None, None, False, None),
    "sort_up": (
        "actSortAscending",
        "Sort &ascending by this column",
        "Ctrl+Alt+Up",
        None,
        False,
        None,
    ),
    "sort_down": (
        "actSortDescending",
        "Sort d&escending by this column",
        "Ctrl+Alt+Down",
        None,
        False,
        None,
    ),
    "sort_then": (
        "actSortThen",
        "T&hen sort by this column",
        "Ctrl+Alt+Right",
        None,
        False,
        "Add the current column as the next sort key (again: flip it); Shift+click a header too",
    ),
    "sync": ("actSync", "&Sync now", "F5", "sync", False, "Fetch new events from the platform"),
    "full_sync": ("actFullSync", "&Full resync (90 days)", "Shift+F5", None, False, None),
    "cancel": (
        "actCancel",
        "&Cancel",
        "Ctrl+.",
        "cancel",
        False,
        "Cancel the running sync or export",
    ),
    "profile": ("actProfile", "&Profile settings…", K.Preferences, "settings", False, None),
    "new_profile": ("actNewProfile", "&New profile…", None, None, False, None),
    "shortcuts": ("actShortcuts", "&Keyboard shortcuts", "Ctrl+/", None, False, None),
    "about": ("actAbout", "&About audit-viewer", None, None, False, None),
}


class WindowActions:
    """Every command as a QAction attribute named after its key in :data:`SPECS`."""

    open: QAction
    export: QAction
    bom: QAction
    quit: QAction
    copy: QAction
    copy_csv: QAction
    filter_value: QAction
    find: QAction
    filter_row: QAction
    clear: QAction
    timeline: QAction
    detail: QAction
    utc: QAction
    reset_columns: QAction
    sort_up: QAction
    sort_down: QAction
    sort_then: QAction
    sync: QAction
    full_sync: QAction
    cancel: QAction
    profile: QAction
    new_profile: QAction
    shortcuts: QAction
    about: QAction

    def __init__(self, window: QMainWindow, slots: dict[str, Callable[..., object]]) -> None:
        assert slots.keys() == SPECS.keys(), "every command needs exactly one slot"
        for key, (name, text, shortcut, icon_name, checkable, tip) in SPECS.items():
            action = QAction(text, window)
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
            (action.toggled if checkable else action.triggered).connect(slots[key])
            window.addAction(action)  # shortcuts work even with the menu bar hidden
            setattr(self, key, action)
        if self.profile.shortcut().isEmpty():  # no platform Preferences key (Linux)
            self.profile.setShortcut(QKeySequence("Ctrl+,"))
        self.cancel.setEnabled(False)


def build_menus(window: QMainWindow, acts: WindowActions) -> tuple[QMenu, QMenu, QToolBar]:
    """The menu bar and the toolbar; returns the Cached profiles and Columns menus (filled
    when they open) and the toolbar."""
    menu = window.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addAction(acts.open)
    profiles_menu = file_menu.addMenu("Cached &profiles")
    file_menu.addSeparator()
    for act in (acts.export, acts.bom):
        file_menu.addAction(act)
    file_menu.addSeparator()
    file_menu.addAction(acts.quit)

    edit = menu.addMenu("&Edit")
    for act in (acts.copy, acts.copy_csv, acts.filter_value):
        edit.addAction(act)
    edit.addSeparator()
    for act in (acts.find, acts.filter_row, acts.clear):
        edit.addAction(act)

    view = menu.addMenu("&View")
    view.addAction(acts.timeline)
    view.addAction(acts.detail)
    view.addSeparator()
    view.addAction(acts.utc)
    columns_menu = view.addMenu("&Columns")
    columns_menu.setIcon(icon("columns"))
    sort_menu = view.addMenu("&Sort")
    for act in (acts.sort_up, acts.sort_down, acts.sort_then):
        sort_menu.addAction(act)

    sync = menu.addMenu("&Sync")
    for act in (acts.sync, acts.full_sync, acts.cancel):
        sync.addAction(act)
    sync.addSeparator()
    sync.addAction(acts.profile)
    sync.addAction(acts.new_profile)

    help_menu = menu.addMenu("&Help")
    help_menu.addAction(acts.shortcuts)
    help_menu.addMenu(log_level_menu(window))
    help_menu.addAction(acts.about)

    tools = window.addToolBar("Main")
    tools.setObjectName("mainToolbar")
    tools.setMovable(False)
    tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tools.addAction(acts.sync)
    tools.addAction(acts.cancel)
    tools.addSeparator()
    tools.addAction(acts.export)
    tools.addAction(acts.clear)
    columns_button = QToolButton(window)
    columns_button.setObjectName("columnsButton")
    # The arrow follows the text, as on the Action filter ("All ▾"); the style's own menu
    # indicator sat under the button's corner instead.
    columns_button.setText("Columns ▾")
    columns_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
    columns_button.setIcon(icon("columns"))
    columns_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    columns_button.setMenu(columns_menu)
    tools.addWidget(columns_button)
    tools.addAction(acts.utc)
    tools.addSeparator()
    tools.addAction(acts.profile)
    for act, name in ((acts.sync, "syncButton"), (acts.export, "exportButton")):
        tools.widgetForAction(act).setObjectName(name)
    tools.widgetForAction(acts.cancel).setObjectName("cancelButton")
    return profiles_menu, columns_menu, tools
