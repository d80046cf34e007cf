"""The main window, driven the way a user drives it, over a cache synced from the sandbox."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QTableView,
    QToolButton,
    QWidget,
)

from audit_viewer import config
from audit_viewer.action_families import family
from audit_viewer.api import PlatformClient
from audit_viewer.app import create_window
from audit_viewer.cache import CacheStore
from audit_viewer.events import normalize_event
from audit_viewer.filters import FilterState
from audit_viewer.sandbox import Faults, SandboxServer
from audit_viewer.sync import SyncEngine
from audit_viewer.ui import export_controller, load_controller, profile_controller, status
from audit_viewer.ui import workers as workers_module
from audit_viewer.ui.dialogs import ProfileDialog
from audit_viewer.ui.main_window import MainWindow
from audit_viewer.ui.table_model import (
    COL_ACTION,
    COL_DESCRIPTION,
    COL_TIME,
    COL_USER,
    HighlightRole,
    SortRole,
)

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("does not support propagateSizeHints"),  # offscreen platform
]

PROFILE = "sandbox"
BIG = (3_000_000_000, 5_000_000_000, 2**31 + 1)


def fill_cache(server: SandboxServer, url: str, profile: str = PROFILE) -> int:
    """Sync everything the server holds into the cache at ``url``; returns the event count."""
    with (
        CacheStore.open(url) as store,
        PlatformClient(server.url, server.client_id, server.secret, page_size=1000) as client,
    ):
        SyncEngine(client, store, profile).run()
        return store.count(profile)


@pytest.fixture(scope="module")
def server():
    """One sandbox for the module; a few events carry a counter beyond 2^31 (sorting)."""
    with SandboxServer(events=1500, seed=11) as srv:
        now = datetime.now(UTC)
        srv.add_events(
            [
                srv.make_event(now - timedelta(hours=i + 1), bytes_sent=value)
                for i, value in enumerate(BIG)
            ]
        )
        yield srv


@pytest.fixture(scope="module")
def synced_file(server, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("synced") / "cache.sqlite3"
    fill_cache(server, f"sqlite:///{path}")
    return path


@pytest.fixture
def cache_path(synced_file, tmp_path) -> Path:
    """A private copy of the synced cache (tests may sync into it)."""
    path = tmp_path / "cache.sqlite3"
    shutil.copy(synced_file, path)
    return path


@pytest.fixture
def saved_profile(server, monkeypatch) -> config.Profile:
    """A saved profile for the sandbox with its secret in the environment."""
    profile = config.Profile(name=PROFILE, base_url=server.url, client_id=server.client_id)
    config.save_profile(profile)
    monkeypatch.setenv(config.ENV_SECRET, server.secret)
    return profile


@pytest.fixture
def window(qtbot, cache_path, saved_profile):
    win = create_window(["--cache", str(cache_path), "--profile", PROFILE])
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def shown_ids(win) -> list[str]:
    frame = win.model.frame
    return frame["id"].take(win.model.visible_indices()).tolist()


def expected_count(win, fs: FilterState) -> int:
    return int(np.count_nonzero(fs.mask(win.model.frame)))


# --------------------------------------------------------------------------------- basics


def test_window_shows_the_cache_with_named_widgets(window, cache_path):
    with CacheStore.open(f"sqlite:///{cache_path}") as store:
        total = store.count(PROFILE)
    assert window.model.rowCount() == total == 1500 + len(BIG)
    assert window.findChild(QTableView, "eventsTable") is window.table
    assert window.findChild(QLineEdit, "searchBar") is window.search_bar
    assert isinstance(window.findChild(QToolButton, "syncButton"), QToolButton)
    assert isinstance(window.findChild(QToolButton, "exportButton"), QToolButton)
    assert window.findChild(QWidget, "timeline").isVisible()
    assert window.findChild(QWidget, "detailPane") is window.detail
    assert window.windowTitle() == PROFILE  # Qt adds " — audit-viewer" where that is usual
    assert QApplication.applicationDisplayName() == "audit-viewer"
    assert window.table.horizontalHeader() is window.header
    assert f"Showing {total:,} of {total:,} events" in window.status_area.label.text()
    assert "last sync" in window.status_area.label.text()
    assert f"cache: {cache_path} ·" in window.status_area.label.text()
    # newest first by default
    times = window.model.frame["created_at"].take(window.model.visible_indices())
    assert times.is_monotonic_decreasing


def test_a_big_cache_loads_behind_a_shown_window(qtbot, cache_path, saved_profile, monkeypatch):
    # Every cache counts as big here: the window must appear at once and fill in when loaded.
    monkeypatch.setattr(load_controller, "BACKGROUND_LOAD_EVENTS", 1)
    win = create_window(["--cache", str(cache_path), "--profile", PROFILE])
    qtbot.addWidget(win)
    total = 1500 + len(BIG)
    assert win.loader.loading and win.model.rowCount() == 0
    assert win.status_area.label.text() == f"Loading {total:,} cached events…"
    win.acts.sync.trigger()  # waits for the load instead of racing it
    assert win.sync.thread is None
    assert win.statusBar().currentMessage() == "Still loading the cache; sync once it is shown."
    qtbot.waitUntil(lambda: not win.loader.loading, timeout=20_000)
    assert win.model.rowCount() == total
    assert f"Showing {total:,} of {total:,} events" in win.status_area.label.text()
    win.close()


def test_a_big_cache_paints_its_newest_events_before_the_rest(
    qtbot, cache_path, saved_profile, monkeypatch
):
    monkeypatch.setattr(load_controller, "BACKGROUND_LOAD_EVENTS", 1)
    monkeypatch.setattr(workers_module.LoadWorker, "FIRST_PAGE", 100)
    rest_may_load = threading.Event()
    load_everything = workers_module.searchable_frame

    def held_back(store, profile):
        rest_may_load.wait(20)
        return load_everything(store, profile)

    monkeypatch.setattr(workers_module, "searchable_frame", held_back)
    win = create_window(["--cache", str(cache_path), "--profile", PROFILE])
    qtbot.addWidget(win)
    total = 1500 + len(BIG)
    qtbot.waitUntil(lambda: win.model.rowCount() > 0, timeout=20_000)
    assert win.loader.loading and win.model.rowCount() == 100
    assert win.status_area.label.text() == (
        f"Showing the newest 100 of {total:,} events; loading the rest…"
    )
    with CacheStore.open(cache_path) as store:
        newest = store.load_frame(PROFILE)["id"].iloc[:100].tolist()
    assert win.model.frame["id"].tolist() == newest
    win.filtering.set(win.filtering.state.with_search(newest[0]))  # filters work on what is shown
    assert win.model.rowCount() == 1
    rest_may_load.set()
    qtbot.waitUntil(lambda: not win.loader.loading, timeout=20_000)
    assert win.model.rowCount() == 1 and len(win.model.frame) == total
    win.close()


def test_the_detail_pane_shows_the_whole_json_the_platform_sent(window):
    # The frame keeps only the extra fields of each event's JSON (memory); the pane reads the
    # whole text back from the cache, known fields and all.
    window.table.setCurrentIndex(window.model.index(0, COL_DESCRIPTION))
    record = window.model.record(0)
    assert "description" not in json.loads(record["raw"])
    raw_view = window.detail.findChild(QPlainTextEdit, "rawJson")
    shown = json.loads(raw_view.toPlainText())
    assert shown["id"] == record["id"] and shown["description"] == record["description"]
    assert shown == json.loads(window.session.store.event_json(PROFILE, record["id"]))


def test_every_menu_action_shows_its_shortcut(window):
    expected = {
        "actSync": "F5",
        "actExport": "Ctrl+S",
        "actQuit": "Ctrl+Q",
        "actCopy": "Ctrl+C",
        "actFind": "Ctrl+F",
        "actFilterRow": "Ctrl+Shift+F",
    }
    for name, keys in expected.items():
        action = next(a for a in window.actions() if a.objectName() == name)
        assert action.shortcut().toString() == keys, name
    in_menus = {
        a.objectName()
        for menu in window.menuBar().findChildren(type(window.columns_menu))
        for a in menu.actions()
    }
    assert set(expected) <= in_menus


# --------------------------------------------------------------------------------- search


def test_typing_in_the_search_bar_filters_rows(window, qtbot):
    user = window.model.frame["user_email"].dropna().iloc[0]
    word = user.split("@")[0]
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        qtbot.keyClicks(window.search_bar, word)
    expected = expected_count(window, FilterState(search=word))
    assert 0 < window.model.rowCount() == expected < len(window.model.frame)
    assert f"Showing {expected:,} of" in window.status_area.label.text()
    for event_id in shown_ids(window)[:50]:
        row = window.model.frame[window.model.frame["id"] == event_id].iloc[0]
        haystack = " ".join(
            str(row[c]) for c in ("user", "user_email", "action", "description", "id")
        )
        assert word.lower() in haystack.lower() or word.lower() in str(row["actor_type"]).lower()


def test_typing_never_asks_the_keyring(window, qtbot, monkeypatch):
    """The status line says "offline" or not on every pass; the keyring is asked only when
    the profile or its secret changes (a secret service round trip per key would lag)."""
    from audit_viewer.ui import session as session_module

    asked: list[str] = []
    real = session_module.get_secret
    monkeypatch.setattr(
        session_module, "get_secret", lambda *a, **k: asked.append(a[0]) or real(*a, **k)
    )
    for text in ("i", "ig", "ign"):
        with qtbot.waitSignal(window.filtersApplied, timeout=3000):
            window.search_bar.setText(text)
            window.search_bar.apply()
    assert asked == []
    window.session.update(window.session.profile)  # the profile's settings were saved
    assert asked == [PROFILE]


def test_a_bad_query_keeps_the_last_valid_result_and_says_so(window, qtbot):
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        qtbot.keyClicks(window.search_bar, "alice")
    before = window.model.rowCount()
    assert 0 < before < len(window.frame)
    qtbot.keyClicks(window.search_bar, ' "open')
    qtbot.waitUntil(lambda: window.search_error.isVisible(), timeout=3000)
    assert window.search_error.text() == (
        "Search: Unterminated quote at character 7  ·  "
        "the table still shows the result of the last valid filters"
    )
    assert "border" in window.search_bar.styleSheet()
    assert (
        window.filtering.state.search == 'alice "open' and window.filtering.shown.search == "alice"
    )
    assert window.model.rowCount() == before  # not the whole cache
    assert window.status_area.label.text().startswith(f"Showing {before:,} of")
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        qtbot.keyClick(window.search_bar, Qt.Key.Key_Escape)
    assert window.search_bar.text() == ""
    assert not window.search_error.isVisible()
    assert window.model.rowCount() == len(window.frame)


def test_an_invalid_column_filter_reaches_the_windows_error_line(window, qtbot):
    editor = window.header.editor(COL_USER)
    qtbot.keyClicks(editor, "usr:x")
    qtbot.waitUntil(lambda: window.search_error.isVisible(), timeout=3000)
    assert window.search_error.text().startswith("User filter: Unknown qualifier 'usr:'")
    assert "usr:" in editor.toolTip() and "border" in editor.styleSheet()


def test_each_string_is_parsed_once_per_change(window, qtbot, monkeypatch):
    import audit_viewer.filters as filters

    parsed: list[str] = []
    real = filters.parse_query
    filters._parse.cache_clear()
    monkeypatch.setattr(
        filters, "parse_query", lambda text, **kw: (parsed.append(text), real(text, **kw))[1]
    )
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        qtbot.keyClicks(window.search_bar, "alice")
    assert parsed == ["alice"]
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        qtbot.keyClicks(window.header.editor(COL_USER), "bob")
    assert parsed == ["alice", "bob"]  # the search's text was not parsed again
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.header.set_filter(COL_TIME, "7d")
    assert parsed == ["alice", "bob"]


# --------------------------------------------------------------------------------- column filters


def test_a_search_marks_its_words_in_the_cells(window, qtbot):
    """The window hands the state's highlight terms to the model after every pass."""
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.search_bar.setText("ignored -bot")
        window.search_bar.apply()
    pattern = window.model.index(0, COL_ACTION).data(HighlightRole)
    assert pattern is not None and pattern.search("Findings IGNORED") and not pattern.search("bot")
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.filtering.clear()
    assert window.model.index(0, COL_ACTION).data(HighlightRole) is None


