"""The query language of the search bar, the column filters and ``export --query``.

One hand-written tokenizer and parser, so every error can name the character where it happened,
and one vectorized evaluator: each term is matched over whole Arrow columns (``pyarrow.compute``),
terms are combined with numpy boolean operations, and nothing loops over rows in Python.

Grammar (whitespace separates terms; terms AND together; ``OR`` between terms has lower
precedence than the implicit AND, so ``a b OR c`` means ``(a AND b) OR c``)::

    term      := ["-"] (["="] (phrase | word) | qualifier)
    phrase    := '"' characters, with \\" and \\\\ as escapes '"'
    qualifier := name ":" ["="] (phrase | word)
                 name: user email name action description id target actor flag created
                 after before, or an extra field of the archive

``target:`` matches the value an action embeds (``target:=bob@example.com`` finds "Removed user
bob@example.com from account"), the field the detail pane shows apart from the action.

Words and phrases are case-insensitive substrings; with ``=`` in front (``action:="Export
SBOM"``, or ``="user8"`` in a column filter) they must be the whole value, case aside.
:func:`quote_value` writes any text as a phrase that parses back to exactly that text.

``after:`` is inclusive and ``before:`` exclusive, so ``after:X before:Y`` is the half-open
range [X, Y) like the Time filter. ``created:`` takes GitHub's forms: ``created:>=2026-11-01``,
``created:<7d``, ``created:2026-11-01..2026-11-07`` (both days included), ``created:2026-11-01``
(that day).

A default field that is not a frame column is an extra field of the raw JSON (``ip_address``,
``metadata.bytes``): the filter under an extra-field column searches the text its cells show
(:func:`audit_viewer.frame.extra_field_values`). The search bar's qualifiers stay a fixed set,
so a mistyped one is an error rather than a silently empty table.
"""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from audit_viewer.action_families import embedded_values
from audit_viewer.events import ACTOR_TYPES, FLAGS, FRAME_COLUMNS
from audit_viewer.frame import dictionary_codes, extra_field_values

#: Columns a bare word searches when the caller does not narrow it (``user_name`` is included
#: because the display string ``user`` shows the email when both are known).
DEFAULT_FIELDS: tuple[str, ...] = (
    "user",
    "user_name",
    "user_email",
    "action",
    "description",
    "id",
    "actor_type",
)

_TEXT_QUALIFIERS: dict[str, tuple[str, ...]] = {
    "user": ("user", "user_name", "user_email"),
    "email": ("user_email",),
    "name": ("user_name",),
    "action": ("action",),
    "description": ("description",),
    "id": ("id",),
}
#: ``target:`` matches the value an action embeds ("Removed user bob@example.com from
#: account"): see :mod:`audit_viewer.action_families`. Not a frame column: it is derived.
TARGET = "target"
QUALIFIERS: tuple[str, ...] = (
    *_TEXT_QUALIFIERS,
    TARGET,
    "actor",
    "flag",
    "created",
    "after",
    "before",
)
#: ``flag:any`` finds every flagged event; ``flag:NAME`` those with that flag.
ANY_FLAG = "any"

#: Presets of the filter state's ``time_preset``, each meaning "created within this span before
#: now" (see :class:`audit_viewer.filters.FilterState`).
TIME_PRESETS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}

#: A query is typed by a person; more terms than this is a paste accident, not a search.
MAX_TERMS = 100

_SPAN_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SPAN = re.compile(r"(\d+)([a-z]+)", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_]+(?=:)")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*(?=:)")
_LARGEST_SPAN = timedelta(days=365 * 1000)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class QueryError:
    """Why a query cannot be used, and where: ``position`` is a 0-based offset into the text."""

    message: str
    position: int
    #: The name of an unknown qualifier, when that is the error: it may be an extra field
    #: that a caller learns of only later (``export --query`` reads events to find out).
    qualifier: str | None = None

    def __str__(self) -> str:
        # People count characters from 1; ``position`` stays an offset for the caret.
        return f"{self.message} at character {self.position + 1}"


