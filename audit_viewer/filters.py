"""The one filter state of the window: what the user set, parsed once, evaluated once.

The search bar, the filter row and the timeline each own a piece of what narrows the table, and
each used to parse and evaluate its piece on its own. A :class:`FilterState` holds all of it as
plain values. It is immutable: a widget proposes a changed copy (``with_search``, ...), the
window keeps that copy as the single source of truth and renders it back into every widget.
Each text is parsed once per change (the parse is shared through :meth:`FilterState.parsed`,
and a text that did not change is not parsed again), and :meth:`FilterState.evaluate` runs the
whole thing once over a frame, giving the mask, the Action facets (counted only when asked)
and the highlight terms together. The command line's ``export --query`` is the same query
language through :func:`audit_viewer.query.parse_query`; this module is Qt-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from audit_viewer.query import (
    TIME_PRESETS,
    Query,
    QueryError,
    action_values,
    aware,
    parse_query,
    time_mask,
)

#: What a column's filter searches when it is not just its own column: the User column shows one
#: display string, but an admin filtering it by a login or a name expects those to match too.
COLUMN_FILTER_FIELDS: dict[str, tuple[str, ...]] = {"user": ("user", "user_name", "user_email")}

#: The key of the search bar's text among the parts (the others are column keys).
SEARCH = "search"

TimeRange = tuple[datetime | None, datetime | None]


@lru_cache(maxsize=64)
def _parse(text: str, fields: tuple[str, ...] | None, extras: frozenset[str]) -> Query | QueryError:
    """One parse per distinct text: the other filters' unchanged texts are not parsed again."""
    return parse_query(text, default_fields=fields, extra_fields=extras)


