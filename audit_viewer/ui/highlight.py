"""Cell delegate that marks the search's matches inside the table's text.

Cells without a match are painted by :class:`QStyledItemDelegate` unchanged (the fast, native
path). A cell with a match gets the native background/selection/focus, then its one line of text
elided like the view would, laid out with :class:`QTextLayout` so the matched characters get the
palette's match colour (amber on light, dimmed amber on dark, see :mod:`audit_viewer.ui.theme`).
The pattern comes from the model's ``HighlightRole``, so the delegate needs no state of its own.
Rows are one line: the view should ``setWordWrap(False)`` (matched cells never wrap).
"""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPointF, Qt
from PySide6.QtGui import QPainter, QPalette, QTextCharFormat, QTextLayout, QTextOption
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from audit_viewer.ui.table_model import HighlightRole
from audit_viewer.ui.theme import match_highlight_color

_ITEM = QStyle.ControlElement.CE_ItemViewItem


class HighlightDelegate(QStyledItemDelegate):
    """Paints matches of ``index.data(HighlightRole)`` with a highlighted background."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._formats: dict[int, QTextCharFormat] = {}

    def _match_format(self, palette: QPalette) -> QTextCharFormat:
        """The look of a match under ``palette``, made once per palette, not once per cell."""
        key = palette.cacheKey()
        match = self._formats.get(key)
        if match is None:
            match = QTextCharFormat()
            match.setBackground(match_highlight_color(palette))
            # The match colour is tuned against the palette's normal text colour (dark on
            # amber, light on dimmed amber), so matches keep it even inside a selected row.
            match.setForeground(palette.color(QPalette.ColorRole.Text))
            if len(self._formats) > 8:  # palettes come and go with theme changes
                self._formats.clear()
            self._formats[key] = match
        return match

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        pattern = index.data(HighlightRole)
        # Most cells hold no match: Qt's own painting, with no option copied in Python.
        if not isinstance(pattern, re.Pattern) or not pattern.search(index.data() or ""):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        text = opt.text
        opt.text = ""
        style.drawControl(_ITEM, opt, painter, widget)

        rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        rect = rect.adjusted(margin, 0, -margin, 0)
        shown = opt.fontMetrics.elidedText(text, opt.textElideMode, rect.width())

        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = (
            QPalette.ColorGroup.Active
            if opt.state & QStyle.StateFlag.State_Active
            else QPalette.ColorGroup.Inactive
        )
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        match = self._match_format(opt.palette)
        ranges = []
        for found in pattern.finditer(shown):
            if found.end() > found.start():
                span = QTextLayout.FormatRange()
                span.start, span.length, span.format = (
                    found.start(),
                    found.end() - found.start(),
                    match,
                )
                ranges.append(span)

        layout = QTextLayout(shown, opt.font)
        text_option = QTextOption(opt.displayAlignment & Qt.AlignmentFlag.AlignHorizontal_Mask)
        text_option.setTextDirection(opt.direction)
        layout.setTextOption(text_option)
        layout.setFormats(ranges)
        layout.beginLayout()
        line = layout.createLine()
        line.setLineWidth(rect.width())
        layout.endLayout()
        top = rect.top() + (rect.height() - line.height()) / 2
        painter.save()
        painter.setClipRect(rect)
        painter.setPen(opt.palette.color(group, text_role))
        layout.draw(painter, QPointF(rect.left(), top))
        painter.restore()
