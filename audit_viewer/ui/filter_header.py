"""The table's horizontal header with a filter editor under every column title.

Like DB Browser for SQLite's filter row: the header reserves a strip below the titles with
``setViewportMargins`` (so the titles keep painting in the viewport) and places one editor per
section there, following each section through resizes, moves, hiding and horizontal scrolling
via ``sectionViewportPosition``. The editors depend on the column's kind (from the model):

- Time: presets (all, 24 hours, 7/30/90 days) and "Custom range…" with a from/to dialog.
- Action: a checklist popup of the distinct actions with their counts under the other filters.
- Everything else: a query line edit (the search bar's language, bare words restricted to that
  column, debounced the same way).

The header holds no filter of its own: it renders the window's
:class:`~audit_viewer.filters.FilterState` (:meth:`FilterHeader.show_state`) and, when the user
changes a filter, proposes the changed state through :attr:`FilterHeader.stateEdited`; the
window keeps it, evaluates it once and renders it back here with the Action facets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from PySide6.QtCore import (
    QDate,
    QDateTime,
    QEvent,
    QObject,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTime,
    QTimeZone,
    Signal,
)
from PySide6.QtGui import QContextMenuEvent, QFont, QKeyEvent, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from audit_viewer.action_families import embedded_values, family
from audit_viewer.filters import FilterState, TimeRange
from audit_viewer.ui.icons import icon
from audit_viewer.ui.search_bar import QueryLineEdit
from audit_viewer.ui.table_model import COL_TIME
from audit_viewer.ui.theme import is_dark, mix

#: Space above and below the editor row.
_PAD = 2
_PRESETS: tuple[tuple[str, str], ...] = (
    ("all", "All time"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
)
_RANGE = "range"  # the combo item that shows the active custom range
_CUSTOM = "custom"  # the combo item that opens the range dialog
_TEXT_HELP = (
    "Filter {title}: words match anywhere in this column (case-insensitive).\n"
    '"a phrase"   -word excludes   a OR b   ="whole value"\n'
    "Enter applies at once, Escape clears."
)


def _tint(palette: QPalette) -> QPalette:
    """The palette of an editor whose filter is active: base and button tinted with the accent."""
    tinted = QPalette(palette)
    accent = palette.color(QPalette.ColorRole.Highlight)
    amount = 0.35 if is_dark(palette) else 0.2
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Button):
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            tinted.setColor(group, role, mix(palette.color(group, role), accent, amount))
    return tinted


def _format_range(value: TimeRange, tz: tzinfo, *, short: bool = False) -> str:
    """ "2026-11-01 – 2026-11-07" (dates only when both ends are midnight) in the shown zone;
    ``short`` names a shared year once ("2026-11-01 – 11-07"), to fit the Time column."""
    ends = [v.astimezone(tz) if v is not None else None for v in value]
    midnight = all(e is None or (e.hour, e.minute, e.second) == (0, 0, 0) for e in ends)
    shape = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"
    start, end = (e.strftime(shape) if e is not None else "…" for e in ends)
    first, last = ends
    if short and first is not None and last is not None and first.year == last.year:
        end = last.strftime(shape.removeprefix("%Y-"))
    return f"{start} – {end}"


class TimeRangeDialog(QDialog):
    """Two date-time fields (from, to) in the zone the table shows; the range is [from, to)."""

    def __init__(self, value: TimeRange | None, tz: tzinfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Custom time range")
        self._tz = tz
        now = datetime.now(tz).replace(second=0, microsecond=0)
        start, end = value or (None, None)
        self.start_edit = self._editor(start or now - timedelta(days=7))
        self.end_edit = self._editor(end or now + timedelta(minutes=1))
        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        zone = "UTC" if tz is UTC else f"{datetime.now(tz).tzname()} ({tz})"
        form = QFormLayout(self)
        form.addRow("From:", self.start_edit)
        form.addRow("To:", self.end_edit)
        form.addRow(QLabel(f"Times in {zone}; the end is not included."))
        form.addRow(self._buttons)
        self.start_edit.dateTimeChanged.connect(self._validate)
        self.end_edit.dateTimeChanged.connect(self._validate)

    def _editor(self, value: datetime) -> QDateTimeEdit:
        # The fields hold the shown zone's wall-clock time in a UTC QDateTime, so neither the
        # machine's zone nor its daylight-saving gaps can shift what the user typed.
        wall = value.astimezone(self._tz)
        edit = QDateTimeEdit(self)
        edit.setTimeZone(QTimeZone(QTimeZone.Initialization.UTC))
        edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        edit.setCalendarPopup(True)
        edit.setDateTime(
            QDateTime(
                QDate(wall.year, wall.month, wall.day),
                QTime(wall.hour, wall.minute),
                QTimeZone(QTimeZone.Initialization.UTC),
            )
        )
        return edit

    def _read(self, edit: QDateTimeEdit) -> datetime:
        value = edit.dateTime()
        date, time = value.date(), value.time()
        wall = datetime(date.year(), date.month(), date.day(), time.hour(), time.minute())
        return wall.replace(tzinfo=self._tz).astimezone(UTC)

    def range(self) -> tuple[datetime, datetime]:
        """The chosen [start, end) as aware UTC datetimes."""
        return self._read(self.start_edit), self._read(self.end_edit)

    def _validate(self) -> None:
        start, end = self.range()
        self._buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(start < end)


class TimeFilterCombo(QComboBox):
    """Preset spans, the active custom range (if any), and "Custom range…"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for key, label in _PRESETS:
            self.addItem(label, key)
        self.addItem("Custom range…", _CUSTOM)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(4)
        self.setToolTip("Show events from this time span (the end is not included).")

    def show_range(self, label: str | None, tooltip: str) -> None:
        """Show (or remove, for None) the item standing for the active custom range."""
        at = self.findData(_RANGE)
        if label is None:
            if at >= 0:
                self.removeItem(at)
            return
        if at < 0:
            at = self.findData(_CUSTOM)
            self.insertItem(at, label, _RANGE)
        self.setItemText(at, label)
        self.setItemData(at, tooltip, Qt.ItemDataRole.ToolTipRole)


