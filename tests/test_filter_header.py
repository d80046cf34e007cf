"""The filter row under the table's column titles, driven the way a user drives it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QDate, QDateTime, QEvent, Qt, QTime, QTimeZone
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QLineEdit, QTableView, QVBoxLayout, QWidget

from audit_viewer.events import normalize_event
from audit_viewer.filters import FilterState
from audit_viewer.frame import frame_from_events
from audit_viewer.ui.filter_header import (
    ActionFilterButton,
    FilterHeader,
    TimeFilterCombo,
    TimeRangeDialog,
)
from audit_viewer.ui.search_bar import QueryLineEdit
from audit_viewer.ui.table_model import (
    COL_ACTION,
    COL_DESCRIPTION,
    COL_EMAIL,
    COL_ID,
    COL_TIME,
    COL_USER,
    EventTableModel,
)

# The offscreen platform says "This plugin does not support propagateSizeHints()" (or raise(),
# or grabbing the keyboard) whenever a window with a layout or a popup is shown: not a defect.
pytestmark = [pytest.mark.gui, pytest.mark.qt_log_ignore("This plugin does not support")]

FACETS = {"User logged in": 12, "Export SBOM": 3, "Deleted API key": 0}


def make_frame():
    raws = [
        {
            "id": f"e{i}",
            "created_at": f"2026-11-0{i + 1}T10:00:00Z",
            "user_email": f"user{i}@example.com",
            "actor_type": "user",
            "action": list(FACETS)[i % 3],
            "description": f"Reason: 'r{i}'",
            "ip_address": f"10.0.0.{i}",
        }
        for i in range(6)
    ]
    return frame_from_events(normalize_event(r) for r in raws)


class WindowStandIn:
    """Plays the window's part: keeps each state the header proposes and renders it back."""

    def __init__(self, header: FilterHeader) -> None:
        self.header = header
        self.state = FilterState()
        self._facets = lambda: FACETS
        header.stateEdited.connect(self.keep)
        self.render()

    def keep(self, state: FilterState) -> None:
        self.state = state
        self.render()

    def set_facets(self, facets) -> None:
        self._facets = facets if callable(facets) else lambda: facets
        self.render()

    def render(self) -> None:
        self.header.show_state(self.state, self._facets)


@pytest.fixture
def table(qtbot):
    """A window with a line edit above a table using the filter header, shown offscreen."""
    window = QWidget()
    layout = QVBoxLayout(window)
    above = QLineEdit(window)
    above.setObjectName("above")
    layout.addWidget(above)
    view = QTableView(window)
    layout.addWidget(view)
    header = FilterHeader(view)
    view.setHorizontalHeader(header)
    model = EventTableModel(make_frame())
    view.setModel(model)
    header.setStretchLastSection(False)
    for column in range(model.columnCount()):
        view.setColumnWidth(column, 160)
    header.stand_in = WindowStandIn(header)
    qtbot.addWidget(window)
    window.resize(700, 300)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitActive(window):
        window.activateWindow()
    yield view, header, model
    # Delete the C++ widgets while their Python wrappers still exist, not later in another test.
    window.close()
    window.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def text_editor(header: FilterHeader, column: int) -> QueryLineEdit:
    editor = header.editor(column)
    assert isinstance(editor, QueryLineEdit)
    return editor


def test_each_visible_column_has_its_editor_under_the_title(table):
    _, header, model = table
    assert isinstance(header.editor(COL_TIME), TimeFilterCombo)
    assert isinstance(header.editor(COL_ACTION), ActionFilterButton)
    for column in (COL_USER, COL_DESCRIPTION, COL_ID, COL_EMAIL):
        assert text_editor(header, column).placeholderText() == "Filter…"
    extra = model.column_of("ip_address")
    assert extra is not None and isinstance(header.editor(extra), QueryLineEdit)
    # Hidden-by-default columns hide their editors; visible ones sit under their section.
    assert header.isSectionHidden(COL_ID) and not header.editor(COL_ID).isVisible()
    title_bottom = header.viewport().geometry().bottom()
    for column in (COL_TIME, COL_USER, COL_ACTION):
        editor = header.editor(column)
        assert editor.isVisible()
        assert editor.geometry().top() > title_bottom
        assert editor.geometry().bottom() < header.height()
        assert editor.x() == header.sectionViewportPosition(column) + 1
    assert header.height() >= header.editor(COL_USER).height() + 16  # title above the row


