"""The detail pane: everything one audit event holds, readable, selectable and copyable.

Descriptions are hostile text (anything a user typed into a comment ends up here). The pane never
parses record text as HTML: the document is built with QTextCursor.insertText, so ``<script>``
stays characters on screen, and only ``http``/``https`` URLs become links (checked again before
opening). Everything above the raw JSON is one rich-text document, which keeps a change of row
quick even for a 20 KB description, lets long unbroken values wrap, and lets the reader select
across fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from PySide6.QtCore import QEvent, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QDesktopServices,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextTableFormat,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedLayout,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from audit_viewer.action_families import embedded_values, family
from audit_viewer.description import extra_fields, parse_pairs
from audit_viewer.events import flag_sentences, format_timestamp, in_zone
from audit_viewer.ui import theme
from audit_viewer.ui.icons import icon

EMPTY_TEXT = "Select an event to see its details"

#: objectNames of the tables in the detail document (QTextTable is a QObject).
FIELDS_TABLE = "fieldsTable"
PAIRS_TABLE = "pairsTable"
EXTRAS_TABLE = "extrasTable"

_WEB_SCHEMES = ("http", "https")
# A URL inside free text ends at whitespace, quotes or angle brackets; trailing punctuation
# ("see https://x.io/a.") belongs to the sentence, not the link.
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}"
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f<>\"'`\\]")
# The pairs table is for scanning; a pair value this long is cut there (the description section
# above holds it whole), which also halves the layout work for a 20 KB comment.
_PAIR_VALUE_LIMIT = 1000
_PAIR_VALUE_SHOWN = 300


def is_web_url(text: str) -> bool:
    """Whether ``text`` is exactly one absolute http(s) URL with a host, safe to offer as a link."""
    if not text or _UNSAFE_IN_URL.search(text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in _WEB_SCHEMES and bool(host)


def _link_pieces(text: str) -> list[tuple[str, str | None]]:
    """Split free text into (text, link target or None) pieces at its http(s) URLs."""
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for match in _URL_IN_TEXT.finditer(text):
        url = match.group().rstrip(_TRAILING_PUNCTUATION)
        if not is_web_url(url):
            continue
        if match.start() > position:
            pieces.append((text[position : match.start()], None))
        pieces.append((url, url))
        position = match.start() + len(url)
    if position < len(text):
        pieces.append((text[position:], None))
    return pieces


def _text(value: Any) -> str | None:
    """A record value as display text; None / NA / NaN are missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, str) else str(value)


def _extra_text(value: Any) -> str:
    """Extra-field values: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _as_utc(value: Any) -> datetime | None:
    """created_at (pandas Timestamp, datetime, or ISO text) -> aware UTC datetime."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is None:
            value = value.tz_localize(UTC)
        return value.tz_convert(UTC).to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    try:
        parsed = pd.Timestamp(str(value))
    except ValueError:
        return None
    return _as_utc(parsed)


def _zone_name(tz: tzinfo | None, moment: datetime) -> str:
    key = getattr(tz, "key", None)
    return key if isinstance(key, str) else (moment.tzname() or "local")


def _is_utc(moment: datetime) -> bool:
    return moment.utcoffset() == timedelta(0) and (moment.tzname() or "UTC") in ("UTC", "GMT", "Z")


def _local_time_text(moment: datetime) -> str:
    """``2026-11-02 15:03:11.482 CET (UTC+01:00)``: the zone's name and the exact offset."""
    text = f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}"
    if _is_utc(moment):
        return f"{text} UTC"
    offset = moment.utcoffset() or timedelta(0)
    minutes = abs(offset) // timedelta(minutes=1)
    exact = f"UTC{'-' if offset < timedelta(0) else '+'}{minutes // 60:02d}:{minutes % 60:02d}"
    zone = moment.tzname() or ""
    return f"{text} {zone} ({exact})" if zone.isalpha() else f"{text} ({exact})"