def test_the_action_checklist_counts_under_the_search(window, qtbot):
    """The facets of each pass reach the Action checklist: counts under the other filters."""
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.search_bar.setText("actor:system")
        window.search_bar.apply()
    editor = window.header.editor(COL_ACTION)
    editor.open_popup()
    shown = {
        editor.popup.list.item(i).data(Qt.ItemDataRole.UserRole): editor.popup.list.item(i).text()
        for i in range(editor.popup.list.count())
    }
    frame = window.model.frame
    actions = frame[frame["actor_type"] == "system"]["action"].astype(str)
    expected = actions.map(family).value_counts()  # one row per family of actions
    assert expected.sum() == window.model.rowCount() > 0
    for row, count in expected.items():
        assert shown[row] == f"{row}  ({count:,})"
    editor.popup.hide()


def test_each_column_filter_narrows_the_rows(window, qtbot):
    frame = window.model.frame
    action = frame["action"].value_counts().index[0]
    user = frame["user"].iloc[0]
    steps = [
        (COL_TIME, "7d", FilterState(time_preset="7d")),
        (COL_USER, user, FilterState(time_preset="7d", text_filters={"user": user})),
        (
            COL_ACTION,
            [action],
            FilterState(time_preset="7d", text_filters={"user": user}, actions=frozenset({action})),
        ),
    ]
    for column, value, fs in steps:
        with qtbot.waitSignal(window.filtersApplied, timeout=3000):
            window.header.set_filter(column, value)
        assert window.model.rowCount() == expected_count(window, fs), column
    assert window.model.rowCount() > 0
    shown = frame.take(window.model.visible_indices())
    assert set(shown["action"]) == {action}
    assert (shown["created_at"] >= pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=7)).all()

    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.header.set_filter(COL_DESCRIPTION, "Reason")
    fs = FilterState(
        time_preset="7d",
        text_filters={"user": user, "description": "Reason"},
        actions=frozenset({action}),
    )
    assert window.model.rowCount() == expected_count(window, fs)

    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.acts.clear.trigger()
    assert window.model.rowCount() == len(frame)


