"""The detail pane: every field of the selected event, its description's pairs, links, raw JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QPalette, QTextCursor, QTextTable
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QPushButton, QTextBrowser, QWidget

from audit_viewer.events import normalize_event
from audit_viewer.ui.detail_pane import (
    EMPTY_TEXT,
    EXTRAS_TABLE,
    FIELDS_TABLE,
    PAIRS_TABLE,
    DetailPane,
    is_web_url,
)

pytestmark = pytest.mark.gui

BERLIN = ZoneInfo("Europe/Berlin")
RULE_ID = "d495a58f-7d4c-48e4-a4e4-30f781fbe150"


def record_of(**raw_fields) -> dict:
    """A row as the table model hands it over: the frame's columns for one event."""
    raw = {
        "id": "01JE19R1NNYJ7JW9VJGZCD13S9",
        "created_at": "2026-11-02T14:03:11.482Z",
        "user_name": "alice",
        "user_email": "alice@example.com",
        "actor_type": "user",
        "action": "Findings ignored from backlog",
        "description": (
            "2 findings ignored, Reason: 'false_positive', Comment: 'Not relevant findings', "
            f"Ignore rule ID: '{RULE_ID}', URL: 'https://platform.jit.io/backlog?id=1&x=2'"
        ),
    }
    raw.update(raw_fields)
    row = normalize_event(raw)
    return {
        "id": row.id,
        "created_at": pd.Timestamp(row.created_at),
        "user": row.user,
        "user_name": row.user_name if row.user_name is not None else pd.NA,
        "user_email": row.user_email if row.user_email is not None else pd.NA,
        "actor_type": row.actor_type,
        "action": row.action,
        "description": row.description,
        "flags": row.flags,
        "raw": row.raw,
    }


@pytest.fixture
def pane(qtbot) -> Iterator[DetailPane]:
    # Embedded in a layout-less host, as in the main window: a top-level widget with a layout
    # makes the offscreen platform warn about size hints, and Qt warnings fail tests here.
    host = QWidget()
    qtbot.addWidget(host)
    host.resize(480, 700)
    widget = DetailPane(host)
    widget.setGeometry(0, 0, 480, 700)
    host.show()
    qtbot.waitExposed(host)
    yield widget  # a generator fixture keeps `host` (and so the pane) alive through the test


def text_of(pane: DetailPane) -> str:
    return pane.findChild(QTextBrowser, "detailText").toPlainText()


def cell_text(table: QTextTable, row: int, column: int) -> str:
    cell = table.cellAt(row, column)
    cursor = cell.firstCursorPosition()
    cursor.setPosition(cell.lastCursorPosition().position(), QTextCursor.MoveMode.KeepAnchor)
    return cursor.selectedText().replace("\u2029", "\n").strip()


def table_rows(pane: DetailPane, name: str) -> list[tuple[str, str]] | None:
    document = pane.findChild(QTextBrowser, "detailText").document()
    for frame in document.rootFrame().childFrames():
        if isinstance(frame, QTextTable) and frame.objectName() == name:
            return [(cell_text(frame, r, 0), cell_text(frame, r, 1)) for r in range(frame.rows())]
    return None


def links(pane: DetailPane) -> list[tuple[str, str]]:
    """(shown text, target) of every link in the document, in order."""
    found = []
    block = pane.findChild(QTextBrowser, "detailText").document().begin()
    while block.isValid():
        for position in block:
            fragment = position.fragment()
            if fragment.charFormat().isAnchor():
                found.append((fragment.text(), fragment.charFormat().anchorHref()))
        block = block.next()
    return found


def test_a_flagged_event_says_why_in_a_flags_row(pane: DetailPane) -> None:
    pane.show_record(record_of(created_at="1970-01-01T00:00:00Z", user_name="a\u0000b"), BERLIN)
    rows = dict(table_rows(pane, FIELDS_TABLE))
    assert [line.split(":")[0] for line in rows["Flags"].splitlines()] == [
        "Flagged time",
        "Flagged text",
    ]
    assert list(rows)[-2:] == ["Flags", "ID"]


def test_starts_empty_with_a_hint(pane: DetailPane) -> None:
    assert pane.objectName() == "detailPane"
    hint = pane.findChild(QLabel, "detailEmpty")
    assert hint.isVisible() and hint.text() == EMPTY_TEXT
    assert not pane.findChild(QPushButton, "copyJsonButton").isEnabled()
    assert pane.record() is None


