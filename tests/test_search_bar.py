"""The search bar: debounced query, Enter/Escape, inline error display."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeyEvent, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from audit_viewer.query import QueryError
from audit_viewer.ui.search_bar import SearchBar
from audit_viewer.ui.theme import error_color

pytestmark = pytest.mark.gui


@pytest.fixture
def bar(qtbot) -> SearchBar:
    widget = SearchBar()
    qtbot.addWidget(widget)
    return widget


def recorder(signal) -> list:
    seen: list = []
    signal.connect(seen.append)
    return seen


def test_named_with_an_example_and_a_clear_button(bar):
    assert bar.objectName() == "searchBar"
    assert "user:" in bar.placeholderText()
    assert bar.isClearButtonEnabled()
    assert "after:" in bar.toolTip()


def test_typing_emits_once_after_the_pause(bar, qtbot):
    emitted = recorder(bar.queryChanged)
    with qtbot.waitSignal(bar.queryChanged) as blocker:
        qtbot.keyClicks(bar, "user:alice -bot")
        assert emitted == []  # nothing while the keys are still coming
    assert blocker.args == ["user:alice -bot"]
    assert emitted == ["user:alice -bot"]
    assert bar.applied_text == "user:alice -bot"


def test_enter_applies_at_once_and_escape_clears(bar, qtbot):
    emitted = recorder(bar.queryChanged)
    qtbot.keyClicks(bar, "export")
    qtbot.keyClick(bar, Qt.Key.Key_Return)
    assert emitted == ["export"]  # no waiting for the timer
    with qtbot.assertNotEmitted(bar.queryChanged):
        qtbot.keyClick(bar, Qt.Key.Key_Return)  # the same query again: nothing new
    qtbot.keyClick(bar, Qt.Key.Key_Escape)
    assert bar.text() == ""
    assert emitted == ["export", ""]


def test_a_bad_query_shows_an_inline_error_and_is_not_applied(bar, qtbot):
    messages = recorder(bar.errorMessage)
    with (
        qtbot.assertNotEmitted(bar.queryChanged),
        qtbot.waitSignal(bar.errorMessage) as blocker,
    ):
        qtbot.keyClicks(bar, 'usr:alice "open')
    assert blocker.args == ["Unknown qualifier 'usr:' at position 0"]
    assert bar.error == QueryError("Unknown qualifier 'usr:'", 0)
    assert error_color(bar.palette()).name() in bar.styleSheet()
    tip = bar.toolTip()
    assert "Unknown qualifier" in tip and "usr:alice" in tip and "^" in tip
    with qtbot.waitSignal(bar.queryChanged) as blocker:
        bar.set_query('user:alice "open"')
    assert blocker.args == ['user:alice "open"']
    assert messages == ["Unknown qualifier 'usr:' at position 0", ""]
    assert bar.styleSheet() == ""
    assert "after:" in bar.toolTip()


def test_escape_clears_an_error(bar, qtbot):
    bar.set_query('"open')
    assert bar.error is not None
    with qtbot.waitSignal(bar.errorMessage) as blocker:
        qtbot.keyClick(bar, Qt.Key.Key_Escape)
    assert blocker.args == [""]
    assert bar.error is None and bar.styleSheet() == ""


def test_show_error_from_outside_and_its_colour_follows_the_palette(bar, qtbot):
    error = QueryError("Bad date 'x'", 6)
    with qtbot.waitSignal(bar.errorMessage) as blocker:
        bar.show_error(error)
    assert blocker.args == ["Bad date 'x' at position 6"]
    light_red = error_color(bar.palette()).name()
    assert light_red in bar.styleSheet()
    light = QApplication.palette()
    dark = QPalette(light)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#eeeeee"))
    QApplication.setPalette(dark)  # the desktop switched to a dark theme
    try:
        dark_red = error_color(dark).name()
        assert dark_red != light_red
        qtbot.waitUntil(lambda: dark_red in bar.styleSheet())  # palette changes are posted
    finally:
        QApplication.setPalette(light)
    qtbot.waitUntil(lambda: light_red in bar.styleSheet())
    with qtbot.assertNotEmitted(bar.errorMessage):
        bar.show_error(error)  # the same error again changes nothing
    with qtbot.waitSignal(bar.errorMessage):
        bar.show_error(None)
    assert bar.styleSheet() == ""


class _Window(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[int] = []

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.keys.append(event.key())


def test_escape_on_an_empty_bar_is_left_to_the_window(qtbot):
    window = _Window()
    qtbot.addWidget(window)
    bar = SearchBar(window)
    with qtbot.assertNotEmitted(bar.queryChanged):
        qtbot.keyClick(bar, Qt.Key.Key_Escape)
    assert window.keys == [Qt.Key.Key_Escape]
    bar.setText("x")
    qtbot.keyClick(bar, Qt.Key.Key_Escape)
    assert window.keys == [Qt.Key.Key_Escape]  # with text, Escape only clears the bar