def test_timeline_drag_range_sets_the_time_filter(window, qtbot):
    now = datetime.now(UTC)
    start, end = now - timedelta(days=3), now - timedelta(days=1)
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.timeline.rangeSelected.emit(start, end)
    assert window.model.rowCount() == expected_count(window, FilterState(time_range=(start, end)))
    assert window.timeline.shaded_range() == (start, end)
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.timeline.rangeCleared.emit()  # double-click on the chart
    assert window.model.rowCount() == len(window.model.frame)
    assert window.timeline.shaded_range() is None


# --------------------------------------------------------------------------------- sorting


def test_sorting_each_column_orders_the_rows(window):
    model = window.model
    for column in range(model.columnCount()):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            window.table.sortByColumn(column, order)
            values = [model.index(r, column).data(SortRole) for r in range(model.rowCount())]
            present = [v for v in values if v is not None]
            expected = sorted(present, reverse=order == Qt.SortOrder.DescendingOrder)
            if isinstance(present[0], str):
                expected = sorted(
                    present, key=str.casefold, reverse=order == Qt.SortOrder.DescendingOrder
                )
                present = [v.casefold() for v in present]
                expected = [v.casefold() for v in expected]
            assert present == expected, (model.headerData(column, Qt.Orientation.Horizontal), order)


def sort_pairs(model, first: int, second: int) -> list[tuple[str, str]]:
    return [
        (
            str(model.index(r, first).data(SortRole)).casefold(),
            str(model.index(r, second).data(SortRole)).casefold(),
        )
        for r in range(model.rowCount())
    ]


def test_the_keyboard_sorts_by_a_column_and_then_by_another(window, qtbot):
    model, table = window.model, window.table
    table.setCurrentIndex(model.index(0, COL_ACTION))
    window.acts.sort_up.trigger()  # Ctrl+Alt+Up
    assert window.header.sortIndicatorSection() == COL_ACTION
    assert window.header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    table.setCurrentIndex(model.index(0, COL_USER))
    window.acts.sort_then.trigger()  # Ctrl+Alt+Right: then by user, ascending
    pairs = sort_pairs(model, COL_ACTION, COL_USER)
    assert pairs == sorted(pairs)
    assert model.headerData(COL_USER, Qt.Orientation.Horizontal) == "User  2▲"
    window.acts.sort_then.trigger()  # again: the second key flips
    pairs = sort_pairs(model, COL_ACTION, COL_USER)
    assert [a for a, _ in pairs] == sorted(a for a, _ in pairs)
    by_action: dict[str, list[str]] = {}
    for action, user in pairs:
        by_action.setdefault(action, []).append(user)
    assert all(users == sorted(users, reverse=True) for users in by_action.values())
    assert any(len(set(users)) > 1 for users in by_action.values())
    assert model.headerData(COL_USER, Qt.Orientation.Horizontal) == "User  2▼"
    table.setCurrentIndex(model.index(0, COL_TIME))
    window.acts.sort_down.trigger()  # a plain sort drops the further keys
    assert model.sort_keys == [(COL_TIME, False)]
    assert model.headerData(COL_USER, Qt.Orientation.Horizontal) == "User"
    shortcuts = {a.shortcut().toString() for a in (window.acts.sort_up, window.acts.sort_then)}
    assert shortcuts == {"Ctrl+Alt+Up", "Ctrl+Alt+Right"}


def current_row_in_view(window) -> bool:
    current = window.table.currentIndex()
    rect = window.table.visualRect(current)
    return current.isValid() and window.table.viewport().rect().intersects(rect)


@pytest.mark.parametrize("how", ["sort", "then sort"])
def test_a_sort_keeps_the_current_row_in_view(window, qtbot, how):
    window.activateWindow()
    window.table.setCurrentIndex(window.model.index(5, COL_ACTION))
    chosen = window.model.record(5)["id"]
    window.table.sortByColumn(COL_USER, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: current_row_in_view(window), timeout=3000)
    if how == "then sort":
        window.table.scrollToTop()
        window.acts.sort_then.trigger()  # then by action, on the current cell's column
        assert window.model.sort_keys == [(COL_USER, True), (COL_ACTION, True)]
    else:
        window.table.scrollToTop()
        window.acts.sort_down.trigger()
        assert window.model.sort_keys == [(COL_ACTION, False)]
    qtbot.waitUntil(lambda: current_row_in_view(window), timeout=3000)
    row = window.table.currentIndex().row()
    assert window.model.record(row)["id"] == chosen
    assert window.table.verticalScrollBar().value() > 0  # it moved there, off the top


def test_shift_click_on_a_header_adds_a_sort_key(window, qtbot):
    header = window.header
    window.table.sortByColumn(COL_ACTION, Qt.SortOrder.AscendingOrder)
    x = header.sectionViewportPosition(COL_USER) + header.sectionSize(COL_USER) // 2
    point = QPoint(x, header.fontMetrics().height() // 2 + 2)
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, point
    )
    assert window.model.sort_keys == [(COL_ACTION, True), (COL_USER, True)]
    assert header.sortIndicatorSection() == COL_ACTION  # the first key keeps the indicator
    pairs = sort_pairs(window.model, COL_ACTION, COL_USER)
    assert pairs == sorted(pairs)


def test_values_beyond_2_31_sort_numerically(window):
    column = window.model.column_of("bytes_sent")
    assert column is not None
    window.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    top = [window.model.index(r, column).data(SortRole) for r in range(len(BIG))]
    assert top == sorted(BIG, reverse=True)


# --------------------------------------------------------------------------------- detail + copy


def test_selecting_a_row_shows_its_details(window, qtbot):
    rect = window.table.visualRect(window.model.index(2, COL_ACTION))
    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    record = window.model.record(2)
    assert window.detail.record()["id"] == record["id"]
    qtbot.keyClick(window.table, Qt.Key.Key_Return)
    assert window.detail.isAncestorOf(QGuiApplication.focusObject())