def test_shows_every_field_with_local_and_utc_time(pane: DetailPane) -> None:
    pane.show_record(record_of(), BERLIN)
    assert not pane.findChild(QLabel, "detailEmpty").isVisible()
    assert dict(table_rows(pane, FIELDS_TABLE)) == {
        "Time (Europe/Berlin)": "2026-11-02 15:03:11.482 CET (UTC+01:00)",
        "Time (UTC)": "2026-11-02T14:03:11.482Z",
        "User": "alice@example.com",
        "User name": "alice",
        "User email": "alice@example.com",
        "Actor type": "user",
        "Action": "Findings ignored from backlog",
        "ID": "01JE19R1NNYJ7JW9VJGZCD13S9",
    }
    shown = text_of(pane)
    assert shown.startswith("Findings ignored from backlog\n2026-11-02 15:03:11.482 CET")
    assert "by alice@example.com" in shown


def test_an_action_with_a_value_shows_its_family_and_the_value(pane: DetailPane) -> None:
    pane.show_record(record_of(action="Removed user bob@example.com from account"), UTC)
    rows = dict(table_rows(pane, FIELDS_TABLE))
    assert rows["Action family"] == "Removed user … from account"
    assert rows["Target"] == "bob@example.com"
    pane.show_record(record_of(), UTC)  # most actions hold no value: no such rows
    assert "Action family" not in dict(table_rows(pane, FIELDS_TABLE))


def test_in_utc_the_time_is_shown_once(pane: DetailPane) -> None:
    pane.show_record(record_of(), ZoneInfo("UTC"))
    keys = [key for key, _value in table_rows(pane, FIELDS_TABLE)]
    assert keys.count("Time (UTC)") == 1
    assert not any(key.startswith("Time (") and key != "Time (UTC)" for key in keys)


def test_missing_values_show_a_dash(pane: DetailPane) -> None:
    pane.show_record(
        record_of(actor_type="scm", user_name="octo-bot", user_email=None, description=""),
        BERLIN,
    )
    fields = dict(table_rows(pane, FIELDS_TABLE))
    assert fields["User"] == "octo-bot (scm)"
    assert fields["User email"] == "—"
    assert "No description" in text_of(pane)
    assert table_rows(pane, PAIRS_TABLE) is None


def test_description_pairs_become_a_key_value_table(pane: DetailPane) -> None:
    record = record_of()
    pane.show_record(record, BERLIN)
    assert record["description"] in text_of(pane)  # the full text, too
    assert table_rows(pane, PAIRS_TABLE) == [
        ("Reason", "false_positive"),
        ("Comment", "Not relevant findings"),
        ("Ignore rule ID", RULE_ID),
        ("URL", "https://platform.jit.io/backlog?id=1&x=2"),
    ]


def test_only_web_urls_become_links(pane: DetailPane) -> None:
    description = (
        "URL: 'https://platform.jit.io/backlog?id=1&x=2', Other: 'javascript:alert(1)', "
        "File: 'file:///etc/passwd', see http://example.com/a. and ftp://example.com/b"
    )
    pane.show_record(record_of(description=description), BERLIN)
    targets = {target for _text, target in links(pane)}
    assert targets == {"https://platform.jit.io/backlog?id=1&x=2", "http://example.com/a"}
    assert (
        "https://platform.jit.io/backlog?id=1&x=2",
        "https://platform.jit.io/backlog?id=1&x=2",
    ) in links(pane)
    assert "javascript:alert(1)" in text_of(pane)  # shown, just not clickable


def test_clicking_a_link_opens_only_http_and_https(pane: DetailPane, monkeypatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    browser = pane.findChild(QTextBrowser, "detailText")
    pane.show_record(record_of(), BERLIN)
    for url in ("https://platform.jit.io/x", "javascript:alert(1)", "file:///etc/passwd"):
        browser.anchorClicked.emit(QUrl(url))
    assert opened == ["https://platform.jit.io/x"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://platform.jit.io/backlog?id=1&x=2", True),
        ("HTTP://EXAMPLE.COM", True),
        ("https://", False),
        ("javascript:alert(1)", False),
        ("https://a.b/c d", False),
        ('https://a.b/"onmouseover="x', False),
        ("https://[::1/", False),
        ("", False),
    ],
)
def test_web_url_check(text: str, expected: bool) -> None:
    assert is_web_url(text) is expected