def _plain_lines(text: str) -> str:
    """Newlines as QTextCursor understands them (it splits blocks on \\n only)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _Writer:
    """Appends headings, tables and text to a document with palette-derived formats."""

    def __init__(self, cursor: QTextCursor, palette: QPalette, font: QFont) -> None:
        self.cursor = cursor
        self.plain = QTextCharFormat()
        self.muted = QTextCharFormat()
        self.muted.setForeground(theme.muted_text_color(palette))
        self.heading = QTextCharFormat(self.muted)
        self.heading.setFontWeight(QFont.Weight.DemiBold)
        self.title = QTextCharFormat()
        self.title.setFontWeight(QFont.Weight.DemiBold)
        self.title.setFontPointSize(font.pointSizeF() * 1.3)
        self.strong = QTextCharFormat()
        self.strong.setFontWeight(QFont.Weight.DemiBold)
        self.link = QTextCharFormat()
        self.link.setAnchor(True)
        self.link.setForeground(palette.color(QPalette.ColorRole.Link))
        self.link.setFontUnderline(True)
        self._reuse_block = True

    def block(self, *, top: float = 0, bottom: float = 2) -> None:
        fmt = QTextBlockFormat()
        fmt.setTopMargin(top)
        fmt.setBottomMargin(bottom)
        if self._reuse_block:  # an empty document, or the block after a table
            self.cursor.setBlockFormat(fmt)
            self._reuse_block = False
        else:
            self.cursor.insertBlock(fmt, self.plain)

    def text(self, text: str, fmt: QTextCharFormat | None = None, *, links: bool = True) -> None:
        """Literal text (never parsed as markup); http(s) URLs in it become links."""
        text = _plain_lines(text)
        for piece, target in _link_pieces(text) if links else [(text, None)]:
            if target is None:
                self.cursor.insertText(piece, fmt or self.plain)
            else:
                link = QTextCharFormat(self.link)
                link.setAnchorHref(target)
                self.cursor.insertText(piece, link)

    def section(self, title: str) -> None:
        self.block(top=14, bottom=4)
        self.cursor.insertText(title, self.heading)

    def table(self, name: str, rows: list[tuple[str, str | None, str | None]]) -> None:
        """Key/value rows; a ``None`` value shows a muted dash, a note follows the value muted."""
        self.block(bottom=0)
        fmt = QTextTableFormat()
        fmt.setBorder(0)
        fmt.setCellSpacing(0)
        fmt.setCellPadding(2)
        fmt.setBorderStyle(QTextTableFormat.BorderStyle.BorderStyle_None)
        fmt.setBottomMargin(12)  # Qt ignores the top margin of the block right after a table
        table = self.cursor.insertTable(len(rows), 2, fmt)
        table.setObjectName(name)
        for row, (key, value, note) in enumerate(rows):
            key_cursor = table.cellAt(row, 0).firstCursorPosition()
            key_cursor.insertText(key + "\u2003", self.muted)
            self.cursor = table.cellAt(row, 1).firstCursorPosition()
            if value is None:
                self.cursor.insertText("—", self.muted)
            else:
                self.text(value)
            if note:
                self.cursor.insertText(note, self.muted)
        # Qt keeps an empty block after a table; the next block() fills it instead of adding one.
        self.cursor = table.document().rootFrame().lastCursorPosition()
        self._reuse_block = True


class DetailPane(QWidget):
    """Shows one event: header, all fields, description, its Key: 'value' pairs, extras, JSON."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPane")
        self.setAccessibleName("Event details")
        self._record: dict[str, Any] | None = None
        self._tz: tzinfo | None = UTC
        self._json_text = ""

        self._empty = QLabel(EMPTY_TEXT)
        self._empty.setObjectName("detailEmpty")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)

        self._text = QTextBrowser()
        self._text.setObjectName("detailText")
        self._text.setAccessibleName("Event fields and description")
        self._text.setOpenLinks(False)  # _open_link opens them, after a scheme check
        self._text.anchorClicked.connect(self._open_link)

        self._json = QPlainTextEdit()
        self._json.setObjectName("rawJson")
        self._json.setAccessibleName("Raw JSON")
        self._json.setReadOnly(True)
        self._json.setTabChangesFocus(True)
        self._json.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        self._copy = QPushButton("Copy JSON")
        self._copy.setObjectName("copyJsonButton")
        self._copy.setToolTip("Copy the event's raw JSON to the clipboard")
        self._copy.clicked.connect(self.copy_json)
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.setInterval(1500)
        self._copied_timer.timeout.connect(lambda: self._copy.setText("Copy JSON"))

        json_title = QLabel("Raw &JSON")
        json_title.setBuddy(self._json)
        font = json_title.font()
        font.setBold(True)
        json_title.setFont(font)
        json_header = QHBoxLayout()
        json_header.setContentsMargins(0, 0, 0, 0)
        json_header.addWidget(json_title)
        json_header.addStretch(1)
        json_header.addWidget(self._copy)
        json_box = QWidget()
        json_layout = QVBoxLayout(json_box)
        json_layout.setContentsMargins(0, 4, 0, 0)
        json_layout.addLayout(json_header)
        json_layout.addWidget(self._json)

        self._splitter = QSplitter(Qt.Orientation.Vertical)
        self._splitter.setObjectName("detailSplitter")
        self._splitter.setChildrenCollapsible(False)
        self._splitter.addWidget(self._text)
        self._splitter.addWidget(json_box)
        self._splitter.setStretchFactor(0, 3)
        self._splitter.setStretchFactor(1, 1)
        self._splitter.setSizes([700, 260])

        self._apply_palette()

        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        self._stack.addWidget(self._empty)
        self._stack.addWidget(self._splitter)
        self.show_record(None)

    # ----------------------------------------------------------------------------- public API
    def show_record(self, record: Mapping[str, Any] | None, tz: tzinfo | None = UTC) -> None:
        """Show ``record`` (the frame's columns as a mapping) with times in ``tz``.

        ``tz=None`` means the system's local zone; ``record=None`` shows the empty state.
        """
        self._record = None if record is None else dict(record)
        self._tz = tz
        self._copied_timer.stop()
        self._copy.setText("Copy JSON")
        self._text.clear()
        if self._record is None:
            self._json.clear()
            self._json_text = ""
            self._copy.setEnabled(False)
            self._stack.setCurrentWidget(self._empty)
            return
        raw = _text(self._record.get("raw")) or ""
        self._json_text = self._pretty_json(raw)
        self._write(self._record, raw)
        self._json.setPlainText(self._json_text)
        self._copy.setEnabled(bool(self._json_text))
        self._stack.setCurrentWidget(self._splitter)

    def record(self) -> dict[str, Any] | None:
        """The record shown now, or ``None`` in the empty state."""
        return self._record

    def copy_json(self) -> None:
        """Put the event's JSON (pretty-printed) on the clipboard."""
        if not self._json_text:
            return
        QGuiApplication.clipboard().setText(self._json_text)
        self._copy.setText("Copied")
        self._copied_timer.start()

    # ------------------------------------------------------------------------------ building
    @staticmethod
    def _pretty_json(raw: str) -> str:
        try:
            return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
        except ValueError:
            return raw  # not JSON after all: show it as stored rather than nothing

    def _write(self, record: dict[str, Any], raw: str) -> None:
        cursor = QTextCursor(self._text.document())
        cursor.beginEditBlock()
        out = _Writer(cursor, self.palette(), self.font())

        created = _as_utc(record.get("created_at"))
        local = in_zone(created, self._tz) if created is not None else None
        action = _text(record.get("action")) or ""
        user = _text(record.get("user")) or ""

        out.block(bottom=2)
        if action:
            out.text(action, out.title, links=False)
        else:
            out.cursor.insertText("(no action)", out.muted)
        if local is not None or user:
            out.block(bottom=0)
            if local is not None:
                out.cursor.insertText(_local_time_text(local), out.muted)
            if user:
                out.cursor.insertText(" · by " if local is not None else "by ", out.muted)
                out.text(user, out.strong, links=False)

        fields: list[tuple[str, str | None, str | None]] = []
        if local is not None and not _is_utc(local):
            fields.append((f"Time ({_zone_name(self._tz, local)})", _local_time_text(local), None))
        fields += [
            ("Time (UTC)", format_timestamp(created) if created is not None else None, None),
            ("User", user or None, None),
            ("User name", _text(record.get("user_name")) or None, None),
            ("User email", _text(record.get("user_email")) or None, None),
            ("Actor type", _text(record.get("actor_type")) or None, None),
            ("Action", action or None, None),
        ]
        embedded = embedded_values(action) if action else []
        if embedded:  # "Removed user bob@… from account": the family and its value apart
            fields += [
                ("Action family", family(action), None),
                ("Target", ", ".join(embedded), None),
            ]
        fields.append(("ID", _text(record.get("id")) or None, None))
        # Only an odd event gets the row: it says why its time or text is not what was sent.
        flags = flag_sentences(_text(record.get("flags")) or "")
        if flags:
            fields.insert(len(fields) - 1, ("Flags", "\n".join(flags), None))
        out.section("Fields")
        out.table(FIELDS_TABLE, fields)

        description = _text(record.get("description")) or ""
        out.section("Description")
        out.block()
        if description:
            out.text(description)
        else:
            out.cursor.insertText("No description", out.muted)

        pairs = parse_pairs(description) if description else []
        if pairs:
            rows: list[tuple[str, str | None, str | None]] = []
            for key, value in pairs:
                if len(value) > _PAIR_VALUE_LIMIT:
                    note = f" … ({len(value):,} characters; all of it is in the description above)"
                    rows.append((key, value[:_PAIR_VALUE_SHOWN], note))
                else:
                    rows.append((key, value, None))
            out.section("Values in the description")
            out.table(PAIRS_TABLE, rows)

        extras = extra_fields(raw) if raw else {}
        if extras:
            out.section("Extra fields")
            out.table(EXTRAS_TABLE, [(str(k), _extra_text(v), None) for k, v in extras.items()])
        cursor.endEditBlock()
        self._text.moveCursor(QTextCursor.MoveOperation.Start)

    # ---------------------------------------------------------------------------- behaviour
    def _apply_palette(self) -> None:
        self._copy.setIcon(icon("copy", self.palette()))
        hint = self._empty.palette()
        hint.setColor(QPalette.ColorRole.WindowText, theme.muted_text_color(self.palette()))
        self._empty.setPalette(hint)

    def _open_link(self, url: QUrl) -> None:
        """Open a clicked link in the browser, but only if it really is http(s)."""
        if url.scheme().lower() in _WEB_SCHEMES and url.host():
            QDesktopServices.openUrl(url)

    def changeEvent(self, event: QEvent) -> None:
        """Re-render on a palette switch: the document carries colours taken from the palette."""
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
            if self._record is not None:
                self.show_record(self._record, self._tz)
        super().changeEvent(event)