@dataclass(frozen=True)
class TextTest:
    """Case-insensitive substring ``needle`` in any of ``fields`` (frame column names); with
    ``exact``, the whole value of one of them, case aside."""

    fields: tuple[str, ...]
    needle: str
    exact: bool = False


@dataclass(frozen=True)
class ActorTest:
    """``actor_type`` equals ``actor`` exactly."""

    actor: str


@dataclass(frozen=True)
class FlagTest:
    """The event carries ``flag`` (a name of ``audit_viewer.events.FLAGS``, or any flag)."""

    flag: str


@dataclass(frozen=True)
class TimeTest:
    """``created_at`` on or after / before an instant, or a span before ``now``."""

    op: str  # "after" or "before"
    at: datetime | None = None
    span: timedelta | None = None

    def bound(self, now: datetime) -> datetime:
        if self.at is not None:
            return self.at
        assert self.span is not None
        try:
            return now - self.span
        except OverflowError:
            return datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RangeTest:
    """``created_at`` in [start, end): ``created:2026-11-01`` (that day) or ``created:A..B``
    (both days included); either end may be open (``*``)."""

    start: datetime | None
    end: datetime | None


Test = TextTest | ActorTest | FlagTest | TimeTest | RangeTest


@dataclass(frozen=True)
class Term:
    test: Test
    negate: bool
    position: int


@dataclass(frozen=True)
class Query:
    """A parsed query: ``groups`` are ORed, the terms inside one group ANDed."""

    text: str
    groups: tuple[tuple[Term, ...], ...] = field(default=(), repr=False)

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def highlight_terms(self) -> list[str]:
        """Positive words, phrases and text-qualifier values, in order, without repeats."""
        seen: set[str] = set()
        terms: list[str] = []
        for group in self.groups:
            for term in group:
                if term.negate or not isinstance(term.test, TextTest):
                    continue
                key = term.test.needle.casefold()
                if key not in seen:
                    seen.add(key)
                    terms.append(term.test.needle)
        return terms

    def mask(self, df: pd.DataFrame, now: datetime | None = None) -> np.ndarray:
        """Boolean array over ``df``'s rows: True where the row matches."""
        rows = len(df)
        if not self.groups:
            return np.ones(rows, dtype=bool)
        if rows == 0:
            return np.zeros(0, dtype=bool)
        now = aware(now) if now is not None else datetime.now(UTC)
        result = np.zeros(rows, dtype=bool)
        for group in self.groups:
            matched = np.ones(rows, dtype=bool)
            # Cheap terms first; once few rows are left, the free-text scans look only at them.
            for term in sorted(group, key=_cost):
                alive = int(np.count_nonzero(matched))
                if alive == 0:
                    break
                within = np.flatnonzero(matched) if alive <= rows // 4 else None
                hits = _evaluate(term.test, df, now, within)
                matched &= ~hits if term.negate else hits
            result |= matched
        return result


def parse_query(
    text: str,
    *,
    default_fields: tuple[str, ...] | None = None,
    extra_fields: Iterable[str] = (),
) -> Query | QueryError:
    """Parse ``text``; a malformed query comes back as a :class:`QueryError`, never raised.

    ``default_fields`` are the frame columns a bare word or phrase searches (a column filter
    passes its own column); ``None`` means :data:`DEFAULT_FIELDS`. ``extra_fields`` are the
    archive's extra fields (``ip_address``, ``metadata.bytes``): each is a qualifier too, so
    ``ip_address:203.0.113.7`` searches that field, and a mistyped name is still an error.
    """
    fields = tuple(default_fields) if default_fields else DEFAULT_FIELDS
    return _Parser(text, fields, extra_fields).parse()