def test_editors_follow_resize_move_hide_and_horizontal_scroll(table, qtbot):
    view, header, _ = table
    header.resizeSection(COL_TIME, 240)
    assert header.editor(COL_USER).x() == 241
    assert header.editor(COL_TIME).width() == 238
    header.moveSection(header.visualIndex(COL_DESCRIPTION), 0)
    assert header.editor(COL_DESCRIPTION).x() == 1
    assert header.editor(COL_TIME).x() == header.sectionViewportPosition(COL_TIME) + 1
    header.setSectionHidden(COL_ID, False)
    assert header.editor(COL_ID).isVisible()
    view.horizontalScrollBar().setValue(view.horizontalScrollBar().maximum())
    assert header.offset() > 0
    for column in (COL_TIME, COL_USER, COL_ID):
        assert header.editor(column).x() == header.sectionViewportPosition(column) + 1
    header.setSectionHidden(COL_USER, True)
    assert not header.editor(COL_USER).isVisible()


def test_typing_in_a_text_filter_applies_it_after_the_pause(table, qtbot):
    _, header, _ = table
    editor = text_editor(header, COL_USER)
    emitted = []
    header.stateEdited.connect(emitted.append)
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClicks(editor, "alice -bot")
    assert len(emitted) == 1  # one change for the whole burst of keys
    assert header.stand_in.state.text_filters == {"user": "alice -bot"}
    assert editor.font().bold()
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClicks(text_editor(header, COL_DESCRIPTION), "\"Reason: 'r1'\"")
    assert header.stand_in.state.text_filters == {
        "user": "alice -bot",
        "description": "\"Reason: 'r1'\"",
    }
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert header.stand_in.state.text_filters == {"description": "\"Reason: 'r1'\""}
    assert not editor.font().bold()


def test_an_invalid_text_filter_is_marked_with_the_states_error(table, qtbot):
    _, header, _ = table
    editor = text_editor(header, COL_USER)
    header.set_filter(COL_USER, "alice")
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClicks(editor, ' "open')
    # The state holds what the user typed and its error; the header shows the error.
    assert header.stand_in.state.text_filters == {"user": 'alice "open'}
    assert "Unterminated quote at character 7" in editor.toolTip()
    assert "border" in editor.styleSheet()
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClicks(editor, '"')
    assert editor.styleSheet() == ""
    assert header.stand_in.state.text_filters == {"user": 'alice "open"'}


def test_choosing_a_time_preset_in_the_combo(table, qtbot):
    _, header, _ = table
    combo = header.editor(COL_TIME)
    combo.setFocus()
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == "Last 24 hours"
    assert header.stand_in.state.time_preset == "24h"
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert header.stand_in.state.time_preset == "7d"
    assert combo.font().bold()
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(COL_TIME, "all")
    assert header.stand_in.state.time_preset is None
    assert combo.currentText() == "All time"
    with pytest.raises(ValueError, match="preset"):
        header.set_filter(COL_TIME, "3y")


def test_a_custom_range_set_like_the_timeline_does(table, qtbot):
    _, header, model = table
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC)
    model.set_utc(True)
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(COL_TIME, (start, end))
    parts = header.stand_in.state
    assert parts.time_range == (start, end) and parts.time_preset is None
    combo = header.editor(COL_TIME)
    assert combo.currentText() == "2026-11-01 – 11-08"  # the shared year once: it fits
    tip = combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)
    assert tip == "2026-11-01 – 2026-11-08"
    assert combo.fontMetrics().horizontalAdvance(combo.currentText()) < 140
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(COL_TIME, (datetime(2025, 12, 30, tzinfo=UTC), end))
    assert combo.currentText() == "2025-12-30 – 2026-11-08"  # years differ: both named
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(COL_TIME, "30d")
    assert header.stand_in.state.time_range is None
    assert combo.findText("2026-11-01 – 11-08") == -1


