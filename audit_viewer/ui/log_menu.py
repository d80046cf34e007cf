"""Help → Log level: how much the log file records, saved as the ``log_level`` setting.

The choice applies at once and is what the next start uses; ``--log-level`` still wins for
the one run it is given to.
"""

from __future__ import annotations

from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from audit_viewer import logs
from audit_viewer.config import LOG_LEVELS, ConfigError, set_log_level

_DESCRIPTIONS = {
    "DEBUG": "&Debug: every request and page (for a bug report)",
    "INFO": "&Info: syncs, logins and errors",
    "WARNING": "&Warning: problems only",
    "ERROR": "&Error: failures only",
}


def log_level_menu(parent: QWidget) -> QMenu:
    """The submenu; its checked entry is the level the log file records now."""
    menu = QMenu("&Log level", parent)
    menu.setObjectName("logLevelMenu")
    group = QActionGroup(menu)
    group.setExclusive(True)
    for level in LOG_LEVELS:
        action = menu.addAction(_DESCRIPTIONS[level])
        action.setObjectName(f"actLogLevel{level.title()}")
        action.setData(level)
        action.setCheckable(True)
        group.addAction(action)
    menu.addSeparator()
    where = menu.addAction("")
    where.setObjectName("actLogFile")
    where.setEnabled(False)

    def refresh() -> None:
        current = logs.file_level()
        for action in group.actions():
            action.setChecked(action.data() == current)
        where.setText(f"Log file: {logs.log_file()}")

    def choose(action) -> None:
        level = action.data()
        logs.set_file_level(level)
        try:
            set_log_level(level)
        except ConfigError as exc:
            QMessageBox.warning(parent, "Log level", f"Used for this session only: {exc}")

    menu.aboutToShow.connect(refresh)
    group.triggered.connect(choose)
    refresh()
    return menu