def test_copy_cells_and_rows(window):
    model, selection = window.model, window.table.selectionModel()
    selection.select(model.index(0, COL_ACTION), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    window.table.setFocus()
    window.acts.copy.trigger()
    assert QGuiApplication.clipboard().text() == model.index(0, COL_ACTION).data() + "\n"

    selection.select(
        model.index(1, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    window.acts.copy.trigger()
    lines = QGuiApplication.clipboard().text().splitlines()
    assert lines[0].split("\t")[:4] == [
        model.headerData(c, Qt.Orientation.Horizontal) for c in (0, 1, 2, 3)
    ]
    assert lines[1].split("\t")[1] == model.index(1, COL_USER).data()

    window.table.setCurrentIndex(model.index(1, 0))
    window.acts.copy_csv.trigger()
    rows = list(csv.reader(QGuiApplication.clipboard().text().splitlines()))
    assert rows[0][:2] == ["id", "created_at"]
    assert rows[1][0] == model.record(1)["id"]
    assert window.statusBar().currentMessage() == "Copied 1 row(s) as CSV"  # and says so


def test_the_last_sync_phrase_ages_every_minute(window, qtbot):
    assert window.ago_timer.isActive() and window.ago_timer.interval() == 60_000
    assert "last sync just now" in window.status_area.label.text()
    with CacheStore.open(window.session.store.location) as store:
        state = store.sync_state(PROFILE)
        earlier = state.last_sync_at - timedelta(hours=3)
        store.save_sync_state(dataclasses.replace(state, last_sync_at=earlier))
    window.ago_timer.timeout.emit()
    assert "last sync 3 h ago" in window.status_area.label.text()


def test_the_tables_context_menu_offers_copy_filter_and_clear(window, qtbot, monkeypatch):
    shown: list[list[str]] = []
    monkeypatch.setattr(
        QMenu, "popup", lambda menu, *args: shown.append([a.text() for a in menu.actions()])
    )
    window.table.customContextMenuRequested.emit(QPoint(10, 10))
    assert shown == [["&Copy", "Copy row as C&SV", "&Filter on this value", "", "C&lear filters"]]


def test_the_cached_profiles_menu_lists_and_switches(window, qtbot, tmp_path, server):
    with CacheStore.open(window.session.store.location) as store:  # a second tenant, same cache
        store.upsert_events("lab", [normalize_event(server.all_events()[0])])
    menu = window.profiles_menu
    menu.aboutToShow.emit()
    entries = {a.text(): a for a in menu.actions()}
    assert set(entries) == {PROFILE, "lab"} and entries[PROFILE].isChecked()
    entries["lab"].trigger()
    assert window.windowTitle() == "lab" and window.model.rowCount() == 1


def test_switching_caches_waits_for_a_running_sync_and_says_so(window, qtbot, tmp_path, server):
    with qtbot.waitSignal(window.syncFinished, timeout=60_000):
        window.acts.sync.trigger()
        window.profiles.open_cache(str(tmp_path / "other.sqlite3"))
        assert window.banner.text.text() == (
            "Wait for the sync, export or loading to finish before switching caches."
        )
    assert window.windowTitle() == PROFILE


def test_editing_the_shown_profile_applies_its_zone_and_utc_choice(
    window, qtbot, server, monkeypatch
):
    berlin = config.Profile(
        name=PROFILE, base_url=server.url, client_id=server.client_id, timezone="Europe/Berlin"
    )
    fill_profile_dialog(monkeypatch, filled=berlin)
    window.acts.utc.setChecked(False)
    window.acts.profile.trigger()
    assert window.model.headerData(COL_TIME, Qt.Orientation.Horizontal) == "Time (Europe/Berlin)"
    utc = config.Profile(
        name=PROFILE, base_url=server.url, client_id=server.client_id, timezone="UTC"
    )
    fill_profile_dialog(monkeypatch, filled=utc)
    window.acts.profile.trigger()
    assert window.acts.utc.isChecked()
    assert window.model.headerData(COL_TIME, Qt.Orientation.Horizontal) == "Time (UTC)"


def test_a_cache_that_cannot_be_read_says_so_in_the_banner(
    qtbot, cache_path, saved_profile, monkeypatch
):
    from audit_viewer.cache import CacheError

    def unreadable(self, profile, limit=None):
        raise CacheError("disk I/O error")

    monkeypatch.setattr(CacheStore, "load_frame", unreadable)
    win = create_window(["--cache", str(cache_path), "--profile", PROFILE])
    qtbot.addWidget(win)
    assert win.banner.text.text() == "Could not read the cache: disk I/O error"
    assert win.model.rowCount() == 0
    win.close()


def test_filter_on_this_value(window, qtbot):
    index = window.model.index(0, COL_ACTION)
    window.table.setCurrentIndex(index)
    action = index.data()
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.acts.filter_value.trigger()
    shown = window.model.frame["action"].take(window.model.visible_indices())
    assert set(shown) == {action}
    assert window.model.rowCount() == expected_count(
        window, FilterState(actions=frozenset({action}))
    )


def test_filter_on_an_extra_field_value(window, qtbot):
    column = window.model.column_of("bytes_sent")
    window.model.sort(column, Qt.SortOrder.DescendingOrder)  # the events that carry it first
    index = window.model.index(0, column)
    assert index.data() == str(5_000_000_000)
    chosen = window.model.record(0)["id"]
    window.table.setCurrentIndex(index)
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.acts.filter_value.trigger()
    assert window.filtering.state.text_filters == {"bytes_sent": '="5000000000"'}
    assert window.model.rowCount() == 1
    assert window.model.record(0)["id"] == chosen


def test_every_extra_field_is_a_qualifier_of_the_search_bar(window, qtbot):
    frame = window.model.frame
    ips = frame["raw"].str.extract(r'"ip_address":"([^"]+)"')[0].dropna()
    assert len(ips) > 1, "the sandbox sends ip_address on some events"
    ip = ips.iloc[0]
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.search_bar.setText(f"ip_address:={ip}")
        window.search_bar.apply()
    column = window.model.column_of("ip_address")
    shown = {window.model.index(r, column).data() for r in range(window.model.rowCount())}
    assert shown == {ip} and window.model.rowCount() == (ips == ip).sum()
    window.search_bar.setText("ip_adress:1")  # mistyped: still an error, not an empty table
    window.search_bar.apply()
    assert "Unknown qualifier 'ip_adress:'" in window.search_error.text()


def test_a_rare_extra_field_is_a_qualifier_too(window, qtbot):
    from audit_viewer.frame import extra_fields, frame_from_events

    start = datetime(2026, 11, 1, tzinfo=UTC)
    events = [
        {"id": f"E{i:05d}", "created_at": (start - timedelta(minutes=i)).isoformat()}
        for i in range(5000)
    ]
    events[1]["rare_field"] = "needle"  # one event, which the extra-field sample skips
    frame = frame_from_events(normalize_event(e) for e in events)
    assert "rare_field" not in {f.name for f in extra_fields(frame)}
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.filtering.apply(frame=frame)  # as a sync hands over a new frame
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.search_bar.setText("rare_field:needle")
        window.search_bar.apply()
    assert window.search_error.text() == ""
    assert shown_ids(window) == ["E00001"]


# --------------------------------------------------------------------------------- save as CSV


def save_to(monkeypatch, path: Path, chosen: str = export_controller.CSV_FILTER):
    calls = []

    def fake(parent, caption, directory, filter_text):
        calls.append(Path(directory).name)
        assert chosen in filter_text.split(";;")
        return str(path), chosen

    monkeypatch.setattr(export_controller.QFileDialog, "getSaveFileName", staticmethod(fake))
    return calls


def read_csv_ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "id",
        "created_at",
        "user",
        "user_name",
        "user_email",
        "actor_type",
        "action",
        "description",
        "flags",
    ]
    return [r[0] for r in rows[1:]]


def test_save_as_json_lines_writes_each_shown_event_whole(window, qtbot, tmp_path, monkeypatch):
    window.search_bar.setText("actor:user")
    window.search_bar.apply()
    target = tmp_path / "evidence"  # no suffix: the chosen format's is added
    save_to(monkeypatch, target, export_controller.JSONL_FILTER)
    with qtbot.waitSignal(window.exportFinished, timeout=10_000) as done:
        window.acts.export.trigger()
    written = tmp_path / "evidence.jsonl"
    assert done.args[0].path == written and not target.exists()
    events = [json.loads(line) for line in written.read_text(encoding="utf-8").splitlines()]
    assert [event["id"] for event in events] == shown_ids(window)
    store = window.session.store
    for event in events[:50]:  # the whole event as received, not the frame's extra fields
        assert event == json.loads(store.event_json(PROFILE, event["id"]))
        assert {"id", "created_at", "action"} <= event.keys()


def test_save_as_an_excel_workbook_from_the_dialog(window, qtbot, tmp_path, monkeypatch):
    from test_workbook import sheets

    window.search_bar.setText("actor:scm")
    window.search_bar.apply()
    save_to(monkeypatch, tmp_path / "review", export_controller.XLSX_FILTER)
    with qtbot.waitSignal(window.exportFinished, timeout=20_000) as done:
        window.acts.export.trigger()
    assert done.args[0].path == tmp_path / "review.xlsx"
    (rows,) = sheets(tmp_path / "review.xlsx").values()
    assert [row[0] for row in rows[1:]] == shown_ids(window)


def test_save_as_csv_writes_exactly_the_rows_shown(window, qtbot, tmp_path, monkeypatch):
    action = window.model.frame["action"].value_counts().index[1]
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.header.set_filter(COL_ACTION, [action])
    window.table.sortByColumn(COL_USER, Qt.SortOrder.AscendingOrder)
    target = tmp_path / "out.csv"
    calls = save_to(monkeypatch, target)
    with qtbot.waitSignal(window.exportFinished, timeout=10_000):
        qtbot.mouseClick(window.findChild(QToolButton, "exportButton"), Qt.MouseButton.LeftButton)
    assert calls and calls[0].startswith("audit-log-") and calls[0].endswith(".csv")
    assert read_csv_ids(target) == shown_ids(window)
    message = window.statusBar().currentMessage()
    assert str(target) in message and f"{window.model.rowCount():,}" in message


def test_large_export_runs_in_the_background_with_bom(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(export_controller, "BACKGROUND_EXPORT_ROWS", 100)
    monkeypatch.setattr(export_controller, "EXPORT_CHUNK", 64)
    window.acts.bom.setChecked(True)
    target = tmp_path / "big.csv"
    save_to(monkeypatch, target)
    seen: list[tuple[bool, bool, str]] = []  # while it runs: bar, Cancel, the bar's text
    area = window.status_area
    area.progress.valueChanged.connect(
        lambda _value: seen.append(
            (area.progress.isVisible(), area.cancel_button.isVisible(), area.progress.format())
        )
    )
    with qtbot.waitSignal(window.exportFinished, timeout=20_000) as blocker:
        window.acts.export.trigger()
    rows = window.model.rowCount()
    assert blocker.args[0].rows == rows
    assert (True, True, f"Saving 64 / {rows:,}") in seen
    assert window.acts.export.isEnabled()  # disabled only while it ran
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_csv_ids(target) == shown_ids(window)
    assert not window.status_area.progress.isVisible()


def test_export_failure_shows_a_dialog_and_leaves_no_file(window, qtbot, tmp_path, monkeypatch):
    target = tmp_path / "missing-dir" / "out.csv"
    save_to(monkeypatch, target)
    errors = []
    monkeypatch.setattr(
        export_controller.QMessageBox,
        "critical",
        staticmethod(
            lambda parent, title, text, *a: errors.append(text) or QMessageBox.StandardButton.Ok
        ),
    )
    with qtbot.waitSignal(window.exportFinished, timeout=5000):
        window.acts.export.trigger()
    assert len(errors) == 1 and str(target) in errors[0]
    assert not target.exists()


# --------------------------------------------------------------------------------- sync


def test_sync_adds_new_rows_keeping_sort_filters_and_selection(window, server, qtbot):
    frame = window.model.frame
    action = frame["action"].value_counts().index[0]
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.header.set_filter(COL_ACTION, [action])
    window.table.sortByColumn(COL_USER, Qt.SortOrder.AscendingOrder)
    window.table.setCurrentIndex(window.model.index(3, COL_USER))
    selected_id = window.model.record(3)["id"]
    before = window.model.rowCount()
    window.table.scrollTo(
        window.model.index(40, 0), window.table.ScrollHint.PositionAtTop
    )  # reading further down: the rows in view must not move
    QApplication.processEvents()  # let the view lay out the scroll
    assert window.table.verticalScrollBar().value() > 0
    top_id = window.model.record(window.table.rowAt(0))["id"]

    now = datetime.now(UTC)
    fresh = [server.make_event(now - timedelta(seconds=30 + i), action=action) for i in range(5)]
    other = [server.make_event(now - timedelta(seconds=20), action="Ticket created")]
    if action == "Ticket created":
        other = []
    server.add_events(fresh + other)

    with qtbot.waitSignal(window.syncFinished, timeout=30_000) as blocker:
        qtbot.mouseClick(window.findChild(QToolButton, "syncButton"), Qt.MouseButton.LeftButton)
    result = blocker.args[0]
    assert not result.cancelled and result.new_events == len(fresh) + len(other)
    assert window.model.rowCount() == before + len(fresh)
    assert {e["id"] for e in fresh} <= set(shown_ids(window))
    assert window.header.sortIndicatorSection() == COL_USER
    assert window.header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    users = window.model.frame["user"].take(window.model.visible_indices()).str.casefold()
    assert users.is_monotonic_increasing
    assert window.model.record(window.table.currentIndex().row())["id"] == selected_id
    assert window.model.record(window.table.rowAt(0))["id"] == top_id
    assert "just now" in window.status_area.label.text()


def test_a_sync_behind_another_programs_write_says_it_waits(window, cache_path, qtbot):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "conn.execute('BEGIN IMMEDIATE')\n"
            "print('held', flush=True)\n"
            "sys.stdin.readline()\n"
            "conn.execute('COMMIT')\n",
            str(cache_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        texts = []
        with qtbot.waitSignal(window.syncFinished, timeout=60_000):
            window.acts.sync.trigger()
            qtbot.waitUntil(
                lambda: "waiting for another program" in window.status_area.label.text()
            )
            texts.append(window.status_area.label.text())
            print(file=holder.stdin, flush=True)  # the other program commits
        assert "cache: " + str(cache_path) in texts[0]
        assert "waiting" not in window.status_area.label.text()
    finally:
        holder.kill()
        holder.communicate(timeout=30)


def window_on(qtbot, server, name: str, tmp_path: Path, monkeypatch) -> MainWindow:
    """A window on a fresh cache, with a saved profile ``name`` for ``server``."""
    config.save_profile(config.Profile(name=name, base_url=server.url, client_id=server.client_id))
    monkeypatch.setenv(config.ENV_SECRET, server.secret)
    win = create_window(["--cache", str(tmp_path / "c.sqlite3"), "--profile", name])
    qtbot.addWidget(win)
    return win


def test_a_sync_says_when_it_retries_a_busy_platform(qtbot, tmp_path, monkeypatch):
    with SandboxServer(events=200, seed=4, faults=Faults(server_error_every=30)) as busy:
        win = window_on(qtbot, busy, "busy", tmp_path, monkeypatch)
        texts: list[str] = []
        win.sync.retrying.connect(lambda *_: texts.append(win.status_area.label.text()))
        with qtbot.waitSignal(win.syncFinished, timeout=120_000):
            win.acts.sync.trigger()
        assert texts, "the platform answered 5xx to every 30th request"
        assert re.fullmatch(
            r"Syncing: the platform did not answer; retrying in \d+ s \(1 of 5\) · cache: .*",
            texts[0],
        )
        assert win.model.rowCount() == 200
        win.close()


def test_cancel_a_sync(qtbot, tmp_path, monkeypatch):
    with SandboxServer(events=3000, seed=3, faults=Faults(slow_page_seconds=0.3)) as slow:
        win = window_on(qtbot, slow, "slow", tmp_path, monkeypatch)
        win.show()
        with qtbot.waitSignal(win.syncProgress, timeout=20_000):
            win.sync.start()
        assert win.status_area.progress.isVisible() and win.status_area.cancel_button.isVisible()
        with qtbot.waitSignal(win.syncFinished, timeout=30_000) as blocker:
            qtbot.mouseClick(win.status_area.cancel_button, Qt.MouseButton.LeftButton)
        assert blocker.args[0].cancelled
        assert 0 < win.model.rowCount() < 3000
        assert not win.status_area.progress.isVisible()
        win.close()


def test_cancel_ends_a_sync_whose_request_is_still_waiting(qtbot, tmp_path, monkeypatch):
    """The platform takes 60 s per page; Cancel does not wait for the page in flight."""
    with SandboxServer(events=50, seed=3, faults=Faults(slow_page_seconds=60)) as stuck:
        win = window_on(qtbot, stuck, "stuck", tmp_path, monkeypatch)
        win.sync.start()
        qtbot.waitUntil(lambda: stuck.stats.list_requests >= 1, timeout=20_000)
        with qtbot.waitSignal(win.syncFinished, timeout=10_000) as blocker:  # not 60 s
            win.acts.cancel.trigger()
        assert blocker.args[0].cancelled
        assert win.sync.thread is None and not win.status_area.progress.isVisible()
        win.close()


def test_closing_during_a_sync_stops_the_thread(qtbot, tmp_path, monkeypatch):
    with SandboxServer(events=3000, seed=3, faults=Faults(slow_page_seconds=0.3)) as slow:
        config.save_profile(
            config.Profile(name="slow", base_url=slow.url, client_id=slow.client_id)
        )
        monkeypatch.setenv(config.ENV_SECRET, slow.secret)
        cache = tmp_path / "c.sqlite3"
        win = create_window(["--cache", str(cache), "--profile", "slow"])
        qtbot.addWidget(win)
        win.show()
        with qtbot.waitSignal(win.syncProgress, timeout=20_000):
            win.sync.start()
        job = win.sync.thread
        win.close()
        assert job.thread.isFinished()
        assert win.sync.thread is None
        with CacheStore.open(f"sqlite:///{cache}") as store:
            assert 0 < store.count("slow") < 3000  # committed pages kept, cache usable


def test_sync_errors_show_a_banner_and_keep_the_cache(window, qtbot, monkeypatch):
    monkeypatch.setenv(config.ENV_SECRET, "wrong-secret")
    before = window.model.rowCount()
    with qtbot.waitSignal(window.syncFailed, timeout=20_000) as blocker:
        window.acts.sync.trigger()
    assert window.banner.isVisible()
    banner = window.banner.text.text()
    assert banner == f"Sync failed: {blocker.args[0]} The cached events stay available."
    assert "rejected the client ID and secret" in banner  # what went wrong, in words
    assert window.banner.action_button.text() == "Open profile settings"  # and where to fix it
    assert "wrong-secret" not in banner
    assert window.model.rowCount() == before
    assert "sync failed" in window.status_area.label.text()
    window.banner.close_button.click()
    assert not window.banner.isVisible()


def test_a_sync_that_fails_midway_shows_what_it_stored(
    qtbot, tmp_path, server, saved_profile, monkeypatch
):
    monkeypatch.setattr(server.faults, "malformed_every", 6)  # a broken page after a few days
    cache = tmp_path / "fresh.sqlite3"
    win = create_window(["--cache", str(cache), "--profile", PROFILE])
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.syncFailed, timeout=30_000) as failed:
        win.acts.sync.trigger()
    assert failed.args[0].startswith("The platform's answer to ")
    assert "is not JSON" in failed.args[0] and server.url in failed.args[0]
    assert win.banner.text.text().startswith(f"Sync failed: {failed.args[0]}")
    with CacheStore.open(cache) as store:
        stored = store.count(PROFILE)
    assert 0 < stored < 1500
    assert win.model.rowCount() == stored
    win.close()


def test_missing_secret_points_at_profile_settings(qtbot, cache_path, server):
    config.save_profile(config.Profile(name=PROFILE, base_url=server.url, client_id="x"))
    win = create_window(["--cache", str(cache_path), "--profile", PROFILE])
    qtbot.addWidget(win)
    assert win.session.offline
    assert "offline" in win.status_area.label.text()
    win.acts.sync.trigger()
    assert win.banner.isVisibleTo(win)
    assert "secret" in win.banner.text.text()
    assert win.banner.action_button.text() == "Open profile settings"
    assert win.sync.thread is None
    win.close()


def test_open_another_cache(window, qtbot, tmp_path, server):
    other = tmp_path / "other.sqlite3"
    with CacheStore.open(f"sqlite:///{other}") as store:
        store.upsert_events("elsewhere", [normalize_event(server.all_events()[0])])
    window.profiles.open_cache(str(other))
    assert window.model.rowCount() == 1
    assert window.windowTitle() == "elsewhere"
    assert str(other) in window.status_area.label.text()


class _SavesProfile:
    """Stands in for ProfileDialog: the admin fills it in with ``profile`` and clicks Save."""

    DialogCode = ProfileDialog.DialogCode
    opened: ClassVar[list[tuple[str, object]]] = []

    def __init__(self, profile, secrets, parent, *, filled=None, secret=None):
        self.profile, self.session_secret = filled, secret
        type(self).opened.append(("Profile settings" if profile else "New profile", profile))

    def exec(self):
        return self.DialogCode.Accepted if self.profile else self.DialogCode.Rejected


def fill_profile_dialog(monkeypatch, filled=None, secret=None) -> list:
    opened: list = []

    class Dialog(_SavesProfile):
        def __init__(self, profile, secrets, parent):
            super().__init__(profile, secrets, parent, filled=filled, secret=secret)

    Dialog.opened = opened
    monkeypatch.setattr(profile_controller, "ProfileDialog", Dialog)
    return opened


def test_saving_a_new_profile_starts_its_first_sync(window, qtbot, server, monkeypatch):
    lab = config.Profile(name="lab", base_url=server.url, client_id=server.client_id)
    opened = fill_profile_dialog(monkeypatch, filled=lab, secret=server.secret)
    with qtbot.waitSignal(window.syncFinished, timeout=60_000) as finished:
        window.acts.new_profile.trigger()
    assert opened == [("New profile", None)]
    assert window.windowTitle() == "lab"
    assert finished.args[0].new_events == len(server.all_events())
    assert window.model.rowCount() == len(server.all_events())


def test_profile_settings_of_a_cache_synced_from_the_command_line_start_from_its_name(
    qtbot, tmp_path, server, monkeypatch
):
    cli_synced = "127.0.0.1:8765-demo-client"  # the name `audit-viewer sync` derives
    with CacheStore.open(tmp_path / "c.sqlite3") as store:
        store.upsert_events(cli_synced, [normalize_event(server.all_events()[0])])
    win = create_window(["--cache", str(tmp_path / "c.sqlite3")])
    qtbot.addWidget(win)
    opened = fill_profile_dialog(monkeypatch)
    win.acts.profile.trigger()
    ((title, profile),) = opened
    assert title == "Profile settings" and profile.name == cli_synced
    win.close()


def shared_archive(path: Path, server) -> Path:
    """A cache holding two tenants' events: alpha 1, beta 2."""
    events = [normalize_event(e) for e in server.all_events()[:3]]
    with CacheStore.open(f"sqlite:///{path}") as store:
        store.upsert_events("alpha", events[:1])
        store.upsert_events("beta", events[1:])
    return path


def answer_which_profile(monkeypatch, answer: str | None) -> list[list[str]]:
    """Answer the "Which profile?" question with the entry starting with ``answer``."""
    asked: list[list[str]] = []

    def get_item(parent, title, label, items, current, editable):
        asked.append(list(items))
        chosen = [item for item in items if answer and item.startswith(f"{answer} (")]
        return (chosen[0], True) if chosen else ("", False)

    monkeypatch.setattr(profile_controller.QInputDialog, "getItem", staticmethod(get_item))
    return asked


def test_opening_a_cache_of_several_profiles_asks_which(
    window, qtbot, tmp_path, server, monkeypatch
):
    archive = shared_archive(tmp_path / "shared.sqlite3", server)
    asked = answer_which_profile(monkeypatch, "beta")
    window.profiles.open_cache(str(archive))
    assert asked == [["alpha (1 event)", "beta (2 events)"]]
    assert window.windowTitle() == "beta"
    assert window.model.rowCount() == 2
    assert str(archive) in window.status_area.label.text()


def test_not_choosing_keeps_the_cache_that_was_open(window, qtbot, tmp_path, server, monkeypatch):
    before = (window.windowTitle(), window.model.rowCount(), window.session.store.location)
    asked = answer_which_profile(monkeypatch, None)
    window.profiles.open_cache(str(shared_archive(tmp_path / "shared.sqlite3", server)))
    assert len(asked) == 1
    assert (window.windowTitle(), window.model.rowCount(), window.session.store.location) == before
    window.model.rowCount()  # the old store still answers
    assert window.session.store.count(PROFILE) == before[1]


def test_starting_on_a_cache_of_several_profiles_asks_which(qtbot, tmp_path, server, monkeypatch):
    archive = shared_archive(tmp_path / "shared.sqlite3", server)
    asked = answer_which_profile(monkeypatch, "alpha")
    win = create_window(["--cache", str(archive)])
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.windowTitle() == "alpha", timeout=5000)
    assert asked == [["alpha (1 event)", "beta (2 events)"]]
    assert win.model.rowCount() == 1
    win.close()


def test_declining_at_start_says_where_to_choose(qtbot, tmp_path, server, monkeypatch):
    answer_which_profile(monkeypatch, None)
    win = create_window(["--cache", str(shared_archive(tmp_path / "shared.sqlite3", server))])
    qtbot.addWidget(win)
    expected = "This cache holds 2 profiles; choose one in File → Cached profiles."
    qtbot.waitUntil(lambda: win.banner.text.text() == expected, timeout=5000)
    assert win.banner.isVisibleTo(win)
    assert win.model.rowCount() == 0 and win.windowTitle() == ""
    win.close()


# --------------------------------------------------------------------------------- settings


def test_layout_and_choices_survive_a_restart(qtbot, cache_path, saved_profile):
    args = ["--cache", str(cache_path), "--profile", PROFILE]
    first = create_window(args)
    qtbot.addWidget(first)
    menu = first.header.column_menu()
    toggles = {a.text(): a for a in menu.actions() if a.isCheckable()}
    toggles["Description"].setChecked(False)
    toggles["ID"].setChecked(True)
    first.header.resizeSection(COL_USER, 333)
    first.header.moveSection(first.header.visualIndex(COL_ACTION), 0)
    first.table.sortByColumn(COL_ACTION, Qt.SortOrder.AscendingOrder)
    first.acts.utc.setChecked(True)
    first.acts.bom.setChecked(True)
    first.acts.timeline.setChecked(False)
    first.resize(700, 500)
    first.close()

    second = create_window(args)
    qtbot.addWidget(second)
    header = second.header
    assert header.isSectionHidden(COL_DESCRIPTION)
    assert not header.isSectionHidden(second.model.column_of("id"))
    assert header.sectionSize(COL_USER) == 333
    assert header.visualIndex(COL_ACTION) == 0
    assert header.sortIndicatorSection() == COL_ACTION
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert second.acts.utc.isChecked() and second.model.is_utc
    assert "UTC" in second.model.headerData(COL_TIME, Qt.Orientation.Horizontal)
    assert second.acts.bom.isChecked()
    assert not second.acts.timeline.isChecked()
    assert second.size() == first.size()
    second.close()


# --------------------------------------------------------------------------------- status texts


def test_the_columns_button_shows_its_arrow_after_the_text(window, qtbot):
    button = window.findChild(QToolButton, "columnsButton")
    assert button.text() == "Columns ▾" and "menu-indicator { image: none" in button.styleSheet()
    assert button.menu() is window.columns_menu
    with qtbot.waitSignal(window.columns_menu.aboutToShow):
        window.columns_menu.popup(button.mapToGlobal(button.rect().bottomLeft()))
    assert "&Reset columns" in [a.text() for a in window.columns_menu.actions()]
    window.columns_menu.hide()


def test_a_long_status_line_is_elided_with_the_whole_text_in_its_tooltip(window, qtbot):
    label = window.status_area.label
    long_text = "Sync failed: " + "the platform said something long " * 20 + "END"
    label.setText(long_text)
    assert label.text() == long_text and label.toolTip() == long_text
    shown = QLabel.text(label)
    assert len(shown) < len(long_text) and "…" in shown and shown.endswith("END")


def test_sync_progress_says_one_page_not_one_pages(window):
    from audit_viewer.sync import SyncProgress

    start = datetime(2026, 11, 2, tzinfo=UTC)
    report = SyncProgress(
        ranges_done=0,
        ranges_total=1,
        pages=1,
        events=3,
        new_events=3,
        range_start=start,
        range_end=start + timedelta(days=1),
    )
    window.status_area.sync_progress(report, UTC, bar=True)
    assert "(3 new) in 1 page · at 2026-11-02" in window.status_area.label.text()


def test_status_texts():
    now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert status.ago(now - timedelta(minutes=5), now) == "5 min ago"
    assert status.ago(now - timedelta(seconds=5), now) == "just now"
    assert status.ago(now - timedelta(days=3), now) == "3 days ago"
    assert status.sync_phrase(None, None, None, now=now) == "never synced"
    assert status.sync_phrase(now, "failed", "Bad credentials.", now=now) == (
        "sync failed: Bad credentials."
    )
    line = status.status_line(1234, 56789, "sqlite:///c", "last sync 5 min ago", offline=False)
    assert line == "Showing 1,234 of 56,789 events · cache: sqlite:///c · last sync 5 min ago"
    offline = status.status_line(0, 0, "x", "never synced", offline=True)
    assert offline.endswith("· offline: no profile or secret to sync with, browsing the cache only")


def test_screenshot_renders(window, qtbot, tmp_path):
    """A smoke check that the whole window paints (light palette) without Qt warnings."""
    window.table.setCurrentIndex(window.model.index(0, COL_ACTION))
    pixmap = window.grab()
    assert not pixmap.isNull() and pixmap.width() > 800
    assert pixmap.save(str(tmp_path / "main.png"))


def test_the_keyboard_reaches_search_filters_save_and_sync(window, qtbot, tmp_path, monkeypatch):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search_bar.hasFocus()
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.search_bar, Qt.Key.Key_F, ctrl_shift)
    assert window.header.isAncestorOf(QGuiApplication.focusObject())

    target = tmp_path / "keys.csv"
    save_to(monkeypatch, target)
    window.table.setFocus()
    with qtbot.waitSignal(window.exportFinished, timeout=10_000):
        qtbot.keyClick(window.table, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert read_csv_ids(target) == shown_ids(window)

    with qtbot.waitSignal(window.syncFinished, timeout=30_000):
        qtbot.keyClick(window.table, Qt.Key.Key_F5)


def test_one_tab_order_walks_search_filters_table_and_detail_pane(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.table.setCurrentIndex(window.model.index(0, COL_USER))
    window.search_bar.setFocus(Qt.FocusReason.ShortcutFocusReason)
    walk = []
    for _ in range(7):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        walk.append(QApplication.focusWidget())
    header = window.header
    filters = [header.editor(c) for c in (COL_TIME, COL_USER, COL_ACTION, COL_DESCRIPTION)]
    # Inside the time filter its own button may take one stop; every filter comes in order.
    stops = [w for w in walk if w in filters or w is window.table]
    assert stops[: len(filters) + 1] == [*filters, window.table]
    after_table = walk[walk.index(window.table) + 1]
    assert window.detail.isAncestorOf(after_table)  # Tab leaves the table
    assert window.table.currentIndex().column() == COL_USER  # and did not move its cell


# ------------------------------------------------------------------ the table follows the filter


def test_filter_on_this_value_takes_the_whole_exact_value(window, qtbot):
    frame = window.model.frame
    quoted = frame["description"].astype(str)
    candidates = frame[quoted.str.contains("'") & (quoted.str.len() > 80)]
    assert len(candidates), "the sandbox writes long descriptions with quotes"
    wanted = str(candidates["description"].iat[0])
    row = window.model.view_row_of_id(str(candidates["id"].iat[0]))
    window.table.setCurrentIndex(window.model.index(row, COL_DESCRIPTION))
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.acts.filter_value.trigger()
    shown = set(frame["description"].take(window.model.visible_indices()))
    assert shown == {wanted}
    assert window.model.rowCount() == int((frame["description"] == wanted).sum())


def test_filter_on_a_user_is_that_user_not_every_user_containing_it(window, qtbot):
    frame = window.model.frame
    users = sorted(set(frame["user"].astype(str)))
    contained = [u for u in users if any(u != other and u in other for other in users)]
    user = contained[0] if contained else users[0]
    row = window.model.view_row_of_id(str(frame[frame["user"] == user]["id"].iat[0]))
    window.table.setCurrentIndex(window.model.index(row, COL_USER))
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.acts.filter_value.trigger()
    assert set(frame["user"].take(window.model.visible_indices())) == {user}


def test_the_detail_pane_follows_the_table_through_a_new_filter(window, qtbot):
    frame = window.model.frame
    user_row = window.model.view_row_of_id(str(frame[frame["actor_type"] == "user"]["id"].iat[0]))
    window.table.setCurrentIndex(window.model.index(user_row, COL_USER))
    assert window.detail.record()["actor_type"] == "user"
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.filtering.set(window.filtering.state.with_search("actor:scm"))
    record = window.detail.record()
    current = window.table.currentIndex()
    if current.isValid():
        assert record is not None and record["id"] == window.model.record(current.row())["id"]
    else:
        assert record is None
    assert record is None or record["actor_type"] == "scm"


def test_no_match_says_so_and_offers_to_clear(window, qtbot):
    window.table.setCurrentIndex(window.model.index(0, COL_USER))
    assert window.detail.record() is not None
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        qtbot.keyClicks(window.search_bar, "nothing-matches-this-at-all")
    assert window.model.rowCount() == 0
    assert window.detail.record() is None  # not the event the filter removed
    assert window.no_match.isVisible()
    assert window.no_match.geometry() == window.table.viewport().rect()
    assert window.findChild(QLabel, "noMatchText").text() == "No events match these filters."
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        qtbot.mouseClick(window.findChild(QToolButton, "noMatchClear"), Qt.MouseButton.LeftButton)
    assert window.model.rowCount() == len(window.frame)
    assert not window.no_match.isVisible() and window.search_bar.text() == ""


def test_a_new_query_starts_at_the_top(window, qtbot):
    bar = window.table.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    assert bar.value() > 0
    with qtbot.waitSignal(window.filtersApplied, timeout=3000):
        window.filtering.set(window.filtering.state.with_search("-bot"))
    assert bar.value() == 0


def test_save_refuses_while_a_filter_does_not_parse(window, qtbot, tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    calls = save_to(monkeypatch, target)
    window.filtering.set(window.filtering.state.with_search('"open'))
    window.acts.export.trigger()
    assert calls == [] and not target.exists()  # no dialog, no file
    assert window.banner.isVisible()
    assert window.banner.text.text().startswith("Not saved: fix the filter marked in red")