class _Parser:
    """Scans the text once, left to right, keeping the offset for error messages."""

    def __init__(self, text: str, fields: tuple[str, ...], extras: Iterable[str] = ()) -> None:
        self.text = text
        self.fields = fields
        # Case-insensitive, as the fixed qualifiers; the built-in ones win a clash.
        self.extras = {name.lower(): name for name in extras if name.lower() not in QUALIFIERS}
        self.pos = 0

    def parse(self) -> Query | QueryError:
        bad = _SURROGATE.search(self.text)
        if bad:
            return QueryError(f"Invalid character U+{ord(bad.group()):04X}", bad.start())
        groups: list[tuple[Term, ...]] = []
        current: list[Term] = []
        count = 0
        or_at: int | None = None
        while True:
            self._skip_space()
            if self.pos >= len(self.text):
                break
            start = self.pos
            if self._at_or():
                if not current:
                    return QueryError("Nothing before OR", start)
                groups.append(tuple(current))
                current = []
                or_at = start
                self.pos += 2
                continue
            term = self._term()
            if isinstance(term, QueryError):
                return term
            if term is None:
                continue
            count += 1
            if count > MAX_TERMS:
                return QueryError(f"Too many terms (at most {MAX_TERMS})", start)
            current.append(term)
        if or_at is not None and not current:
            return QueryError("Nothing after OR", or_at)
        if current:
            groups.append(tuple(current))
        return Query(self.text, tuple(groups))

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _ends_word(self, index: int) -> bool:
        return index >= len(self.text) or self.text[index].isspace()

    def _at_or(self) -> bool:
        return self.text.startswith("OR", self.pos) and self._ends_word(self.pos + 2)

    def _term(self) -> Term | QueryError | None:
        start = self.pos
        negate = self.text[self.pos] == "-"
        if negate:
            self.pos += 1
            if self._ends_word(self.pos):
                return QueryError("Nothing to exclude after '-'", start)
        exact = self.text[self.pos] == "=" and not self._ends_word(self.pos + 1)
        if exact:
            self.pos += 1
        if self.text[self.pos] == '"':
            phrase = self._phrase()
            if isinstance(phrase, QueryError):
                return phrase
            if not phrase and not exact:  # "" alone restricts nothing
                return None
            return Term(TextTest(self.fields, phrase, exact), negate, start)
        if exact:
            return Term(TextTest(self.fields, self._word(), exact), negate, start)
        field = _FIELD_NAME.match(self.text, self.pos)
        if field and field.group().lower() in self.extras:  # an extra field of the archive
            return self._qualifier(field.group(), negate, start)
        name = _NAME.match(self.text, self.pos)
        if name and not self.text.startswith(("/", "\\"), name.end() + 1):  # not a URL or path
            return self._qualifier(name.group(), negate, start)
        return Term(TextTest(self.fields, self._word()), negate, start)

    def _word(self) -> str:
        start = self.pos
        while not self._ends_word(self.pos):
            self.pos += 1
        return self.text[start : self.pos]

    def _phrase(self) -> str | QueryError:
        """Read a quoted phrase starting at the opening quote; backslash escapes \" and \\."""
        opening = self.pos
        self.pos += 1
        chars: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in '"\\':
                chars.append(text[self.pos + 1])
                self.pos += 2
            elif char == '"':
                self.pos += 1
                return "".join(chars)
            else:
                chars.append(char)
                self.pos += 1
        return QueryError("Unterminated quote", opening)

    def _qualifier(self, name: str, negate: bool, start: int) -> Term | QueryError:
        key = name.lower()
        extra = self.extras.get(key) if key not in QUALIFIERS else None
        if key not in QUALIFIERS and extra is None:
            return QueryError(f"Unknown qualifier '{name}:'", self.pos, qualifier=name)
        self.pos += len(name) + 1
        textual = key in _TEXT_QUALIFIERS or key == TARGET or bool(extra)
        exact = self.text.startswith("=", self.pos) and textual
        if exact:
            self.pos += 1
        value_at = self.pos
        if self._ends_word(self.pos):
            return QueryError(f"Missing value after '{name}:'", value_at)
        value = self._phrase() if self.text[self.pos] == '"' else self._word()
        if isinstance(value, QueryError):
            return value
        if not value and not exact:
            return QueryError(f"Missing value after '{name}:'", value_at)
        test: Test | QueryError
        if extra is not None:
            test = TextTest((extra,), value, exact)
        elif key == "created":
            test = _created_test(value, value_at)
        elif key in _TEXT_QUALIFIERS:
            test = TextTest(_TEXT_QUALIFIERS[key], value, exact)
        elif key == TARGET:
            test = TextTest((TARGET,), value, exact)
        elif key == "actor":
            actor = value.lower()
            if actor in ACTOR_TYPES:
                test = ActorTest(actor)
            else:
                test = QueryError(f"Unknown actor '{value}' (use user, scm or system)", value_at)
        elif key == "flag":
            flag = value.lower()
            if flag in FLAGS or flag == ANY_FLAG:
                test = FlagTest(flag)
            else:
                names = ", ".join((*FLAGS, ANY_FLAG))
                test = QueryError(f"Unknown flag '{value}' (use {names})", value_at)
        else:
            test = _time_test(key, value, value_at)
        if isinstance(test, QueryError):
            return test
        return Term(test, negate, start)