def test_custom_range_dialog_from_the_combo(table, qtbot):
    _, header, model = table
    model.set_utc(True)
    combo = header.editor(COL_TIME)
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_End)  # "Custom range…" is the last entry
    dialog = header.window().findChild(TimeRangeDialog)
    assert dialog is not None and dialog.isVisible()
    utc = QTimeZone(QTimeZone.Initialization.UTC)
    dialog.start_edit.setDateTime(QDateTime(QDate(2026, 10, 1), QTime(8, 30), utc))
    dialog.end_edit.setDateTime(QDateTime(QDate(2026, 10, 2), QTime(0, 0), utc))
    with qtbot.waitSignal(header.stateEdited):
        dialog.accept()
    assert header.stand_in.state.time_range == (
        datetime(2026, 10, 1, 8, 30, tzinfo=UTC),
        datetime(2026, 10, 2, tzinfo=UTC),
    )
    assert combo.currentText() == "2026-10-01 08:30 – 10-02 00:00"


def test_cancelling_the_range_dialog_keeps_the_previous_choice(table, qtbot):
    _, header, _ = table
    header.set_filter(COL_TIME, "7d")
    combo = header.editor(COL_TIME)
    combo.setFocus()
    with qtbot.assertNotEmitted(header.stateEdited):
        qtbot.keyClick(combo, Qt.Key.Key_End)
        dialog = header.window().findChild(TimeRangeDialog)
        dialog.start_edit.setDateTime(dialog.end_edit.dateTime())
        assert not dialog._buttons.button(dialog._buttons.StandardButton.Ok).isEnabled()
        dialog.reject()
    assert combo.currentText() == "Last 7 days"


