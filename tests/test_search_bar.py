"""The search bar: debounced query, Enter/Escape, inline error display."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeyEvent, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from audit_viewer.query import QUALIFIERS, QueryError
from audit_viewer.ui.search_bar import DEBOUNCE_MS, SEARCH_HELP, SearchBar
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


def test_the_pause_is_the_debounce_interval(bar, qtbot):
    """Typing restarts one single-shot timer of DEBOUNCE_MS; a key a second later is a pause."""
    from PySide6.QtCore import QTimer

    from audit_viewer.ui.search_bar import DEBOUNCE_MS

    assert 100 <= DEBOUNCE_MS <= 400
    qtbot.keyClicks(bar, "a")
    timers = [t for t in bar.findChildren(QTimer) if t.isActive()]
    assert [(t.interval(), t.isSingleShot()) for t in timers] == [(DEBOUNCE_MS, True)]


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


def test_it_hands_on_any_text_and_never_parses_it(bar, qtbot, monkeypatch):
    import audit_viewer.query as query

    monkeypatch.setattr(query, "parse_query", lambda *a, **k: pytest.fail("the bar parsed"))
    with qtbot.waitSignal(bar.queryChanged) as blocker:
        qtbot.keyClicks(bar, 'usr:alice "open')
    assert blocker.args == ['usr:alice "open']  # the filter state decides what it means


def test_show_query_renders_the_states_text_and_error_without_echo(bar, qtbot):
    error = QueryError("Unknown qualifier 'usr:'", 0)
    with qtbot.assertNotEmitted(bar.queryChanged):
        bar.show_query('usr:alice "open', error)
    assert bar.text() == 'usr:alice "open' and bar.error == error
    assert error_color(bar.palette()).name() in bar.styleSheet()
    tip = bar.toolTip()
    assert "Unknown qualifier &#x27;usr:&#x27; at character 1" in tip
    assert "<pre style='margin:0'>usr:alice &quot;open\n^</pre>" in tip  # caret under the u
    with qtbot.assertNotEmitted(bar.queryChanged):
        qtbot.keyClick(bar, Qt.Key.Key_Return)  # the rendered text counts as handed on
    bar.show_query("user:alice", None)
    assert bar.styleSheet() == "" and "after:" in bar.toolTip()


def test_a_rendered_state_drops_a_pending_keystroke_pause(bar, qtbot):
    qtbot.keyClicks(bar, "ali")
    bar.show_query("", None)  # e.g. Clear filters while the pause was running
    with qtbot.assertNotEmitted(bar.queryChanged, wait=400):
        pass
    assert bar.text() == ""


def test_the_error_colour_follows_the_palette(bar, qtbot):
    error = QueryError("Bad date 'x'", 6)
    bar.show_error(error)
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


def test_the_clear_button_goes_when_the_state_empties_the_bar(bar, qtbot):
    from PySide6.QtWidgets import QToolButton

    qtbot.keyClicks(bar, "alice")
    (clear,) = bar.findChildren(QToolButton)  # the line edit's own clear button, which fades
    qtbot.waitUntil(lambda: clear.property("opacity") == 1.0, timeout=3000)
    emitted = recorder(bar.queryChanged)
    bar.show_query("", None)  # Clear filters, rendered back into the bar
    qtbot.waitUntil(lambda: clear.property("opacity") == 0.0, timeout=3000)
    qtbot.wait(DEBOUNCE_MS * 2)
    assert emitted == []  # rendering hands nothing back


def test_the_search_help_names_every_qualifier_with_an_example() -> None:
    missing = [name for name in QUALIFIERS if f"{name}:" not in SEARCH_HELP]
    assert missing == []
