"""A message above the table (a sync error, a missing secret, the first-run welcome)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from audit_viewer.ui import theme

#: The first start's message, before any profile exists.
WELCOME = (
    "Welcome: no profile is set up yet. Add one with the platform's base URL and an API client "
    "to sync the audit trail, or start “audit-viewer --demo” to try the app on synthetic events."
)


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