def test_ticking_actions_in_the_checklist(table, qtbot):
    _, header, _ = table
    button = header.editor(COL_ACTION)
    assert button.text().startswith("All")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    popup = button.popup
    assert popup.isVisible()
    texts = [popup.list.item(i).text() for i in range(popup.list.count())]
    assert texts == ["User logged in  (12)", "Export SBOM  (3)", "Deleted API key  (0)"]
    # A click anywhere on the row unticks it.
    rect = popup.list.visualItemRect(popup.list.item(0))
    with qtbot.waitSignal(header.stateEdited):
        qtbot.mouseClick(popup.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert header.stand_in.state.actions == frozenset({"Export SBOM", "Deleted API key"})
    assert button.text().startswith("2 of 3")
    assert button.font().bold()
    # The find box narrows the list; Down then Space ticks from the keyboard.
    qtbot.keyClicks(popup.find, "user")
    assert [popup.list.item(i).isHidden() for i in range(3)] == [False, True, True]
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClick(popup.find, Qt.Key.Key_Down)
        qtbot.keyClick(popup.list, Qt.Key.Key_Space)
    assert header.stand_in.state.actions is None
    with qtbot.waitSignal(header.stateEdited):
        qtbot.mouseClick(popup.none_button, Qt.MouseButton.LeftButton)
    assert header.stand_in.state.actions == frozenset()
    assert button.text().startswith("None")
    with qtbot.waitSignal(header.stateEdited):
        qtbot.mouseClick(popup.all_button, Qt.MouseButton.LeftButton)
    assert header.stand_in.state.actions is None


def test_enter_in_the_find_box_keeps_only_the_matching_actions(table, qtbot):
    _, header, _ = table
    button = header.editor(COL_ACTION)
    button.setFocus()
    qtbot.keyClick(button, Qt.Key.Key_Space)
    popup = button.popup
    assert popup.isVisible()
    qtbot.keyClicks(popup.find, "sbom")
    with qtbot.waitSignal(header.stateEdited):
        qtbot.keyClick(popup.find, Qt.Key.Key_Return)
    assert header.stand_in.state.actions == frozenset({"Export SBOM"})
    assert not popup.isVisible()
    assert button.text().startswith("Export SBOM")


def test_facets_update_counts_and_keep_ticked_actions(table, qtbot):
    _, header, _ = table
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(COL_ACTION, ["Export SBOM", "Gone action"])
    header.stand_in.set_facets({"User logged in": 1, "Export SBOM": 0})
    header.editor(COL_ACTION).open_popup()
    popup = header.editor(COL_ACTION).popup
    states = {
        popup.list.item(i).text(): popup.list.item(i).checkState()
        for i in range(popup.list.count())
    }
    assert states == {
        "User logged in  (1)": Qt.CheckState.Unchecked,
        "Export SBOM  (0)": Qt.CheckState.Checked,
        "Gone action  (0)": Qt.CheckState.Checked,
    }
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(COL_ACTION, None)
    assert header.stand_in.state.actions is None


def test_clear_filters_resets_everything_with_one_signal(table, qtbot):
    _, header, _ = table
    header.set_filter(COL_USER, "alice")
    header.set_filter(COL_TIME, "90d")
    header.set_filter(COL_ACTION, ["Export SBOM"])
    assert header.has_active_filters()
    emitted = []
    header.stateEdited.connect(lambda _state: emitted.append(True))
    header.clear_filters()
    assert emitted == [True]
    assert header.stand_in.state == FilterState()
    assert text_editor(header, COL_USER).text() == ""
    assert header.editor(COL_TIME).currentText() == "All time"
    assert not any(header.editor(c).font().bold() for c in (COL_USER, COL_TIME, COL_ACTION))
    header.clear_filters()
    assert emitted == [True]  # nothing to clear, nothing emitted


def test_an_active_filter_is_marked_in_the_title_and_the_editor(table, qtbot):
    _, header, _ = table
    editor = text_editor(header, COL_USER)
    plain_base = editor.palette().color(editor.palette().ColorRole.Base)
    before = header.viewport().grab().toImage()
    header.set_filter(COL_USER, "alice")
    assert editor.font().weight() == QFont.Weight.Bold
    assert editor.palette().color(editor.palette().ColorRole.Base) != plain_base
    after = header.viewport().grab().toImage()
    x0, x1 = header.sectionViewportPosition(COL_USER), header.sectionViewportPosition(COL_ACTION)
    changed = sum(
        before.pixel(x, y) != after.pixel(x, y)
        for x in range(x0, x1)
        for y in range(after.height())
    )
    assert changed > 10  # the funnel glyph appeared in the User title


def test_focus_filters_and_tab_walks_the_row_then_the_table(table, qtbot):
    view, header, _ = table
    view.setTabKeyNavigation(False)  # Tab leaves the table instead of walking its cells
    header.moveSection(header.visualIndex(COL_DESCRIPTION), 1)  # Time, Description, User, Action
    header.update_tab_order()
    header.focus_filters()
    assert header.editor(COL_TIME).hasFocus()
    walk = []
    for _ in range(4):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        walk.append(QApplication.focusWidget())
    extra = header.editor(header.model().column_of("ip_address"))
    assert walk[:3] == [
        header.editor(COL_DESCRIPTION),
        header.editor(COL_USER),
        header.editor(COL_ACTION),
    ]
    assert walk[3] is view and extra.isHidden()
    qtbot.keyClick(view, Qt.Key.Key_Backtab)
    assert header.editor(COL_ACTION).hasFocus()


def test_context_menu_shows_and_hides_columns(table, qtbot):
    _, header, _ = table
    menu = header.column_menu()
    by_title = {a.text(): a for a in menu.actions() if a.text()}
    assert not by_title["ID"].isChecked() and by_title["User"].isChecked()
    assert not by_title["Clear all filters"].isEnabled()
    by_title["ID"].trigger()
    assert not header.isSectionHidden(COL_ID)
    header.set_filter(COL_USER, "alice")
    with qtbot.waitSignal(header.stateEdited):
        header.column_menu().actions()[COL_USER].trigger()  # hiding drops the unseen filter
    assert header.isSectionHidden(COL_USER)
    assert header.stand_in.state.text_filters == {}


def test_extra_field_filters_are_keyed_by_the_field(table, qtbot):
    _, header, model = table
    column = model.column_of("ip_address")
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(column, "10.0.0.1")
    assert header.stand_in.state.text_filters == {"ip_address": "10.0.0.1"}
    with pytest.raises(IndexError):
        header.set_filter(99, "x")


def test_active_marks_follow_a_switch_to_a_dark_palette(table, qtbot):
    _, header, _ = table
    header.set_filter(COL_USER, "alice")
    editor = text_editor(header, COL_USER)
    base = editor.palette().ColorRole.Base
    light_tint = editor.palette().color(base)
    light = QApplication.palette()
    dark = QPalette(light)
    for role, color in ((base, "#1b1b1b"), (QPalette.ColorRole.Window, "#202020"),
                        (QPalette.ColorRole.WindowText, "#eeeeee")):  # fmt: skip
        dark.setColor(role, QColor(color))
    QApplication.setPalette(dark)
    try:
        qtbot.waitUntil(lambda: editor.palette().color(base).lightness() < 100)
        assert editor.palette().color(base) != QColor("#1b1b1b")  # still tinted, now dark
        assert text_editor(header, COL_ID).palette().color(base) == QColor("#1b1b1b")  # untinted
    finally:
        QApplication.setPalette(light)
    qtbot.waitUntil(lambda: editor.palette().color(base) == light_tint)


def test_actions_are_counted_only_when_the_checklist_is_seen(table, qtbot):
    _, header, _ = table
    calls = []

    def count():
        calls.append(1)
        return {"User logged in": 7, "Export SBOM": 2}

    header.stand_in.set_facets(count)  # e.g. a keystroke in the search bar: nobody sees counts
    assert calls == []
    button = header.editor(COL_ACTION)
    button.open_popup()
    texts = [button.popup.list.item(i).text() for i in range(button.popup.list.count())]
    assert texts == ["User logged in  (7)", "Export SBOM  (2)"] and len(calls) == 1
    header.stand_in.set_facets(count)  # while it is open, every change recounts
    assert len(calls) == 2
    button.popup.close()
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(COL_ACTION, ["User logged in", "Export SBOM"])
    assert button.text() == "2 of 2 ▾"


def test_the_action_checklist_fits_its_longest_row(table, qtbot):
    _, header, _ = table
    long_name = "Export Compliance report failure (whole org)"  # wider than the column
    header.stand_in.set_facets({long_name: 12_345, "Export SBOM": 3})
    editor = header.editor(COL_ACTION)
    editor.open_popup()
    popup = editor.popup
    row = next(
        popup.list.item(i)
        for i in range(popup.list.count())
        if popup.list.item(i).text().startswith("Export Compliance")
    )
    needed = popup.list.fontMetrics().horizontalAdvance(row.text())
    assert needed > editor.width()
    assert popup.list.viewport().width() >= needed  # name and count whole
    assert popup.list.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    popup.hide()


def test_actions_that_embed_a_value_are_one_family_row(table, qtbot):
    _, header, _ = table
    removed = ["Removed user a@x.com from account", "Removed user b@y.org from account"]
    header.stand_in.set_facets({removed[0]: 2, removed[1]: 3, "Export SBOM": 1})
    editor = header.editor(COL_ACTION)
    editor.open_popup()
    popup = editor.popup
    rows = {popup.list.item(i).text(): popup.list.item(i) for i in range(popup.list.count())}
    assert set(rows) == {"Removed user … from account  (5)", "Export SBOM  (1)"}
    family_row = rows["Removed user … from account  (5)"]
    assert "a@x.com" in family_row.toolTip() and "b@y.org" in family_row.toolTip()
    with qtbot.waitSignal(header.stateEdited):
        family_row.setCheckState(Qt.CheckState.Unchecked)  # the whole family at once
    assert header.stand_in.state.actions == frozenset({"Export SBOM"})
    popup.hide()
    with qtbot.waitSignal(header.stateEdited):  # "Filter on this value": one member only
        header.set_filter(COL_ACTION, [removed[0]])
    assert editor.text().startswith(removed[0])
    editor.open_popup()
    rows = {popup.list.item(i).text(): popup.list.item(i) for i in range(popup.list.count())}
    assert rows["Removed user … from account  (5)"].checkState() == Qt.CheckState.PartiallyChecked
    assert popup.selection() == frozenset({removed[0]})  # a partly ticked family keeps its part
    popup.hide()
    with qtbot.waitSignal(header.stateEdited):
        header.set_filter(COL_ACTION, removed)
    assert editor.text() == "Removed user … from account ▾"
