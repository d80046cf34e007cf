"""The timeline above the table: events per hour/day/week/month for the rows the filters leave.

It is the quickest way to see *when* something happened (a burst of ignored findings, a quiet
weekend) and to narrow the Time filter by dragging across the bars. Buckets follow the calendar
of the shown time zone, so a day is local midnight to local midnight even across a DST change
(23 or 25 hours). Binning is vectorized over int64 nanoseconds: a million timestamps take a few
milliseconds. Drawn with QPainter only.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise

import numpy as np
import pandas as pd
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QApplication, QSizePolicy, QToolTip, QWidget

from audit_viewer.events import FUTURE_TOLERANCE, PLAUSIBLE_START
from audit_viewer.ui import theme

HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# How far a time filter may widen the chart beyond the data (a custom range over decades would
# otherwise squeeze every event into one sliver).
_MAX_RANGE_PADDING_NS = 366 * DAY_NS

# Label steps (in buckets) that land on natural boundaries, smallest first.
_NICE_STEPS = {
    "hour": (1, 2, 3, 6, 12, 24, 48),
    "day": (1, 2, 7, 14, 28, 56, 91),
    "week": (1, 2, 4, 13, 26, 52, 104),
    "month": (1, 2, 3, 6, 12, 24, 60, 120),
}


def _unit_for_span(span_ns: int) -> str:
    """Hours under 3 days, days up to about a year, then weeks, then months (long archives)."""
    if span_ns < 3 * DAY_NS:
        return "hour"
    if span_ns <= 400 * DAY_NS:
        return "day"
    if span_ns <= 8 * 366 * DAY_NS:
        return "week"
    return "month"


def _local(ns: int, tz: tzinfo | None) -> datetime:
    """UTC nanoseconds -> aware datetime in ``tz`` (``None``: the system's local zone)."""
    return (_EPOCH + timedelta(microseconds=ns // 1000)).astimezone(tz)


def _ns(moment: datetime) -> int:
    """Aware datetime (naive counts as UTC) -> UTC nanoseconds since the epoch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND * 1000


def _clamped_ns(moment: datetime | None) -> int | None:
    """A range bound in ns, kept inside int64 (a custom range may say year 1 or 9999)."""
    return None if moment is None else min(max(_ns(moment), -(2**62)), 2**62)


def _midnight_ns(day: date, tz: tzinfo | None) -> int:
    """The first instant of ``day`` in ``tz`` (also when a DST gap skips local midnight)."""
    if tz is None:
        return _ns(datetime(day.year, day.month, day.day).astimezone())
    return _ns(datetime(day.year, day.month, day.day, tzinfo=tz))


def _chartable_ns(created_at: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A datetime64 array (UTC) -> int64 ns, and which of them the chart draws (None: all).

    Times the archive flags as implausible (before 2000, or after tomorrow) and NaT are not
    drawn: one poisoned 0001-01-01 would otherwise stretch the chart over two thousand years,
    and nanoseconds end in 1677 and 2262 anyway. They are clipped into the drawn span, so the
    array keeps its order.
    """
    micros = created_at.astype("datetime64[us]", copy=False).view(np.int64)
    lo = (PLAUSIBLE_START - _EPOCH) // _MICROSECOND
    hi = (datetime.now(UTC) + FUTURE_TOLERANCE - _EPOCH) // _MICROSECOND
    drawn = (micros >= lo) & (micros <= hi)  # NaT is int64's minimum: below lo
    return np.clip(micros, lo, hi) * 1000, None if drawn.all() else drawn


def _to_ns_array(created_at: object) -> np.ndarray:
    """datetime64 array / tz-aware Series / DatetimeIndex (UTC) -> int64 ns of the times the
    chart draws (see :func:`_chartable_ns`)."""
    if created_at is None or len(created_at) == 0:  # type: ignore[arg-type]
        return np.empty(0, dtype=np.int64)
    if isinstance(created_at, np.ndarray) and created_at.dtype.kind == "M":
        values = created_at
    else:
        index = pd.DatetimeIndex(created_at)
        values = (index if index.tz is None else index.tz_convert(None)).to_numpy()
    ns, drawn = _chartable_ns(values)
    return ns if drawn is None else ns[drawn]


class _Shown:
    """The timestamps the chart counts: UTC nanoseconds in ascending order, and which of them
    a filter keeps (None: all).

    Sorted times make a bucket's count two binary searches and a count of its slice of the
    mask, so a new filter over a million events costs no histogram of every kept timestamp.
    """

    def __init__(self, ascending: np.ndarray, kept: np.ndarray | None = None) -> None:
        self.times = ascending
        self.kept = kept
        self.size = len(ascending) if kept is None else int(np.count_nonzero(kept))

    def bounds(self) -> tuple[int, int]:
        """The first and last kept timestamp (the chart must have ``size`` > 0)."""
        if self.kept is None:
            return int(self.times[0]), int(self.times[-1])
        first = int(np.argmax(self.kept))
        last = len(self.kept) - 1 - int(np.argmax(self.kept[::-1]))
        return int(self.times[first]), int(self.times[last])

    def count(self, edges: np.ndarray) -> np.ndarray:
        """Kept events per bucket [edges[i], edges[i+1])."""
        at = np.searchsorted(self.times, edges, side="left")
        if self.kept is None:
            return np.diff(at)
        # A few hundred buckets at most: counting each slice of the mask beats summing it all.
        kept = self.kept
        return np.fromiter(
            (np.count_nonzero(kept[a:b]) for a, b in pairwise(at.tolist())),
            np.int64,
            len(at) - 1,
        )


def _edges(lo: int, hi: int, unit: str, tz: tzinfo | None) -> np.ndarray:
    """Bucket boundaries (UTC ns) covering [lo, hi] on ``tz``'s calendar; len = buckets + 1."""
    first = _local(lo, tz)
    last = _local(hi, tz)
    if unit == "hour":
        start = _ns(first.replace(minute=0, second=0, microsecond=0))
        count = (hi - start) // HOUR_NS + 1
        return start + HOUR_NS * np.arange(count + 1, dtype=np.int64)
    if unit == "day":
        stop = last.date() + timedelta(days=1)
        days = [first.date() + timedelta(days=k) for k in range((stop - first.date()).days + 1)]
    elif unit == "week":
        monday = first.date() - timedelta(days=first.weekday())
        stop = last.date() + timedelta(days=7 - last.weekday())
        days = [monday + timedelta(weeks=k) for k in range((stop - monday).days // 7 + 1)]
    else:
        months = (last.year - first.year) * 12 + last.month - first.month + 2
        days = [
            date(first.year + (first.month - 1 + k) // 12, (first.month - 1 + k) % 12 + 1, 1)
            for k in range(months)
        ]
    return np.array([_midnight_ns(d, tz) for d in days], dtype=np.int64)


class Timeline(QWidget):
    """Bar chart of event counts over time; drag to pick a time range, double-click to clear it.

    ``set_data`` takes the created_at values of the rows currently shown (the window passes its
    frame's and the filter mask to ``set_shown`` instead) and ``set_range`` the active Time
    filter. The chart spans the data, widened to the filter's bounds so a "last 7
    days" filter shows all seven days even when some are empty.
    """

    #: A dragged range: (start, end) aware datetimes snapped to bucket edges, start < end.
    rangeSelected = Signal(object, object)
    #: Double-click: the user wants the time range cleared.
    rangeCleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setAccessibleName("Events over time")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._tz: tzinfo | None = UTC
        self._shown = _Shown(np.empty(0, dtype=np.int64))
        # The window's created_at array last given to set_shown, and what it charts.
        self._source: np.ndarray | None = None
        self._source_ns = np.empty(0, dtype=np.int64)
        self._source_drawn: np.ndarray | None = None
        self._range: tuple[int | None, int | None] | None = None
        self._range_given: tuple[datetime | None, datetime | None] | None = None
        self._edges = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)
        self._unit: str | None = None
        self._hover = -1
        self._press_x: float | None = None
        self._drag_x: float | None = None
        self._update_description()

    # ----------------------------------------------------------------------------- public API
    def set_data(self, created_at: object, tz: tzinfo | None = UTC) -> None:
        """Show these timestamps (UTC datetime64 array or tz-aware Series), bucketed in ``tz``.

        ``tz=None`` buckets by the system's local zone.
        """
        self._shown = _Shown(np.sort(_to_ns_array(created_at)))
        self._tz = tz
        self._rebin()

    def set_shown(
        self, newest_first: np.ndarray, kept: np.ndarray | None, tz: tzinfo | None
    ) -> None:
        """Show the events of a frame (its created_at, newest first, as the frame keeps them)
        that the filter mask ``kept`` lets through (None: all), bucketed in ``tz``.

        The window's way: no array of the shown timestamps is built per keystroke.
        """
        if self._source is not newest_first:  # once per frame, not per keystroke
            self._source = newest_first
            ns, drawn = _chartable_ns(newest_first[::-1])
            self._source_ns, self._source_drawn = ns, drawn
        drawn = self._source_drawn
        if kept is not None:
            kept = kept[::-1] if drawn is None else kept[::-1] & drawn
        self._shown = _Shown(self._source_ns, drawn if kept is None else kept)
        self._tz = tz
        self._rebin()

    def set_range(self, start: datetime | None, end: datetime | None) -> None:
        """Shade the active time filter [start, end); ``None`` bounds are open; both None: none."""
        given = None if start is None and end is None else (start, end)
        if given == self._range_given:
            return  # the window re-applies its filters often; spare the re-binning
        self._range_given = given
        self._range = None if given is None else (_clamped_ns(start), _clamped_ns(end))
        self._rebin()

    def shaded_range(self) -> tuple[datetime | None, datetime | None] | None:
        """The range last given to :meth:`set_range`, or ``None`` when nothing is shaded."""
        return self._range_given

    def bucket_unit(self) -> str | None:
        """``"hour"``, ``"day"``, ``"week"`` or ``"month"``; ``None`` when there are no events."""
        return self._unit

    def buckets(self) -> list[tuple[datetime, datetime, int]]:
        """Every bar as (start, end, count), with start/end aware in the chart's time zone."""
        return [
            (_local(int(self._edges[i]), self._tz), _local(int(self._edges[i + 1]), self._tz), c)
            for i, c in enumerate(self._counts.tolist())
        ]

    def total(self) -> int:
        """How many events the chart counts."""
        return self._shown.size

    def tooltip_at(self, pos: QPoint | QPointF) -> str:
        """The hover text for a point, e.g. ``"2026-11-02: 1,234 events"``; empty off the bars."""
        index = self._bucket_at(pos.x(), clamp=False)
        if index is None:
            return ""
        return f"{self._bucket_label(index)}: {self._count_text(int(self._counts[index]))}"

    def bucket_rect(self, index: int) -> QRectF:
        """Where bucket ``index`` is drawn: its full column in the plot area."""
        plot = self._plot_rect()
        width = plot.width() / max(1, len(self._counts))
        return QRectF(plot.left() + index * width, plot.top(), width, plot.height())

    def sizeHint(self) -> QSize:
        return QSize(600, 90)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, 60)

    # ------------------------------------------------------------------------------- binning
    def _rebin(self) -> None:
        shown = self._shown
        if shown.size == 0:
            self._edges = np.empty(0, dtype=np.int64)
            self._counts = np.empty(0, dtype=np.int64)
            self._unit = None
        else:
            lo, hi = shown.bounds()
            if self._range is not None:
                start, end = self._range
                if start is not None:
                    lo = min(lo, max(start, lo - _MAX_RANGE_PADDING_NS))
                if end is not None:
                    hi = max(hi, min(end - 1, hi + _MAX_RANGE_PADDING_NS))
            self._unit = _unit_for_span(hi - lo)
            self._edges = _edges(lo, hi, self._unit, self._tz)
            self._counts = shown.count(self._edges)
        self._hover = -1
        self._press_x = self._drag_x = None
        self.setCursor(Qt.CursorShape.CrossCursor if self._unit else Qt.CursorShape.ArrowCursor)
        self._update_description()
        self.update()

    def _update_description(self) -> None:
        """A sentence for screen readers, since the bars themselves say nothing to them."""
        if self._unit is None:
            self.setAccessibleDescription("No events")
            return
        busiest = int(np.argmax(self._counts))
        first, last = self._bucket_label(0), self._bucket_label(len(self._counts) - 1)
        self.setAccessibleDescription(
            f"{self._count_text(self.total())} per {self._unit} from {first} to {last}; "
            f"busiest {self._bucket_label(busiest)} with "
            f"{self._count_text(int(self._counts[busiest]))}"
        )

    # ------------------------------------------------------------------------------ geometry
    def _small_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        return font

    def _plot_rect(self) -> QRectF:
        line = QFontMetricsF(self._small_font()).height()
        return QRectF(
            6, line + 3, max(1.0, self.width() - 12), max(1.0, self.height() - 2 * line - 8)
        )

    def _bucket_at(self, x: float, *, clamp: bool) -> int | None:
        buckets = len(self._counts)
        if not buckets:
            return None
        plot = self._plot_rect()
        index = math.floor((x - plot.left()) / plot.width() * buckets)
        if clamp:
            return min(max(index, 0), buckets - 1)
        return index if 0 <= index < buckets else None

    def _x_of(self, ns: int) -> float:
        """Chart x for an instant (linear inside its bucket), clamped to the plot."""
        plot = self._plot_rect()
        edges = self._edges
        if ns <= edges[0]:
            return plot.left()
        if ns >= edges[-1]:
            return plot.right()
        i = int(np.searchsorted(edges, ns, side="right")) - 1
        fraction = (ns - edges[i]) / (edges[i + 1] - edges[i])
        return plot.left() + (i + fraction) * plot.width() / len(self._counts)

    # -------------------------------------------------------------------------------- labels
    def _bucket_label(self, index: int) -> str:
        start = _local(int(self._edges[index]), self._tz)
        if self._unit == "hour":  # the zone tells the two 02:00s of a DST change apart
            return f"{start:%Y-%m-%d %H:%M} {start.tzname() or ''}".rstrip()
        if self._unit == "week":
            return f"Week of {start:%Y-%m-%d}"
        if self._unit == "month":
            return f"{start:%Y-%m}"
        return f"{start:%Y-%m-%d}"

    @staticmethod
    def _count_text(count: int) -> str:
        return f"{count:,} event" + ("" if count == 1 else "s")

    def _axis_text(self, moment: datetime) -> str:
        if self._unit == "hour":
            return f"{moment:%m-%d %H:%M}"
        if self._unit == "month":
            return f"{moment:%Y-%m}"
        return f"{moment:%Y-%m-%d}"

    def _on_label_boundary(self, moment: datetime, step: int) -> bool:
        """Whether a bucket start is a natural place for an axis label at this step."""
        if self._unit == "hour":  # steps of 48 h label every other midnight
            return (moment.hour + 24 * (moment.toordinal() % 2)) % step == 0
        if self._unit == "day":
            return (moment.toordinal() - 1) % step == 0  # date ordinal 1 is a Monday
        if self._unit == "week":
            return ((moment.toordinal() - 1) // 7) % step == 0
        return (moment.year * 12 + moment.month - 1) % step == 0

    # ------------------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        pal = self.palette()
        font = self._small_font()
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        plot = self._plot_rect()
        if self._unit is None:
            painter.setPen(theme.muted_text_color(pal))
            text = "No events"
            if self._range is not None:
                text += " in the selected time range · double-click to clear it"
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, text)
            return

        buckets = len(self._counts)
        width = plot.width() / buckets
        peak = int(self._counts.max())

        # Active time filter, under the bars.
        if self._range is not None:
            start, end = self._range
            x0 = plot.left() if start is None else self._x_of(start)
            x1 = plot.right() if end is None else self._x_of(end)
            painter.fillRect(
                QRectF(x0, plot.top(), x1 - x0, plot.height()), theme.range_fill_color(pal)
            )
            painter.setPen(QPen(theme.range_edge_color(pal), 1))
            for bound, x in ((start, x0), (end, x1)):
                if bound is not None and plot.left() < x < plot.right():
                    painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))

        # Peak line and its label, the chart's only y-axis.
        painter.setPen(QPen(theme.grid_color(pal), 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(plot.left(), plot.top()), QPointF(plot.right(), plot.top()))
        painter.setPen(theme.muted_text_color(pal))
        header = QRectF(plot.left(), 0, plot.width(), plot.top() - 2)
        peak_text = f"{peak:,} max per {self._unit}"
        painter.drawText(
            header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, peak_text
        )
        summary = f"{self._count_text(self.total())}"
        if metrics.horizontalAdvance(peak_text + summary) + 24 < plot.width():
            painter.drawText(
                header, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom, summary
            )

        # Bars: whole pixels so neighbours do not blur into each other.
        gap = 1 if width >= 4 else 0
        bottom = round(plot.bottom())
        normal, hovered = theme.bar_color(pal), theme.bar_hover_color(pal)
        for i, count in enumerate(self._counts.tolist()):
            if not count:
                continue
            left = round(plot.left() + i * width)
            right = max(left + 1, round(plot.left() + (i + 1) * width) - gap)
            height = max(2, round(count / peak * plot.height()))
            painter.fillRect(
                left, bottom - height, right - left, height, hovered if i == self._hover else normal
            )

        # Baseline and date labels.
        painter.setPen(QPen(theme.grid_color(pal), 1))
        painter.drawLine(QPointF(plot.left(), bottom + 0.5), QPointF(plot.right(), bottom + 0.5))
        self._paint_axis(painter, plot, metrics, width)

        if self._press_x is not None and self._drag_x is not None:
            self._paint_drag(painter, plot, metrics, width)

    def _paint_axis(
        self, painter: QPainter, plot: QRectF, metrics: QFontMetricsF, width: float
    ) -> None:
        pal = self.palette()
        sample = self._axis_text(_local(int(self._edges[0]), self._tz))
        needed = (metrics.horizontalAdvance(sample) + 14) / width
        steps = _NICE_STEPS[self._unit or "day"]
        step = next((s for s in steps if s >= needed), steps[-1])
        top = plot.bottom() + 1
        next_free = plot.left()
        tick_pen, text_color = QPen(theme.grid_color(pal), 1), theme.muted_text_color(pal)
        for i in range(len(self._counts)):
            moment = _local(int(self._edges[i]), self._tz)
            if not self._on_label_boundary(moment, step):
                continue
            x = plot.left() + i * width
            text = self._axis_text(moment)
            text_width = metrics.horizontalAdvance(text)
            if x < next_free or x + 3 + text_width > self.width():
                continue
            painter.setPen(tick_pen)
            painter.drawLine(QPointF(x + 0.5, top), QPointF(x + 0.5, top + 4))
            painter.setPen(text_color)
            painter.drawText(QPointF(x + 3, top + 2 + metrics.ascent()), text)
            next_free = x + text_width + 14

    def _paint_drag(
        self, painter: QPainter, plot: QRectF, metrics: QFontMetricsF, width: float
    ) -> None:
        first, last = self._drag_buckets()
        x0, x1 = plot.left() + first * width, plot.left() + (last + 1) * width
        pal = self.palette()
        painter.fillRect(
            QRectF(x0, plot.top(), x1 - x0, plot.height()), theme.range_fill_color(pal, strong=True)
        )
        painter.setPen(QPen(theme.range_edge_color(pal), 1))
        painter.drawRect(
            QRectF(x0, plot.top(), x1 - x0, plot.height()).adjusted(0.5, 0.5, -0.5, -0.5)
        )
        count = int(self._counts[first : last + 1].sum())
        text = (
            f"{self._bucket_label(first)} – {self._bucket_label(last)} · {self._count_text(count)}"
        )
        if first == last:
            text = f"{self._bucket_label(first)} · {self._count_text(count)}"
        box_width = metrics.horizontalAdvance(text) + 10
        left = min(max(plot.left(), (x0 + x1 - box_width) / 2), self.width() - box_width - 2)
        box = QRectF(left, plot.top() + 2, box_width, metrics.height() + 2)
        painter.fillRect(box, pal.color(QPalette.ColorRole.ToolTipBase))
        painter.setPen(pal.color(QPalette.ColorRole.ToolTipText))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # --------------------------------------------------------------------------------- mouse
    def _drag_buckets(self) -> tuple[int, int]:
        """First and last bucket under the drag, whichever way it went."""
        a = self._bucket_at(self._press_x or 0.0, clamp=True) or 0
        b = self._bucket_at(self._drag_x or 0.0, clamp=True) or 0
        return min(a, b), max(a, b)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._unit is not None:
            self._press_x = event.position().x()
            self._drag_x = None
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._press_x is not None:
            dragging = self._drag_x is not None
            if dragging or abs(x - self._press_x) >= QApplication.startDragDistance():
                self._drag_x = x
                QToolTip.hideText()
                self.update()
        hover = self._bucket_at(x, clamp=False)
        hover = -1 if hover is None else hover
        if hover != self._hover:
            self._hover = hover
            self.update()
            if QToolTip.isVisible() and self._drag_x is None:
                text = self.tooltip_at(event.position())
                if text:
                    QToolTip.showText(event.globalPosition().toPoint(), text, self)
                else:
                    QToolTip.hideText()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._press_x is not None:
            selected = self._drag_buckets() if self._drag_x is not None else None
            self._press_x = self._drag_x = None
            self.update()
            if selected is not None:
                first, last = selected
                self.rangeSelected.emit(
                    _local(int(self._edges[first]), self._tz),
                    _local(int(self._edges[last + 1]), self._tz),
                )
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_x = self._drag_x = None
            self.rangeCleared.emit()
        super().mouseDoubleClickEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if self._hover != -1:
            self._hover = -1
            self.update()
        super().leaveEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)