@dataclass(frozen=True)
class FilterState:
    """Everything that narrows the table: search bar, column filters, time, actions."""

    search: str = ""
    text_filters: Mapping[str, str] = field(default_factory=dict)
    time_range: TimeRange | None = None
    time_preset: str | None = None
    actions: frozenset[str] | None = None
    #: The archive's extra fields, each a qualifier of the query language (set by the window
    #: from the frame it shows; not something the user edits).
    extra_fields: frozenset[str] = frozenset()

    # -- derived once ----------------------------------------------------------------------------

    @cached_property
    def parsed(self) -> dict[str, Query | QueryError]:
        """Each non-blank text part, parsed: ``"search"`` and column keys."""
        parts: list[tuple[str, str, tuple[str, ...] | None]] = [(SEARCH, self.search, None)]
        parts += [
            (column, text, COLUMN_FILTER_FIELDS.get(column, (column,)))
            for column, text in self.text_filters.items()
        ]
        extras = self.extra_fields
        return {key: _parse(text, fields, extras) for key, text, fields in parts if text.strip()}

    @cached_property
    def errors(self) -> dict[str, QueryError]:
        """Parse errors by part: ``"search"``, a column key, or ``"time_preset"``."""
        errors = {k: v for k, v in self.parsed.items() if isinstance(v, QueryError)}
        if self.time_preset not in (None, "all", *TIME_PRESETS):
            errors["time_preset"] = QueryError(f"Unknown time preset '{self.time_preset}'", 0)
        return errors

    @property
    def valid(self) -> bool:
        return not self.errors

    @cached_property
    def highlight_terms(self) -> list[str]:
        """The words to mark in the cells: every part's positive terms, without repeats."""
        terms = [t for q in self._queries for t in q.highlight_terms()]
        return list(dict.fromkeys(terms))

    @property
    def _queries(self) -> list[Query]:
        return [q for q in self.parsed.values() if isinstance(q, Query)]

    def is_active(self) -> bool:
        return bool(
            self.search.strip()
            or any(text.strip() for text in self.text_filters.values())
            or (self.time_range is not None and any(t is not None for t in self.time_range))
            or self.time_preset in TIME_PRESETS
            or self.actions is not None
        )

    def text_filter(self, column: str) -> str:
        return self.text_filters.get(column, "")

    def time_bounds(self, now: datetime) -> TimeRange:
        """The instants the time filter shows, for the timeline's shading."""
        if self.time_range is not None:
            return self.time_range
        if self.time_preset in TIME_PRESETS:
            return now - TIME_PRESETS[self.time_preset], None
        return None, None

    # -- changed copies --------------------------------------------------------------------------

    def with_extra_fields(self, names: frozenset[str]) -> FilterState:
        return self if names == self.extra_fields else dataclasses.replace(self, extra_fields=names)

    def with_fields_found(self, find: Callable[[str], str | None]) -> FilterState:
        """This state knowing the extra fields its unknown qualifiers name, where ``find``
        (a name -> the field's real name, or None) says the events have them: the sample
        behind :attr:`extra_fields` misses the fields only a few events carry."""
        state = self
        while True:  # parsing stops at the first error: each round may reveal the next one
            names = [error.qualifier for error in state.errors.values() if error.qualifier]
            found = {real for name in names if (real := find(name))}
            if found <= state.extra_fields:
                return state
            state = state.with_extra_fields(state.extra_fields | found)

    def with_search(self, text: str) -> FilterState:
        return self if text == self.search else dataclasses.replace(self, search=text)

    def with_text_filter(self, column: str, text: str) -> FilterState:
        if text == self.text_filter(column):
            return self
        texts = {k: v for k, v in self.text_filters.items() if k != column}
        if text:
            texts[column] = text
        return dataclasses.replace(self, text_filters=texts)

    def with_time(self, value: str | TimeRange | None) -> FilterState:
        """A preset name ("7d"; "all" or None for no limit) or an aware (start, end) range."""
        if isinstance(value, tuple):
            for end in value:
                if end is not None and end.tzinfo is None:
                    raise ValueError("time range ends must be timezone-aware")
            if value == (None, None):
                return self.with_time(None)
            preset, rng = None, value
        else:
            preset, rng = (None if value in (None, "all") else value), None
        if (preset, rng) == (self.time_preset, self.time_range):
            return self
        return dataclasses.replace(self, time_preset=preset, time_range=rng)

    def with_actions(self, actions: frozenset[str] | None) -> FilterState:
        return self if actions == self.actions else dataclasses.replace(self, actions=actions)

    # -- evaluation ------------------------------------------------------------------------------

    def evaluate(self, df: pd.DataFrame, now: datetime | None = None) -> FilterResult:
        """The rows to show (``None``: every row, nothing filters) and the Action facets.

        A part with an error restricts nothing; the window does not evaluate an invalid state.
        """
        now = aware(now) if now is not None else datetime.now(UTC)
        base = self._base_mask(df, now)
        if not self.is_active():
            return FilterResult(None, lambda: _facets(df, base))
        mask = base if self.actions is None else base.copy()
        if self.actions is not None and len(df):
            mask &= action_values(df).isin(self.actions) if "action" in df else False
        return FilterResult(mask, lambda: _facets(df, base))

    def mask(self, df: pd.DataFrame, now: datetime | None = None) -> np.ndarray:
        """The rows that pass, as a boolean array over all of ``df`` (for export and tests)."""
        mask = self.evaluate(df, now).mask
        return np.ones(len(df), dtype=bool) if mask is None else mask

    def action_facets(self, df: pd.DataFrame, now: datetime | None = None) -> dict[str, int]:
        return self.evaluate(df, now).facets()

    def _base_mask(self, df: pd.DataFrame, now: datetime) -> np.ndarray:
        result = np.ones(len(df), dtype=bool)
        if len(df) == 0:
            return result
        for query in self._queries:
            result &= query.mask(df, now)
        start, end = self.time_range or (None, None)
        if self.time_preset in TIME_PRESETS:
            preset_start = now - TIME_PRESETS[self.time_preset]
            start = preset_start if start is None else max(aware(start), preset_start)
        if start is not None:
            result &= time_mask(df, "after", aware(start))
        if end is not None:
            result &= time_mask(df, "before", aware(end))
        return result


@dataclass
class FilterResult:
    """One evaluation: the mask, and the Action facets under every filter but the action one.

    Counting the actions is a pass over every event, so it runs only when :meth:`facets` is
    called (the checklist is open) and only once.
    """

    mask: np.ndarray | None
    _count: Callable[[], dict[str, int]] = field(repr=False)
    _facets: dict[str, int] | None = field(default=None, repr=False)

    def facets(self) -> dict[str, int]:
        """Rows per action, most frequent first, then by name; absent actions with 0."""
        if self._facets is None:
            self._facets = self._count()
        return self._facets


def _facets(df: pd.DataFrame, base: np.ndarray) -> dict[str, int]:
    if len(df) == 0 or "action" not in df.columns:
        return {}
    counts = action_values(df).value_counts(base)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