def quote_value(text: str) -> str:
    """``text`` as one phrase of the language: ``parse_query`` reads it back as exactly ``text``
    (quotes and backslashes escaped, so colons, a leading ``-`` or ``OR`` stay plain text)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DAY = timedelta(days=1)
_INSTANT = timedelta(microseconds=1)


def _created_test(value: str, position: int) -> TimeTest | RangeTest | QueryError:
    """GitHub's forms: ``>=X`` ``>X`` ``<=X`` ``<X`` (X a date, a time or a span such as 7d),
    ``A..B`` (both included, ``*`` open) and a bare date (that whole day)."""
    for prefix, op, shift in ((">=", "after", False), ("<=", "before", True)):
        if value.startswith(prefix):
            return _bound(op, value[2:], position + 2, past_it=shift)
    if value.startswith(">"):
        return _bound("after", value[1:], position + 1, past_it=True)
    if value.startswith("<"):
        return _bound("before", value[1:], position + 1, past_it=False)
    if ".." in value:
        first, last = value.split("..", 1)
        ends: list[datetime | None] = []
        for text, offset, past in ((first, 0, False), (last, len(first) + 2, True)):
            if text in ("", "*"):
                ends.append(None)
                continue
            moment = _moment(text, position + offset)
            if isinstance(moment, QueryError):
                return moment
            ends.append(_past(moment, text) if past else moment)
        return RangeTest(ends[0], ends[1])
    moment = _moment(value, position)
    if isinstance(moment, QueryError):
        return moment
    return RangeTest(moment, _past(moment, value))


def _bound(op: str, text: str, position: int, *, past_it: bool) -> TimeTest | QueryError:
    """``after``/``before`` a time; ``past_it`` moves the bound past the whole date or instant
    named (``>2026-11-01`` starts the next day, ``<=2026-11-01`` ends with it)."""
    if not text:
        return QueryError("Missing date after the comparison", position)
    test = _time_test(op, text, position)
    if isinstance(test, TimeTest) and past_it and test.at is not None:
        return TimeTest(op, at=_past(test.at, text))
    return test


def _past(moment: datetime, text: str) -> datetime:
    """Just after what ``text`` names: the next day for a date, the next instant for a time."""
    return moment + (_DAY if "T" not in text.upper() and ":" not in text else _INSTANT)


def _moment(text: str, position: int) -> datetime | QueryError:
    test = _time_test("after", text, position)
    if isinstance(test, QueryError):
        return test
    if test.at is None:
        return QueryError(f"Use a date here, not the span '{text}'", position)
    return test.at


def _time_test(op: str, value: str, position: int) -> TimeTest | QueryError:
    span = _SPAN.fullmatch(value)
    if span:
        unit = _SPAN_UNITS.get(span.group(2).lower())
        if unit is None:
            return QueryError(f"Unknown time unit in '{value}' (use m, h, d or w)", position)
        try:
            delta = timedelta(**{unit: int(span.group(1))})
        except (OverflowError, ValueError):
            delta = None
        if delta is None or delta > _LARGEST_SPAN:
            return QueryError(f"Time span '{value}' is too large", position)
        return TimeTest(op, span=delta)
    text = value[:-1] + "+00:00" if value[-1:] in "Zz" else value
    try:
        at = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return QueryError(
            f"Bad date '{value}' (use 2026-11-01, 2026-11-01T10:00, 2026-11-01T10:00+02:00 or 7d)",
            position,
        )
    return TimeTest(op, at=aware(at))


def aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC (the contract's zone); aware ones keep their instant."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- evaluation --------------------------------------------------------------------------


#: Columns of long or unique text: no dictionary helps, a term scans every byte.
_FREE_TEXT = frozenset({"description", "id", "raw"})
_FRAME_COLUMNS = frozenset(FRAME_COLUMNS)


def _cost(term: Term) -> int:
    """Rough evaluation cost, to run the cheap terms of a group before the free-text scans."""
    if not isinstance(term.test, TextTest):
        return 0
    fields = term.test.fields
    if _FREE_TEXT.intersection(fields) or not _FRAME_COLUMNS.issuperset(fields):
        return 2  # extra fields are parsed out of the raw JSON the first time
    return 1


def _evaluate(
    test: Test,
    df: pd.DataFrame,
    now: datetime,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """Rows passing ``test``; with ``within``, rows outside it may be left False."""
    if isinstance(test, TextTest):
        hits = np.zeros(len(df), dtype=bool)
        for name in test.fields:
            if name == TARGET:
                if "action" in df.columns:
                    hits |= _column(df["action"]).targets(test.needle, exact=test.exact)
                continue
            if name in df.columns:
                values = df[name]
            elif "raw" in df.columns:
                values = extra_field_values(df, name)
            else:
                continue
            column = _column(values)
            if test.exact:
                hits |= column.equals_folded(test.needle)
            else:
                hits |= column.contains(test.needle, within)
        return hits
    if isinstance(test, ActorTest):
        if "actor_type" not in df.columns:
            return np.zeros(len(df), dtype=bool)
        return _column(df["actor_type"]).equals(test.actor)
    if isinstance(test, FlagTest):
        if "flags" not in df.columns:
            return np.zeros(len(df), dtype=bool)
        flags = _column(df["flags"])
        if test.flag == ANY_FLAG:
            return ~flags.equals("")
        # Flag names are whole words of the space-separated column, none a part of another.
        return flags.contains(test.flag, within)
    if isinstance(test, RangeTest):
        inside = np.ones(len(df), dtype=bool) if "created_at" in df.columns else None
        if inside is None:
            return np.zeros(len(df), dtype=bool)
        if test.start is not None:
            inside &= time_mask(df, "after", test.start)
        if test.end is not None:
            inside &= time_mask(df, "before", test.end)
        return inside
    return time_mask(df, test.op, test.bound(now))


def time_mask(df: pd.DataFrame, op: str, bound: datetime) -> np.ndarray:
    """``created_at >= bound`` (after) or ``< bound`` (before); missing times never match."""
    if "created_at" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    created = df["created_at"]
    if getattr(created.dtype, "tz", None) is None:
        created = created.dt.tz_localize(UTC)
    stamp = pd.Timestamp(bound)
    result = created >= stamp if op == "after" else created < stamp
    return np.asarray(result.to_numpy(dtype=bool))


class _Kept:
    """What the evaluator keeps about one Arrow column between calls, while the column lives.

    Low-cardinality columns (user, action, actor type, ...) are dictionary-encoded once: a
    term then runs over the few hundred distinct values and is gathered back through the
    indices. The other columns (description, id) get a lowercased copy in polars memory once,
    so a term is one literal substring scan (polars' memmem is several times faster than
    Arrow's case-insensitive regex match), and remember their last few results: the view
    evaluates the same terms again on every keystroke in another filter, and a word typed one
    letter further only needs to look at the rows the shorter word matched. Together this is
    what keeps typing fast on a million rows.

    Nothing here refers to the column itself, so keeping it does not keep the frame alive.
    """

    #: Below this many rows columns are not dictionary-encoded: encoding would not pay off, and
    #: ``export --query`` masks 50,000-row chunks that are each searched only once.
    ENCODE_FROM_ROWS = 100_000
    #: Substring results kept per unencoded column (each is one byte per row).
    KEEP_RESULTS = 8

    def __init__(self, values: pa.ChunkedArray, *, encode: bool) -> None:
        self.dictionary: pa.Array | None = None
        self.indices: np.ndarray | None = None
        self.lowered: pl.Series | None = None
        self.present: np.ndarray | None = None  # which bytes the lowercased text can hold
        self.recent: OrderedDict[str, tuple[np.ndarray, int]] = OrderedDict()
        if encode and len(values) >= self.ENCODE_FROM_ROWS:
            sample = values.slice(0, 10_000)
            if pc.count_distinct(sample).as_py() < len(sample) // 5:
                self.dictionary, self.indices = dictionary_codes(values)

    def remember(self, key: str, hits: np.ndarray) -> None:
        hits.flags.writeable = False  # shared by later calls: nobody may change it
        self.recent[key] = (hits, int(np.count_nonzero(hits)))
        if len(self.recent) > self.KEEP_RESULTS:
            self.recent.popitem(last=False)

    def candidates(self, key: str, rows: int) -> np.ndarray | None:
        """Rows that can contain ``key``: those of the sparsest remembered part of it.

        Keys are lowercase and so is the text they were found in, so a row containing ``key``
        contains every part of it: its candidates are the hits of any part.
        """
        known = [count_and_hits for part, count_and_hits in self.recent.items() if part in key]
        if not known:
            return None
        hits, count = min(known, key=lambda item: item[1])
        if count > rows // 10:  # copying many rows out costs more than scanning them all
            return None
        return np.flatnonzero(hits)


def _lowered(values: pa.Array | pa.ChunkedArray) -> pl.Series:
    """The column lowercased, in polars memory (nulls stay null)."""
    series = pl.from_arrow(values)
    assert isinstance(series, pl.Series)
    return series.str.to_lowercase()


def _present_bytes(values: pa.ChunkedArray) -> np.ndarray:
    """Which of the 256 byte values the column's lowercased UTF-8 text may contain.

    Exact for ASCII text (an uppercase letter stands for its lowercase one). Lowercasing other
    characters can yield any sequence, some ASCII ('K', the Kelvin sign, becomes 'k'), so a
    column with any of them may contain every non-ASCII byte and every letter.
    """
    seen = np.zeros(256, dtype=bool)
    for chunk in values.chunks:
        if len(chunk) == 0:
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], width)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        data = chunk.buffers()[2]
        if data is not None and offsets[-1] > offsets[0]:
            text = np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]]
            seen |= np.bincount(text, minlength=256).astype(bool)
    seen[ord("a") : ord("z") + 1] |= seen[ord("A") : ord("Z") + 1]
    if seen[0x80:].any():
        seen[0x80:] = True
        seen[ord("a") : ord("z") + 1] = True
    return seen


def _literal_hits(haystack: pl.Series, key: str) -> np.ndarray:
    """Rows of the lowercased ``haystack`` containing the lowercase ``key`` (nulls: False).

    As an expression over a one-column frame, polars scans the column's chunks on all cores
    (the loaded column keeps the cache read's chunks); the Series method uses one.
    """
    test = pl.first().str.contains(key, literal=True).fill_null(False)
    found = haystack.to_frame().select(test).to_series()
    return found.to_numpy().astype(bool, copy=False)


class _Column:
    """One string column during one evaluation: its Arrow values and what is kept about them."""

    def __init__(self, values: pa.ChunkedArray, kept: _Kept) -> None:
        self.values = values
        self.kept = kept

    def _per_row(
        self,
        compute: Callable[[pa.Array | pa.ChunkedArray], object],
        within: np.ndarray | None = None,
    ) -> np.ndarray:
        """Run an Arrow predicate over the distinct values if encoded, else over the rows."""
        dictionary, indices = self.kept.dictionary, self.kept.indices
        if dictionary is None or indices is None:
            return _bool(compute(self.values))
        per_value = np.append(_bool(compute(dictionary)), False)  # the False is for nulls
        return self._gather(per_value, within)

    def contains(self, needle: str, within: np.ndarray | None = None) -> np.ndarray:
        """Rows containing ``needle``, ignoring case; read-only (the result may be shared).

        Case is ignored by lowercasing both sides (Unicode's full lowercase mapping). With
        ``within`` (row numbers), only those rows need a right answer: the others may come
        back False, which lets a term after a selective one scan just a few rows.
        """
        key = needle.lower()
        if self.kept.dictionary is not None:
            per_value = _literal_hits(self._haystack(), key)
            return self._gather(np.append(per_value, False), within)
        recent = self.kept.recent
        if key in recent:
            recent.move_to_end(key)
            return recent[key][0]
        if not self._could_contain(key):  # a word of letters no id ever has, say
            hits = np.zeros(len(self.values), dtype=bool)
            self.kept.remember(key, hits)
            return hits
        candidates = self.kept.candidates(key, len(self.values))
        if within is not None and (candidates is None or len(within) < len(candidates)):
            return self._contains_in(key, within)  # partial: not kept
        if candidates is None:
            hits = _literal_hits(self._haystack(), key)
        else:
            hits = self._contains_in(key, candidates)
        self.kept.remember(key, hits)
        return hits

    def _gather(self, per_value: np.ndarray, within: np.ndarray | None) -> np.ndarray:
        """Per distinct value -> per row (only the rows ``within``, when given)."""
        indices = self.kept.indices
        assert indices is not None
        if not per_value.any():  # the usual case for a word in another column: no gather
            return np.zeros(len(indices), dtype=bool)
        if within is None:
            return np.asarray(per_value[indices])
        hits = np.zeros(len(indices), dtype=bool)
        hits[within] = per_value[indices[within]]
        return hits

    def _haystack(self) -> pl.Series:
        """The lowercased column (its distinct values, if encoded), made once on first use."""
        if self.kept.lowered is None:
            encoded = self.kept.dictionary
            self.kept.lowered = _lowered(self.values if encoded is None else encoded)
        return self.kept.lowered

    def _could_contain(self, key: str) -> bool:
        """False when ``key`` has a byte that no row's lowercased text has (so nothing matches)."""
        if self.kept.present is None:
            self.kept.present = _present_bytes(self.values)
        return bool(self.kept.present[np.frombuffer(key.encode(), np.uint8)].all())

    def prepare(self) -> None:
        """Build what searching this column needs, ahead of the first search."""
        self._haystack()
        if self.kept.indices is None:
            self._could_contain("")

    def _contains_in(self, key: str, rows: np.ndarray) -> np.ndarray:
        hits = np.zeros(len(self.values), dtype=bool)
        hits[rows] = _literal_hits(self._haystack().gather(rows), key)
        return hits

    def equals_folded(self, value: str) -> np.ndarray:
        """Rows whose whole value is ``value``, ignoring case (lowercased like ``contains``)."""
        per_row = pl.first().eq(value.lower()).fill_null(False)
        found = self._haystack().to_frame().select(per_row).to_series().to_numpy()
        found = found.astype(bool, copy=False)
        if self.kept.dictionary is not None:
            return self._gather(np.append(found, False), None)
        return found

    def targets(self, needle: str, *, exact: bool) -> np.ndarray:
        """Rows (of the action column) embedding a value that contains ``needle`` (with
        ``exact``, one that is ``needle``), ignoring case; worked out per distinct action."""
        key = needle.lower()

        def per_value(actions: pa.Array | pa.ChunkedArray) -> pa.Array:
            found = []
            for action in actions.to_pylist():
                values = [v.lower() for v in embedded_values(action)] if action else []
                found.append(key in values if exact else any(key in v for v in values))
            return pa.array(found, pa.bool_())

        if self.kept.dictionary is not None:
            return self._per_row(per_value)
        if len(self.values) == 0:
            return np.zeros(0, dtype=bool)
        dictionary, indices = dictionary_codes(self.values)  # Python runs per distinct action
        return np.asarray(np.append(_bool(per_value(dictionary)), False)[indices])

    def equals(self, value: str) -> np.ndarray:
        return self._per_row(lambda v: pc.equal(v, pa.scalar(value, v.type)))

    def isin(self, wanted: frozenset[str]) -> np.ndarray:
        return self._per_row(lambda v: pc.is_in(v, value_set=pa.array(sorted(wanted), v.type)))

    def value_counts(self, rows: np.ndarray) -> dict[str, int]:
        """Count of each distinct non-null value among ``rows``, with 0 for the absent ones."""
        dictionary, indices = self.kept.dictionary, self.kept.indices
        if dictionary is None or indices is None:
            counts = dict.fromkeys(pc.drop_null(pc.unique(self.values)).to_pylist(), 0)
            chosen = pc.value_counts(pc.drop_null(self.values.filter(pa.array(rows))))
            counts.update(
                zip(chosen.field(0).to_pylist(), chosen.field(1).to_pylist(), strict=True)
            )
            return counts
        tally = np.bincount(indices[rows], minlength=len(dictionary) + 1)
        return dict(zip(dictionary.to_pylist(), tally[:-1].tolist(), strict=True))


def _bool(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False), dtype=bool)


#: id(Arrow column) -> what is kept about it; an entry leaves when its column is freed.
_KEPT: dict[int, _Kept] = {}


def _column(series: pd.Series) -> _Column:
    """The :class:`_Column` of a frame column, with what was kept about it earlier.

    Columns of the frame contract are Arrow-backed strings; anything else (object dtype,
    numbers, Python strings) is converted on every call and nothing is kept.
    """
    array = series.array
    values = array.__arrow_array__() if isinstance(array, pd.arrays.ArrowExtensionArray) else None
    if values is None or not (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    ):
        converted = series.astype("string[pyarrow]").array.__arrow_array__()
        return _Column(converted, _Kept(converted, encode=False))
    key = id(values)
    kept = _KEPT.get(key)
    if kept is None:
        kept = _KEPT[key] = _Kept(values, encode=True)
        # Arrow arrays are immutable, so what is kept stays right until the column is freed
        # (and a freed column's id can be reused only after this callback ran).
        weakref.finalize(values, _KEPT.pop, key, None)
    return _Column(values, kept)


def prepare(df: pd.DataFrame) -> None:
    """Do the once-per-frame work of searching ``df`` now, so the first search costs no more
    than the next: encode the few-valued columns and lowercase the free-text ones.

    A loading thread calls it before handing a big frame to the window; what it builds is kept
    per Arrow column (see :class:`_Kept`), so the window's searches find it ready.
    """
    for name in (*DEFAULT_FIELDS, "action"):
        if name in df.columns:
            _column(df[name]).prepare()


def action_values(df: pd.DataFrame) -> _Column:
    """The ``action`` column for :meth:`_Column.isin` and facet counting (filters.py)."""
    return _column(df["action"])