class _CheckList(QListWidget):
    """A checklist where a click anywhere on a row (not just the box) toggles it."""

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        item = self.itemAt(event.position().toPoint())
        before = item.checkState() if item is not None else None
        super().mouseReleaseEvent(event)
        clicked = item is not None and event.button() == Qt.MouseButton.LeftButton
        if clicked and item.checkState() == before:
            toggled = (
                Qt.CheckState.Unchecked
                if before == Qt.CheckState.Checked
                else Qt.CheckState.Checked
            )
            item.setCheckState(toggled)


#: The actions of a partly ticked family row that are selected.
_CHOSEN_ROLE = Qt.ItemDataRole.UserRole + 1


class ActionPopup(QFrame):
    """The action checklist: find box, one checkable row per action with its count, all/none."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.find = QLineEdit(self)
        self.find.setPlaceholderText("Find action… (Enter shows only the matches)")
        self.find.setClearButtonEnabled(True)
        self.find.textChanged.connect(self._narrow)
        self.find.returnPressed.connect(self.only_matches)
        self.list = _CheckList(self)
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.itemChanged.connect(self._item_changed)
        self.all_button = QPushButton("Select all", self)
        self.none_button = QPushButton("Select none", self)
        self.all_button.clicked.connect(lambda: self._check_all(True))
        self.none_button.clicked.connect(lambda: self._check_all(False))
        buttons = QHBoxLayout()
        buttons.addWidget(self.all_button)
        buttons.addWidget(self.none_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.find)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.find.installEventFilter(self)
        self._items: dict[str, QListWidgetItem] = {}
        self._members: dict[str, list[str]] = {}  # the actions of each row's family

    def widest_row(self) -> int:
        """Pixels the longest row needs: its text, the check box, the frame and a scroll bar."""
        metrics = self.list.fontMetrics()
        texts = (self.list.item(i).text() for i in range(self.list.count()))
        text = max((metrics.horizontalAdvance(t) for t in texts), default=0)
        scroll = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        check = self.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth)
        return text + check + scroll + 40

    def set_facets(self, counts: dict[str, int], selected: frozenset[str] | None) -> None:
        """One row per action family (see :mod:`audit_viewer.action_families`) with the count
        of all its actions, in this order unless the popup is open; ``selected`` ticks rows: a
        family only partly selected shows so and keeps just those actions."""
        names = list(counts) + sorted(set(selected or ()) - set(counts))
        groups: dict[str, list[str]] = {}
        for name in names:
            groups.setdefault(family(name), []).append(name)
        blocked = self.list.blockSignals(True)
        if not self.isVisible():
            self.list.clear()
            self._items = {}
        self._members = groups
        for row, members in groups.items():
            item = self._items.get(row)
            if item is None:
                item = self._items[row] = QListWidgetItem(self.list)
                item.setData(Qt.ItemDataRole.UserRole, row)
            count = sum(counts.get(name, 0) for name in members)
            item.setText(f"{row}  ({count:,})")
            tip = f"{row}: {count:,} events under the other filters"
            if len(members) > 1 or members != [row]:
                shown = ", ".join(", ".join(embedded_values(m)) for m in members[:5])
                more = f" and {len(members) - 5:,} more" if len(members) > 5 else ""
                tip += f", {len(members):,} actions: {shown}{more}"
            item.setToolTip(tip)
            item.setForeground(
                self.palette().color(
                    QPalette.ColorGroup.Disabled if count == 0 else QPalette.ColorGroup.Active,
                    QPalette.ColorRole.Text,
                )
            )
            chosen = members if selected is None else [m for m in members if m in selected]
            state = Qt.CheckState.Unchecked
            if len(chosen) == len(members):
                state = Qt.CheckState.Checked
            elif chosen:
                state = Qt.CheckState.PartiallyChecked
            item.setData(_CHOSEN_ROLE, chosen)
            item.setCheckState(state)
        self.list.blockSignals(blocked)
        self._narrow(self.find.text())

    def names(self) -> list[str]:
        return list(self._items)

    def selection(self) -> frozenset[str] | None:
        """The ticked actions; None when every action is ticked (no filter)."""
        chosen: list[str] = []
        everything = True
        for row, item in self._items.items():
            members = self._members.get(row, [row])
            state = item.checkState()
            if state == Qt.CheckState.Checked:
                chosen += members
            elif state == Qt.CheckState.PartiallyChecked:
                chosen += item.data(_CHOSEN_ROLE) or []
                everything = False
            else:
                everything = False
        return None if everything else frozenset(chosen)

    def _item_changed(self) -> None:
        self.changed.emit()

    def _check_all(self, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        blocked = self.list.blockSignals(True)
        for item in self._items.values():
            item.setCheckState(state)
        self.list.blockSignals(blocked)
        self.changed.emit()

    def only_matches(self) -> None:
        """Tick exactly the actions the find box shows and close: the keyboard's one-step pick."""
        if not self.find.text().strip():
            self.close()
            return
        blocked = self.list.blockSignals(True)
        for item in self._items.values():
            visible = not item.isHidden()
            item.setCheckState(Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)
        self.list.blockSignals(blocked)
        self.changed.emit()
        self.close()

    def _narrow(self, text: str) -> None:
        needle = text.casefold()
        for row, item in self._items.items():
            names = [row, *self._members.get(row, ())]
            item.setHidden(not any(needle in name.casefold() for name in names))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Down from the find box walks into the list, so the keyboard never gets stuck.
        if (
            watched is self.find
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Down
        ):
            self.list.setFocus(Qt.FocusReason.TabFocusReason)
            if self.list.currentRow() < 0 and self.list.count():
                self.list.setCurrentRow(0)
            return True
        return super().eventFilter(watched, event)