def test_hostile_markup_shows_literally(pane: DetailPane) -> None:
    hostile = "<b>x</b> <script>alert(1)</script> &amp; <a href='javascript:alert(2)'>y</a>"
    pane.show_record(
        record_of(
            action="<i>Export</i>",
            user_email="<img src=x>@evil.test",
            description=f"{hostile}, Comment: '<b>bold?</b>'",
        ),
        BERLIN,
    )
    shown = text_of(pane)
    assert hostile in shown
    assert "<i>Export</i>" in shown
    assert "<img src=x>@evil.test" in shown
    assert ("Comment", "<b>bold?</b>") in table_rows(pane, PAIRS_TABLE)
    assert links(pane) == []


def test_extra_fields_are_listed_with_nested_values_as_json(pane: DetailPane) -> None:
    pane.show_record(
        record_of(ip_address="203.0.113.7", metadata={"source": "web", "ids": [1, 2]}), BERLIN
    )
    extras = dict(table_rows(pane, EXTRAS_TABLE))
    assert extras["ip_address"] == "203.0.113.7"
    assert json.loads(extras["metadata"]) == {"source": "web", "ids": [1, 2]}
    assert "\n" not in extras["metadata"]


def test_raw_json_is_pretty_and_copy_puts_valid_json_on_the_clipboard(
    qtbot, pane: DetailPane
) -> None:
    record = record_of(metadata={"n": 1})
    pane.show_record(record, BERLIN)
    raw_view = pane.findChild(QPlainTextEdit, "rawJson")
    assert raw_view.isReadOnly()
    assert json.loads(raw_view.toPlainText()) == json.loads(record["raw"])
    assert "\n  " in raw_view.toPlainText()  # indented, one field a line

    QGuiApplication.clipboard().clear()
    button = pane.findChild(QPushButton, "copyJsonButton")
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert json.loads(QGuiApplication.clipboard().text()) == json.loads(record["raw"])
    assert button.text() == "Copied"


def test_a_20_kb_description_is_shown_whole(qtbot, pane: DetailPane) -> None:
    comment = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 350
    description = f"Bulk import finished, Comment: '{comment}', ID: 'bulk-0001'"
    pane.show_record(record_of(description=description), BERLIN)
    assert description in text_of(pane)
    pairs = dict(table_rows(pane, PAIRS_TABLE))
    assert pairs["ID"] == "bulk-0001"
    assert pairs["Comment"].startswith(comment[:300])
    assert "characters; all of it is in the description above" in pairs["Comment"]
    raw_view = pane.findChild(QPlainTextEdit, "rawJson")
    assert json.loads(raw_view.toPlainText())["description"] == description
    browser = pane.findChild(QTextBrowser, "detailText")
    qtbot.waitUntil(lambda: browser.verticalScrollBar().maximum() > 0)  # it scrolls


def test_none_clears_the_pane(pane: DetailPane) -> None:
    pane.show_record(record_of(), BERLIN)
    pane.show_record(None, BERLIN)
    assert pane.record() is None
    assert pane.findChild(QLabel, "detailEmpty").isVisible()
    assert text_of(pane) == ""
    assert pane.findChild(QPlainTextEdit, "rawJson").toPlainText() == ""
    assert not pane.findChild(QPushButton, "copyJsonButton").isEnabled()


def test_unparsable_raw_text_is_still_shown(pane: DetailPane) -> None:
    record = record_of()
    record["raw"] = "{not json"
    pane.show_record(record, BERLIN)
    assert pane.findChild(QPlainTextEdit, "rawJson").toPlainText() == "{not json"
    assert table_rows(pane, EXTRAS_TABLE) is None


def test_a_palette_switch_keeps_the_event_shown(pane: DetailPane) -> None:
    pane.show_record(record_of(), BERLIN)
    dark = QPalette(pane.palette())
    dark.setColor(QPalette.ColorRole.Window, Qt.GlobalColor.black)
    dark.setColor(QPalette.ColorRole.WindowText, Qt.GlobalColor.white)
    pane.setPalette(dark)
    assert dict(table_rows(pane, FIELDS_TABLE))["User name"] == "alice"
    assert pane.record()["user_name"] == "alice"
