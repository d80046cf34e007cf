"""The note over an empty table: "No events match", with the way out next to it.

A blank table after a search reads like a broken window or an empty cache; this says what
happened and offers Clear filters (the window's action, so its shortcut shows on the button).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

NO_MATCH_TEXT = "No events match these filters."


class NoMatchOverlay(QWidget):
    """Covers ``viewport`` (following its size) while shown; hidden by default."""

    def __init__(self, viewport: QWidget, clear: QAction) -> None:
        super().__init__(viewport)
        self.setObjectName("noMatch")
        label = QLabel(NO_MATCH_TEXT, self)
        label.setObjectName("noMatchText")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QToolButton(self)
        button.setObjectName("noMatchClear")
        button.setDefaultAction(clear)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(label)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        viewport.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and isinstance(watched, QWidget):
            self.setGeometry(watched.rect())
        return False

    def setVisible(self, visible: bool) -> None:
        if visible:
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect())
        super().setVisible(visible)