class ActionFilterButton(QToolButton):
    """Says which actions are shown ("All", one name, "3 of 15") and opens the checklist."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.popup = ActionPopup(self)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setArrowType(Qt.ArrowType.NoArrow)
        self.setText("All ▾")
        self.setToolTip("Choose which actions to show (Space or click opens the list).")
        self.clicked.connect(self.open_popup)

    #: The checklist is about to open: its counts are wanted now.
    aboutToOpen = Signal()

    def open_popup(self) -> None:
        self.aboutToOpen.emit()
        screen = self.screen().availableGeometry()
        # Wide enough for the longest "name  (count)" row: nothing cut, no sideways scrolling
        # (up to half the screen; longer names are elided in the middle, whole in the tooltip).
        width = min(max(self.width(), 300, self.popup.widest_row()), screen.width() // 2)
        self.popup.resize(width, 340)
        where = self.mapToGlobal(QPoint(0, self.height()))
        where.setX(max(screen.left(), min(where.x(), screen.right() - width)))
        if where.y() + 340 > screen.bottom():
            where.setY(self.mapToGlobal(QPoint(0, 0)).y() - 340)
        self.popup.move(where)
        self.popup.show()
        self.popup.find.setFocus(Qt.FocusReason.PopupFocusReason)

    def show_selection(self, selected: frozenset[str] | None, total: int) -> None:
        if selected is None:
            self.setText("All ▾")
            self.setToolTip("All actions are shown. Click to choose.")
            return
        families = {family(name) for name in selected}
        if not selected:
            self.setText("None ▾")
        elif len(selected) == 1:
            self.setText(f"{next(iter(selected))} ▾")
        elif len(families) == 1:
            self.setText(f"{next(iter(families))} ▾")
        else:
            self.setText(f"{len(families)} of {total} ▾")
        self.setToolTip(
            "Showing only:\n" + "\n".join(sorted(selected)) if selected else "No action is ticked."
        )


class FilterHeader(QHeaderView):
    """Horizontal header with a row of filter editors; see the module docstring."""

    #: The user changed a filter (text after the debounce, presets, ranges and ticks at once):
    #: the window's state with that change, for the window to keep and render back.
    stateEdited = Signal(object)
    #: Shift+click on a column's title: sort by it next, after the keys there are.
    thenSortRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        # The parent comes last: reparenting calls the overrides below, which need the state.
        super().__init__(Qt.Orientation.Horizontal)
        self._then_pressed: int | None = None
        self._keys: list[str] = []  # column key of each logical section
        self._editors: dict[str, QWidget] = {}
        self._state = FilterState()
        self._facet_source: Callable[[], Mapping[str, int]] = dict
        self._facets: dict[str, int] | None = None
        self._scrollbar: Any = None
        self._editor_height = QLineEdit().sizeHint().height()
        self.sectionResized.connect(self._reposition)
        self.sectionMoved.connect(self._sections_moved)
        self.sectionCountChanged.connect(self._sync_editors)
        self.setSectionsClickable(True)
        self.setSectionsMovable(True)
        self.setHighlightSections(False)
        self.setSortIndicatorShown(True)
        self.setStretchLastSection(True)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if parent is not None:
            self.setParent(parent)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if event.button() == Qt.MouseButton.LeftButton and shift:
            section = self.logicalIndexAt(event.position().toPoint())
            if section >= 0:  # not a plain sort: that would drop the other keys
                self._then_pressed = section
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pressed, self._then_pressed = self._then_pressed, None
        if pressed is not None:
            if self.logicalIndexAt(event.position().toPoint()) == pressed:
                self.thenSortRequested.emit(pressed)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # -- public API ----------------------------------------------------------------------------

    def editor(self, column: int) -> QWidget | None:
        """The filter editor of logical column ``column`` (for focus and tests)."""
        if not 0 <= column < len(self._keys):
            return None
        return self._editors.get(self._keys[column])

    def set_filter(self, column: int, value: Any) -> None:
        """Set a column's filter as the user would: propose the changed state at once.

        Time: "24h" | "7d" | "30d" | "90d" | "all" | None, or a (start, end) tuple of aware
        datetimes; Action: an iterable of action names, or None for all; text columns: a query.
        """
        editor = self.editor(column)
        if editor is None:
            raise IndexError(f"no filter for column {column}")
        key = self._keys[column]
        if isinstance(editor, TimeFilterCombo):
            if not isinstance(value, tuple) and value not in {k for k, _ in _PRESETS} | {None}:
                raise ValueError(f"unknown time preset {value!r}")
            self._propose(self._state.with_time(value))
        elif isinstance(editor, ActionFilterButton):
            self._propose(self._state.with_actions(None if value is None else frozenset(value)))
        else:
            self._propose(self._state.with_text_filter(key, str(value or "")))

    def clear_filters(self) -> None:
        """Propose the state without any column filter (the search bar's text stays)."""
        self._propose(FilterState(search=self._state.search))

    def has_active_filters(self) -> bool:
        return any(self._active(key) for key in self._editors)

    def show_state(self, state: FilterState, facets: Callable[[], Mapping[str, int]]) -> None:
        """Render ``state``: texts and their errors, the time, the actions and ``facets``
        (counts per action under the other filters, or a function that counts them).

        Counting is a pass over every event, so the function is called only while the checklist
        is open (or opens), or when the button must say "3 of 15": typing elsewhere never pays
        for counts nobody sees.
        """
        self._state = state
        for key, editor in self._editors.items():
            if isinstance(editor, QueryLineEdit):
                editor.show_query(state.text_filter(key), state.errors.get(key))
        self._facet_source = facets
        self._facets = None
        self._show_time()
        self._show_actions()
        self._mark_all()

    def _propose(self, state: FilterState) -> None:
        if state != self._state:
            self.stateEdited.emit(state)

    def focus_filters(self) -> None:
        """Put the keyboard focus on the first visible filter (Ctrl+Shift+F)."""
        chain = self._chain()
        if chain:
            chain[0].setFocus(Qt.FocusReason.ShortcutFocusReason)
            if isinstance(chain[0], QLineEdit):
                chain[0].selectAll()

    def update_tab_order(self) -> None:
        """Tab walks the filters in visual order, then the table (re-run after reordering)."""
        chain = self._chain()
        view = self._view()
        if not chain:
            return
        if view is not None:
            before = view.previousInFocusChain()
            while before is not None and self.isAncestorOf(before):
                before = before.previousInFocusChain()
            if before is not None and before is not view:
                QWidget.setTabOrder(before, chain[0])
            chain = [*chain, view]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- editors -------------------------------------------------------------------------------

    def setModel(self, model: Any) -> None:
        old = self.model()
        if old is not None:
            old.headerDataChanged.disconnect(self._header_data_changed)
        super().setModel(model)
        if model is not None:
            model.headerDataChanged.connect(self._header_data_changed)
        self._sync_editors()

    def _column(self, section: int) -> Any:
        return self.model().column(section)

    def _sync_editors(self) -> None:
        """One editor per section, created for new columns and dropped for vanished ones."""
        model = self.model()
        count = model.columnCount() if model is not None else 0
        keys = [self._column(section).key for section in range(count)]
        for key in set(self._editors) - set(keys):
            self._editors.pop(key).deleteLater()
        for section, key in enumerate(keys):
            if key not in self._editors:
                self._editors[key] = self._make_editor(section)
                self.setSectionHidden(section, self._column(section).hidden)
        self._keys = keys
        self._editor_height = max(
            [self._editor_height, *(e.sizeHint().height() for e in self._editors.values())]
        )
        self._mark_all()
        self.updateGeometries()
        self.update_tab_order()

    def _make_editor(self, section: int) -> QWidget:
        column = self._column(section)
        editor: QWidget
        if column.kind == "time":
            editor = TimeFilterCombo(self)
            editor.activated.connect(self._time_chosen)
        elif column.kind == "action":
            editor = ActionFilterButton(self)
            editor.popup.changed.connect(self._actions_ticked)
            editor.aboutToOpen.connect(self._fill_checklist)
        else:
            editor = QueryLineEdit(self, help_text=_TEXT_HELP.format(title=column.title))
            editor.setPlaceholderText("Filter…")
            editor.queryChanged.connect(
                lambda text, key=column.key: self._propose(self._state.with_text_filter(key, text))
            )
            editor.show_query(self._state.text_filter(column.key), None)
        editor.setObjectName(f"filter_{column.key}")
        editor.setAccessibleName(f"Filter {column.title}")
        editor.installEventFilter(self)
        editor.show()
        return editor

    # -- time ----------------------------------------------------------------------------------

    def _time_chosen(self, index: int) -> None:
        combo = self._editors["created_at"]
        assert isinstance(combo, TimeFilterCombo)
        choice = combo.itemData(index)
        if choice == _CUSTOM:
            self.open_custom_range()
        elif choice != _RANGE:
            self._propose(self._state.with_time(choice))
            self._show_time()  # the same choice again: the combo reads as before

    def open_custom_range(self) -> TimeRangeDialog:
        """Open the from/to dialog (window-modal, non-blocking); OK applies the range."""
        dialog = TimeRangeDialog(self._state.time_range, self._timezone(), self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._propose(self._state.with_time(dialog.range())))
        dialog.rejected.connect(self._show_time)
        dialog.open()
        return dialog

    def _show_time(self) -> None:
        combo = self._editors.get("created_at")
        if not isinstance(combo, TimeFilterCombo):
            return
        blocked = combo.blockSignals(True)
        time_range = self._state.time_range
        if time_range is not None:
            label = _format_range(time_range, self._timezone())
            combo.show_range(_format_range(time_range, self._timezone(), short=True), label)
            combo.setCurrentIndex(combo.findData(_RANGE))
            combo.setToolTip(f"Showing events from {label}.")
        else:
            combo.show_range(None, "")
            combo.setCurrentIndex(combo.findData(self._state.time_preset or "all"))
            combo.setToolTip("Show events from this time span (the end is not included).")
        combo.blockSignals(blocked)
        self._mark(COL_TIME)

    def _timezone(self) -> tzinfo:
        return getattr(self.model(), "display_timezone", UTC)

    def _header_data_changed(self, orientation: Qt.Orientation, first: int, last: int) -> None:
        if orientation == Qt.Orientation.Horizontal and first <= COL_TIME <= last:
            self._show_time()  # the custom range's label follows the shown time zone

    # -- actions -------------------------------------------------------------------------------

    def _action_button(self) -> ActionFilterButton | None:
        button = self._editors.get("action")
        return button if isinstance(button, ActionFilterButton) else None

    def _actions_ticked(self) -> None:
        button = self._action_button()
        if button is not None:
            self._propose(self._state.with_actions(button.popup.selection()))

    def _counted_facets(self) -> dict[str, int]:
        if self._facets is None:
            self._facets = dict(self._facet_source())
        return self._facets

    def _fill_checklist(self) -> None:
        button = self._action_button()
        if button is not None:
            button.popup.set_facets(self._counted_facets(), self._state.actions)

    def _show_actions(self) -> None:
        button = self._action_button()
        if button is None:
            return
        if button.popup.isVisible():
            self._fill_checklist()
        actions = self._state.actions
        total = 0  # only "3 of 15" needs it: counted in families, the checklist's rows
        if actions is not None and len({family(a) for a in actions}) > 1:
            total = len({family(a) for a in self._counted_facets().keys() | actions})
        button.show_selection(actions, total)
        self._mark_key("action")

    # -- marking active filters ----------------------------------------------------------------

    def _active(self, key: str) -> bool:
        editor = self._editors.get(key)
        if isinstance(editor, TimeFilterCombo):
            return self._state.time_preset is not None or self._state.time_range is not None
        if isinstance(editor, ActionFilterButton):
            return self._state.actions is not None
        return bool(self._state.text_filter(key).strip())

    def _mark(self, section: int) -> None:
        if 0 <= section < len(self._keys):
            self._mark_key(self._keys[section])

    def _mark_key(self, key: str, *, restyle: bool = False) -> None:
        """Bold text and an accent-tinted background on an editor whose filter is active."""
        editor = self._editors.get(key)
        if editor is None:
            return
        active = self._active(key)
        if not restyle and editor.property("filterActive") == active:
            return
        font = QFont(self.font())
        font.setBold(active)
        editor.setFont(font)
        editor.setPalette(_tint(self.palette()) if active else QPalette())
        editor.setProperty("filterActive", active)
        self.viewport().update()

    def _mark_all(self, *, restyle: bool = False) -> None:
        for key in self._editors:
            self._mark_key(key, restyle=restyle)

    def paintSection(self, painter: QPainter, rect: QRect, logicalIndex: int) -> None:
        painter.save()
        super().paintSection(painter, rect, logicalIndex)
        painter.restore()
        if 0 <= logicalIndex < len(self._keys) and self._active(self._keys[logicalIndex]):
            # A funnel in the accent colour at the title's right end, before the sort arrow.
            size = min(14, rect.height() - 4)
            accent = QPalette(self.palette())
            accent.setColor(
                QPalette.ColorRole.WindowText, self.palette().color(QPalette.ColorRole.Highlight)
            )
            arrow = self.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize, None, self)
            right = (
                rect.right() - 4 - (arrow + 4 if self.sortIndicatorSection() == logicalIndex else 0)
            )
            target = QRect(right - size, rect.center().y() - size // 2, size, size)
            icon("filter", accent).paint(painter, target)

    # -- geometry ------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        size = super().sizeHint()
        return QSize(size.width(), size.height() + self._editor_height + 2 * _PAD)

    def updateGeometries(self) -> None:
        self.setViewportMargins(0, 0, 0, self._editor_height + 2 * _PAD)
        super().updateGeometries()
        self._reposition()

    def _reposition(self) -> None:
        top = self.viewport().geometry().bottom() + 1 + _PAD
        left = self.viewport().geometry().left()
        for section, key in enumerate(self._keys):
            editor = self._editors[key]
            # Hiding resizes the section to 0 before it counts as hidden: treat both alike.
            if self.isSectionHidden(section) or self.sectionSize(section) <= 0:
                editor.hide()
                continue
            x = left + self.sectionViewportPosition(section)
            editor.setGeometry(
                x + 1, top, max(0, self.sectionSize(section) - 2), self._editor_height
            )
            editor.show()

    def _sections_moved(self) -> None:
        self._reposition()
        self.update_tab_order()

    def _view(self) -> QAbstractItemView | None:
        parent = self.parentWidget()
        return parent if isinstance(parent, QAbstractItemView) else None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ParentChange:
            self._follow_scrolling()
        return super().event(event)

    def _follow_scrolling(self) -> None:
        """Editors move with the view's horizontal scroll bar (the header has no signal for it)."""
        if self._scrollbar is not None:
            self._scrollbar.valueChanged.disconnect(self._reposition)
            self._scrollbar = None
        view = self._view()
        if view is not None:
            self._scrollbar = view.horizontalScrollBar()
            self._scrollbar.valueChanged.connect(self._reposition)
            self.update_tab_order()

    def _chain(self) -> list[QWidget]:
        """Visible editors in visual (left to right) order."""
        chain = []
        for visual in range(self.count()):
            section = self.logicalIndex(visual)
            if not self.isSectionHidden(section) and section < len(self._keys):
                chain.append(self._editors[self._keys[section]])
        return chain

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._show_actions()  # greyed counts and tints are derived from the palette
            self._mark_all(restyle=True)

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab from a filter goes along the focus chain (filters, then the table).

        QAbstractItemView would otherwise take the Tab for its own item navigation.
        """
        current = QApplication.focusWidget()
        if current is None or not self.isAncestorOf(current):
            return super().focusNextPrevChild(next)
        widget = current
        while True:
            widget = widget.nextInFocusChain() if next else widget.previousInFocusChain()
            if widget is current:
                return False
            if (
                widget.focusPolicy() & Qt.FocusPolicy.TabFocus
                and widget.isVisible()
                and widget.isEnabled()
                and widget.focusProxy() is None
                and widget.window() is current.window()
            ):
                reason = (
                    Qt.FocusReason.TabFocusReason if next else Qt.FocusReason.BacktabFocusReason
                )
                widget.setFocus(reason)
                return True

    # -- events --------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Wheel
            and isinstance(watched, QComboBox)
            and not watched.hasFocus()
        ):
            return True  # scrolling over the header must not change the time filter
        if event.type() == QEvent.Type.FocusIn and watched in self._editors.values():
            self._scroll_to(watched)
        return super().eventFilter(watched, event)

    def _scroll_to(self, editor: QObject) -> None:
        """Tabbing onto a filter scrolled out of sight brings its column into view."""
        view = self._view()
        model = self.model()
        if view is None or model is None or model.rowCount() == 0:
            return
        key = next(k for k, e in self._editors.items() if e is editor)
        section = self._keys.index(key)
        top = max(view.rowAt(0), 0)
        view.scrollTo(model.index(top, section), QAbstractItemView.ScrollHint.EnsureVisible)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.column_menu().exec(event.globalPos())

    def column_menu(self) -> QMenu:
        """Show/hide columns and clear the filters (the header's context menu)."""
        menu = QMenu(self)
        visible = len(self._chain())
        for section, key in enumerate(self._keys):
            action = menu.addAction(self._column(section).title)
            action.setCheckable(True)
            action.setChecked(not self.isSectionHidden(section))
            action.setEnabled(self.isSectionHidden(section) or visible > 1)
            action.setData(key)
            action.toggled.connect(lambda shown, s=section: self._show_column(s, shown))
        menu.addSeparator()
        clear = menu.addAction(icon("clear-filter"), "Clear all filters")
        clear.setEnabled(self.has_active_filters())
        clear.triggered.connect(self.clear_filters)
        return menu

    def _show_column(self, section: int, shown: bool) -> None:
        """Show or hide a column; hiding one drops its filter, which could not be seen anymore."""
        self.setSectionHidden(section, not shown)
        if not shown and self._active(self._keys[section]):
            kind = self._column(section).kind
            self.set_filter(section, "all" if kind == "time" else None if kind == "action" else "")
        self.update_tab_order()
