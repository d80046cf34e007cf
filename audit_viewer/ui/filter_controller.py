"""The window's one filter state: what the user set, the last valid state, and its result.

The search bar, the filter row and the timeline render the state and hand edits back as a new
state; they never feed each other. Each change is parsed once (:class:`FilterState` caches it)
and evaluated once over the whole frame into the mask, facets, highlight terms and errors.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QStyle

from audit_viewer.filters import SEARCH, FilterState
from audit_viewer.frame import empty_frame, extra_fields, find_extra_field
from audit_viewer.ui.events_table import EventsTable
from audit_viewer.ui.filter_header import FilterHeader
from audit_viewer.ui.search_bar import SearchBar
from audit_viewer.ui.table_model import EventTableModel
from audit_viewer.ui.timeline import Timeline

_HEADER_MARGIN = QStyle.PixelMetric.PM_HeaderMargin


class FilterController(QObject):
    """Holds the state, shows its result in the table, and renders it in every widget."""

    #: After every evaluation: the number of rows shown.
    applied = Signal(int)

    def __init__(
        self,
        *,
        model: EventTableModel,
        table: EventsTable,
        search_bar: SearchBar,
        header: FilterHeader,
        timeline: Timeline,
        error_label: QLabel,
    ) -> None:
        super().__init__(table)
        self._model, self._table, self._header = model, table, header
        self._search_bar, self._timeline, self._error_label = search_bar, timeline, error_label
        self._state = FilterState()
        self._shown = FilterState()
        self._result = FilterState().evaluate(empty_frame())
        search_bar.queryChanged.connect(lambda text: self.set(self._state.with_search(text)))
        header.stateEdited.connect(self.set)
        timeline.rangeSelected.connect(
            lambda start, end: self.set(self._state.with_time((start, end)))
        )
        timeline.rangeCleared.connect(lambda: self.set(self._state.with_time(None)))

    @property
    def state(self) -> FilterState:
        """What the user has set now (search bar + filter row + timeline); may not parse."""
        return self._state

    @property
    def shown(self) -> FilterState:
        """The filters the table shows the result of: the last valid :attr:`state`."""
        return self._shown

    def set(self, state: FilterState) -> None:
        """Keep ``state`` as the one filter state, render it, and show its result if valid.

        While it does not parse, the table keeps the last valid result and the error line says
        so. A new valid query starts at the top of the result: the newest matches.
        """
        state = state.with_extra_fields(self._state.extra_fields)  # edits never carry them
        frame = self._model.frame
        state = state.with_fields_found(lambda name: find_extra_field(frame, name))
        if state == self._state:
            return
        self._state = state
        if state.valid:
            self.apply(new_query=True)
        else:
            self._render()  # the table keeps the last valid result, and its counts

    def clear(self) -> None:
        """Clear the search bar, every column filter and the timeline range, in one pass."""
        self.set(FilterState())

    def apply(
        self, *, frame: pd.DataFrame | None = None, keep_view: bool = True, new_query: bool = False
    ) -> None:
        """Evaluate the state once over the whole frame and show the result.

        With ``frame``, that frame replaces the model's in the same step (after a sync), so the
        view never shows the new rows unfiltered.
        """
        data = frame if frame is not None else self._model.frame
        extras = frozenset(field.name for field in extra_fields(data))
        state = self._state.with_extra_fields(extras)  # each is a qualifier too
        self._state = state.with_fields_found(lambda name: find_extra_field(data, name))
        self._shown = self._shown.with_extra_fields(self._state.extra_fields)
        if self._state.valid:
            self._shown = self._state
        state = self._shown
        now = datetime.now(UTC)
        self._result = state.evaluate(data, now=now)
        if frame is not None:
            self._model.set_frame(frame, mask=self._result.mask)
            self._fit_row_numbers(len(frame))
        else:
            self._model.set_mask(self._result.mask)
        self._render()
        self.update_timeline(now)
        self._model.set_highlight(state.highlight_terms)
        if new_query:
            self._table.scrollToTop()
        elif keep_view:
            self._table.scroll_to_current()
        # Lay the rows out now rather than on the view's timer, so they are painted once.
        self._table.executeDelayedItemsLayout()
        self.applied.emit(self._model.rowCount())

    def update_timeline(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        model = self._model
        self._timeline.set_shown(model.created_at(), model.filter_mask, model.display_timezone)
        self._timeline.set_range(*self._shown.time_bounds(now))

    def _render(self) -> None:
        """Every widget shows the one state: texts, errors, time, actions, the error line."""
        state = self._state
        self._search_bar.show_query(state.search, state.errors.get(SEARCH))
        self._header.show_state(state, self._result.facets)
        messages = [
            f"{'Search' if key == SEARCH else key.replace('_', ' ').capitalize() + ' filter'}: "
            f"{error}"
            for key, error in state.errors.items()
        ]
        if messages:
            messages.append("the table still shows the result of the last valid filters")
        text = "  ·  ".join(messages)
        self._error_label.setText(text)
        self._error_label.setVisible(bool(text))

    def _fit_row_numbers(self, rows: int) -> None:
        """Size the row-number column for every event, so filtering never shifts the columns
        sideways (nor repaints the whole table) as the count of shown rows changes digits."""
        vheader = self._table.verticalHeader()
        digits = vheader.fontMetrics().horizontalAdvance("9" * len(str(max(rows, 1))))
        vheader.setMinimumWidth(digits + 2 * vheader.style().pixelMetric(_HEADER_MARGIN) + 4)
