"""The columnar event table model: sorting, filtering, zones, tooltips, selection, highlight."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QTableView

from audit_viewer.events import normalize_event
from audit_viewer.filters import FilterState
from audit_viewer.frame import extra_field_values, frame_from_events
from audit_viewer.ui.highlight import HighlightDelegate
from audit_viewer.ui.table_model import (
    COL_ACTION,
    COL_ACTOR,
    COL_DESCRIPTION,
    COL_EMAIL,
    COL_ID,
    COL_TIME,
    COL_USER,
    EventIndexRole,
    EventTableModel,
    HighlightRole,
    RecordRole,
    SortRole,
)
from audit_viewer.ui.theme import match_highlight_color

pytestmark = pytest.mark.gui

ASC = Qt.SortOrder.AscendingOrder
DESC = Qt.SortOrder.DescendingOrder
H = Qt.Orientation.Horizontal
TOOLTIP = Qt.ItemDataRole.ToolTipRole


def event(event_id: str, created_at: str, **fields) -> dict:
    base = {
        "id": event_id,
        "created_at": created_at,
        "user_name": "Alice Smith",
        "user_email": "alice@example.com",
        "actor_type": "user",
        "action": "User logged in",
        "description": "",
    }
    base.update(fields)
    return base


def frame(*events: dict):
    return frame_from_events(normalize_event(e) for e in events)


# fmt: off
EVENTS = [
    # Different offsets: 10:00+02:00 is 08:00Z, earlier than 09:00Z.
    event("e1", "2026-11-02T10:00:00+02:00", action="Export SBOM", user_name="bob",
          user_email="Bob@example.com", description="line one\nline two",
          metadata={"bytes": 2**31 + 5}, ip_address="10.0.0.2"),
    event("e2", "2026-11-02T09:00:00Z", action="User logged in", user_email=None,
          user_name="carol", metadata={"bytes": 7}),
    event("e3", "2026-11-01T23:30:00-05:00", action="Export SBOM", actor_type="system",
          metadata={"bytes": 2**40}),
    event("e4", "2026-11-02T09:00:00Z", action="Ticket created", user_email="alice@example.com",
          metadata={"bytes": 2**33}, ip_address="10.0.0.1"),
    event("e5", "2026-11-01T00:00:00Z", action="Export SBOM", actor_type="scm",
          user_name="dave-bot", user_email=None),
]
# fmt: on


@pytest.fixture
def model(qtbot) -> EventTableModel:
    m = EventTableModel(frame(*EVENTS))
    m.set_timezone(ZoneInfo("UTC"))
    return m


def ids(model: EventTableModel) -> list[str]:
    return [model.record(r)["id"] for r in range(model.rowCount())]


def column_of(model: EventTableModel, key: str) -> int:
    column = model.column_of(key)
    assert column is not None, key
    return column


def test_qmodeltester_accepts_an_empty_and_a_populated_model(qtmodeltester, model):
    qtmodeltester.check(EventTableModel())
    qtmodeltester.check(model)
    # The tester keeps watching: sorting, filtering and a new frame must keep the model sane.
    model.sort(COL_USER, ASC)
    model.set_mask(np.array([True, False, True, False, True]))
    model.set_frame(frame(*EVENTS[:3]))
    model.sort(column_of(model, "metadata.bytes"), DESC)
    model.set_utc(True)
    model.set_highlight(["alice"])


def test_default_order_is_newest_first_and_time_sorts_chronologically(model):
    # e1 (08:00Z) is older than e2/e4 (09:00Z) although its local clock says 10:00.
    assert ids(model) == ["e2", "e4", "e1", "e3", "e5"]
    model.sort(COL_TIME, ASC)
    assert ids(model) == ["e5", "e3", "e1", "e2", "e4"]  # ties keep frame order (id asc)
    model.sort(COL_TIME, DESC)
    assert ids(model) == ["e2", "e4", "e1", "e3", "e5"]
    assert model.headerData(COL_TIME, H, Qt.ItemDataRole.InitialSortOrderRole) == DESC


def test_sorting_is_stable_in_both_directions(model):
    model.sort(COL_ACTION, ASC)
    # Three "Export SBOM" events stay newest first inside their group.
    assert ids(model) == ["e1", "e3", "e5", "e4", "e2"]
    model.sort(COL_ACTION, DESC)
    assert ids(model) == ["e2", "e4", "e1", "e3", "e5"]


@pytest.mark.parametrize(
    ("column", "ascending", "descending"),
    [
        # alice@example.com, Bob@example.com, carol, dave-bot (scm), System
        (COL_USER, ["e4", "e1", "e2", "e5", "e3"], ["e3", "e5", "e2", "e1", "e4"]),
        (COL_ID, ["e1", "e2", "e3", "e4", "e5"], ["e5", "e4", "e3", "e2", "e1"]),
        # scm, system, then the three users in frame order both ways (stable)
        (COL_ACTOR, ["e5", "e3", "e2", "e4", "e1"], ["e2", "e4", "e1", "e3", "e5"]),
        # alice x2 (stable), Bob, then the two without an email last both ways
        (COL_EMAIL, ["e4", "e3", "e1", "e2", "e5"], ["e1", "e4", "e3", "e2", "e5"]),
    ],
)
def test_text_columns_sort_case_insensitively_both_ways(model, column, ascending, descending):
    model.sort(column, ASC)
    assert ids(model) == ascending
    model.sort(column, DESC)
    assert ids(model) == descending


def test_description_sorts_and_shows_one_line_with_the_full_text_in_the_tooltip(model):
    model.sort(COL_DESCRIPTION, DESC)
    top = model.index(0, COL_DESCRIPTION)
    assert model.record(0)["id"] == "e1"
    assert top.data() == "line one ⏎ line two"
    assert "line one\nline two" in top.data(TOOLTIP)


def test_extra_int_field_beyond_2_31_sorts_numerically(model):
    column = column_of(model, "metadata.bytes")
    assert model.column(column).hidden  # extra fields start hidden
    model.sort(column, ASC)
    assert ids(model) == ["e2", "e1", "e4", "e3", "e5"]  # 7 < 2^31+5 < 2^33 < 2^40, missing last
    assert model.index(2, column).data() == str(2**33)
    assert model.index(3, column).data(SortRole) == 2**40
    model.sort(column, DESC)
    assert ids(model) == ["e3", "e4", "e1", "e2", "e5"]


def test_extra_field_with_mixed_json_types_sorts_numbers_then_text(qtbot):
    values = [2**62, "b", 3, None, "A", 2**64]
    events = [event(f"m{i}", f"2026-11-0{i + 1}T00:00:00Z", size=v) for i, v in enumerate(values)]
    model = EventTableModel(frame(*events))
    column = column_of(model, "size")
    model.sort(column, ASC)
    assert [model.index(r, column).data(SortRole) for r in range(6)] == [
        3, 2**62, 2**64, "A", "b", None,
    ]  # fmt: skip
    model.sort(column, DESC)
    assert [model.index(r, column).data(SortRole) for r in range(6)] == [
        "b", "A", 2**64, 2**62, 3, None,
    ]  # fmt: skip


def shown_column(model: EventTableModel, column: int) -> list[str]:
    return [model.index(r, column).data() for r in range(model.rowCount())]


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("ip_address", "10.0.0", ["10.0.0.1", "10.0.0.2"]),
        ("ip_address", "-10.0.0.1", ["", "10.0.0.2", "", ""]),  # without one: not matching
        ("metadata.bytes", "3", [str(2**33), str(2**31 + 5)]),  # digits as shown, not 2**40
    ],
)
def test_a_filter_under_an_extra_field_column_keeps_the_rows_whose_cells_match(
    model, key, text, expected
):
    column = column_of(model, key)
    filters = FilterState(text_filters={key: text})
    assert filters.errors == {}
    model.set_mask(filters.mask(model.frame))
    assert shown_column(model, column) == expected


def test_extra_field_filters_search_exactly_the_text_the_cells_show(qtbot):
    values = [2**64, "Mixed", 7, 0.5, True, None, {"deep": [1, "x"]}, "10.0.0.1"]
    events = [
        event(f"m{i}", f"2026-11-0{i + 1}T00:00:00Z", size=v, nested={"size": v})
        for i, v in enumerate(values)
    ]
    model = EventTableModel(frame(*events, event("m9", "2026-11-09T00:00:00Z")))
    for key in ("size", "nested.size"):
        column = column_of(model, key)
        cells = shown_column(model, column)
        searched = extra_field_values(model.frame, key)
        assert [searched.iloc[model.record_index(r)] for r in range(model.rowCount())] == [
            cell or pd.NA for cell in cells
        ]


def test_set_frame_keeps_the_sort_and_adds_new_extra_columns(model):
    model.sort(COL_USER, ASC)
    columns = model.columnCount()
    newer = event("e0", "2026-11-03T00:00:00Z", user_email="aaron@example.com", tenant="t-1")
    model.set_frame(frame(newer, *EVENTS))
    assert model.sort_column == COL_USER and model.sort_order == ASC
    assert ids(model)[0] == "e0"
    assert model.columnCount() == columns + 1
    assert model.column(columns).key == "tenant"


def test_set_mask_shows_only_the_masked_rows(model):
    model.set_mask(np.array([True, False, True, False, False]))  # frame rows e2, e1 (newest first)
    assert model.rowCount() == 2
    assert ids(model) == ["e2", "e1"]
    model.sort(COL_TIME, ASC)
    assert ids(model) == ["e1", "e2"]  # the mask survives sorting
    model.set_mask(None)
    assert model.rowCount() == 5
    with pytest.raises(ValueError, match="mask"):
        model.set_mask(np.array([True]))


def test_set_utc_switches_header_and_cell_text(model, qtbot):
    new_york = ZoneInfo("America/New_York")
    model.set_timezone(new_york)
    # The header holds for EST and EDT rows alike; the tooltip names both offsets.
    assert model.headerData(COL_TIME, H) == "Time (America/New_York)"
    header_tip = model.headerData(COL_TIME, H, TOOLTIP)
    assert "America/New_York: EST (UTC-05:00) in winter, EDT (UTC-04:00) in summer" in header_tip
    row = ids(model).index("e5")  # 2026-11-01T00:00Z is 20:00 EDT the day before
    assert model.index(row, COL_TIME).data() == "2026-10-31 20:00:00"
    with qtbot.waitSignal(model.headerDataChanged):
        model.set_utc(True)
    assert model.headerData(COL_TIME, H) == "Time (UTC)"
    assert model.index(row, COL_TIME).data() == "2026-11-01 00:00:00"
    assert model.index(row, COL_TIME).data(TOOLTIP) == "2026-11-01T00:00:00.000Z"
    model.set_utc(False)
    tooltip = model.index(row, COL_TIME).data(TOOLTIP)
    assert "2026-10-31 20:00:00.000 EDT (UTC-04:00)" in tooltip
    assert "2026-11-01T00:00:00.000Z" in tooltip


def test_tooltips_on_cells_and_headers(model):
    row = ids(model).index("e1")
    user_tip = model.index(row, COL_USER).data(TOOLTIP)
    assert "bob" in user_tip and "Bob@example.com" in user_tip and "Actor: user" in user_tip
    assert model.index(row, COL_ID).data(TOOLTIP) == "e1"
    assert "Click to sort" in model.headerData(COL_USER, H, TOOLTIP)
    assert "UTC" in model.headerData(COL_TIME, H, TOOLTIP)
    empty = ids(model).index("e2")
    assert model.index(empty, COL_DESCRIPTION).data(TOOLTIP) is None


def test_long_description_tooltip_is_capped_and_points_to_the_detail_pane(qtbot):
    model = EventTableModel(frame(event("x", "2026-11-01T00:00:00Z", description="y" * 20_000)))
    tip = model.index(0, COL_DESCRIPTION).data(TOOLTIP)
    assert "more characters in the detail pane" in tip
    assert len(tip) < 5000


def test_record_roles_and_row_lookups(model):
    model.sort(COL_ID, ASC)
    record = model.index(0, COL_USER).data(RecordRole)
    assert record["id"] == "e1"
    assert record["created_at"] == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert json.loads(record["raw"])["metadata"] == {"bytes": 2**31 + 5}
    assert model.record(1)["user_email"] is None  # e2 has no email
    frame_row = model.index(0, COL_USER).data(EventIndexRole)
    assert model.frame["id"].iloc[frame_row] == "e1"
    assert model.view_row_of(frame_row) == 0
    assert model.view_row_of_id("e4") == 3
    model.set_mask(model.frame["id"].isin(["e1", "e5"]).to_numpy())
    assert model.view_row_of_id("e4") is None
    assert model.view_row_of_id("missing") is None


def test_visible_indices_and_chunks_are_the_shown_rows_in_shown_order(model):
    model.sort(COL_ACTION, ASC)
    model.set_mask(model.frame["id"] != "e3")
    expected = ["e1", "e5", "e4", "e2"]
    assert list(model.frame["id"].take(model.visible_indices())) == expected
    chunks = list(model.visible_frame_chunks(3))
    model.sort(COL_ID, DESC)  # later changes do not touch an export already started
    assert [len(c) for c in chunks] == [3, 1]
    assert [i for c in chunks for i in c["id"]] == expected


def test_selection_survives_sort_filter_and_a_refresh_with_new_events(model, qtbot):
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    view.selectRow(ids(model).index("e4"))

    def selected() -> list[str]:
        rows = view.selectionModel().selectedRows()
        return [model.record(i.row())["id"] for i in rows]

    model.sort(COL_USER, DESC)
    assert selected() == ["e4"]
    model.set_mask(model.frame["id"] != "e2")
    assert selected() == ["e4"]
    newer = event("e9", "2026-11-05T00:00:00Z")
    model.set_frame(frame(newer, *EVENTS))
    assert selected() == ["e4"]
    assert model.record(view.currentIndex().row())["id"] == "e4"
    model.set_mask(model.frame["id"] != "e4")
    assert selected() == []
    assert view.verticalHeader().count() == model.rowCount() == 5


def test_set_highlight_marks_text_cells_and_the_delegate_paints_matches(model, qtbot):
    with qtbot.waitSignal(model.dataChanged):
        model.set_highlight(["ALICE"])
    pattern = model.index(0, COL_USER).data(HighlightRole)
    assert pattern.search("alice@example.com")
    assert model.index(0, COL_TIME).data(HighlightRole) is None
    with qtbot.assertNotEmitted(model.dataChanged):
        model.set_highlight(["ALICE"])

    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegate(HighlightDelegate(view))
    view.resize(900, 300)
    view.show()
    qtbot.waitExposed(view)
    view.selectionModel().select(model.index(0, COL_USER), QItemSelectionModel.SelectionFlag.Select)
    amber = match_highlight_color(view.palette())

    def amber_pixels() -> int:
        image = view.viewport().grab().toImage()
        return sum(
            image.pixelColor(x, y) == amber
            for x in range(0, image.width(), 2)
            for y in range(0, image.height(), 2)
        )

    assert amber_pixels() > 0
    model.set_highlight([])
    assert amber_pixels() == 0


def test_highlight_colour_follows_a_dark_palette(model, qtbot):
    view = QTableView()
    qtbot.addWidget(view)
    palette = QPalette(view.palette())
    roles = QPalette.ColorRole
    for role, color in ((roles.Window, "#202020"), (roles.Base, "#1b1b1b"),
                        (roles.WindowText, "#eeeeee"), (roles.Text, "#eeeeee")):  # fmt: skip
        palette.setColor(role, QColor(color))
    view.setPalette(palette)
    view.setModel(model)
    view.setItemDelegate(HighlightDelegate(view))
    view.resize(900, 300)
    view.show()
    qtbot.waitExposed(view)
    model.set_highlight(["alice"])
    image = view.viewport().grab().toImage()
    dark_amber = match_highlight_color(palette)
    assert dark_amber != match_highlight_color(QPalette())
    assert any(
        image.pixelColor(x, y) == dark_amber
        for x in range(0, image.width(), 2)
        for y in range(0, image.height(), 2)
    )
