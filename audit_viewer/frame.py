"""The columnar event frame that the cache produces and the table, search and export read.

One contract for every consumer (see ``FRAME_COLUMNS``): text columns are pandas' pyarrow-backed
``string`` dtype (``id``, ``user``, ``actor_type``, ``action``, ``description`` and ``raw`` are
never missing; ``user_name`` and ``user_email`` use ``pd.NA``), ``created_at`` is
``datetime64[us, UTC]``, rows are newest first with ties by id, and the index is a RangeIndex.
Microseconds, not pandas' usual nanoseconds: they hold every time the cache can (years 1 to
9999, as a poisoned event may say), where nanoseconds end in 1677 and 2262. ``flags`` names what
is odd about an event (``audit_viewer.events.FLAGS``), "" for most.
Arrow columns keep a million events in a few hundred megabytes and let sorting and filtering run
in C instead of per row in Python.

Fields of the raw JSON beyond the contract's (``ip_address``, ``metadata.bytes``, ...) are not
frame columns; :func:`extra_fields` finds them and :func:`extra_field_values` extracts one for
the whole frame, so the table can show and sort them and the filters can search them.
"""

from __future__ import annotations

import ctypes
import json
import sys
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from audit_viewer.events import FRAME_COLUMNS, KNOWN_FIELDS, EventRow

STRING_DTYPE = pd.StringDtype("pyarrow")
TIME_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")

#: The Arrow layout of a frame; the cache builds record batches in it.
ARROW_SCHEMA = pa.schema(
    [
        (name, pa.timestamp("us", tz="UTC") if name == "created_at" else pa.large_string())
        for name in FRAME_COLUMNS
    ]
)
_TYPES_MAPPER = {pa.large_string(): STRING_DTYPE}.get


def return_freed_memory() -> None:
    """Make freed column memory go back to the system at once, for the whole process.

    A million events are loaded, lowercased and sorted in buffers of megabytes that live for
    one step; Arrow's default pool and glibc's heap keep such blocks for reuse, which left the
    window hundreds of megabytes above what it holds (see docs/performance.md). The system pool
    and a fixed 1 MiB mmap threshold hand every big block back when it is freed.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:  # not glibc (musl): nothing to tune
            return
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    """An Arrow table in :data:`ARROW_SCHEMA` -> the frame, without copying the text columns."""
    table = table.select(list(FRAME_COLUMNS)).cast(ARROW_SCHEMA)
    return table.to_pandas(types_mapper=_TYPES_MAPPER, split_blocks=True)


def empty_frame() -> pd.DataFrame:
    """A frame with no rows but every column and dtype, for views before the first sync."""
    return frame_from_arrow(ARROW_SCHEMA.empty_table())


def frame_from_events(events: Iterable[EventRow]) -> pd.DataFrame:
    """Event rows -> the frame, in the default order (newest first, ties by id)."""
    rows = sorted(events, key=lambda row: row.id)
    rows.sort(key=lambda row: row.created_at, reverse=True)
    columns = {
        name: pa.array([getattr(row, name) for row in rows], type=ARROW_SCHEMA.field(name).type)
        for name in FRAME_COLUMNS
    }
    return frame_from_arrow(pa.table(columns))


# --- sorting -------------------------------------------------------------------------------

#: Rows sampled to tell a column of few distinct values (user, action, ...) from free text.
_DISTINCT_SAMPLE = 10_000
#: At most this share of distinct values in the sample: sort by the ranks of the distinct values.
_FEW_DISTINCT = 0.2


def sort_order(df: pd.DataFrame, column: str, ascending: bool = True) -> np.ndarray:
    """Row positions that sort ``df`` by ``column``: stable, text case-insensitive, missing last.

    Stable means rows that tie keep their current relative order in both directions, so sorting
    by action keeps each action's events newest first.
    """
    series = df[column]
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_numeric_dtype(series):
        return _sorted_indices(pa.array(series), ascending)  # NaT and NaN become nulls
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype(STRING_DTYPE)
    text = pa.array(series)
    if len(text) and _few_distinct(text):
        return _ranked_order(text, ascending)
    return _sorted_indices(pc.utf8_lower(text), ascending)


def _sorted_indices(values: pa.Array | pa.ChunkedArray, ascending: bool) -> np.ndarray:
    """Arrow's stable sort; its default null placement is at the end, in either direction."""
    direction = "ascending" if ascending else "descending"
    indices = pc.sort_indices(values, sort_keys=[("", direction)])
    return np.asarray(indices.to_numpy(), dtype=np.int64)


def _few_distinct(text: pa.Array | pa.ChunkedArray) -> bool:
    """Whether an evenly spread sample of the column repeats its values a lot."""
    picks = np.linspace(0, len(text) - 1, min(len(text), _DISTINCT_SAMPLE)).astype(np.int64)
    sample = text.take(pa.array(np.unique(picks)))
    return bool(pc.count_distinct(sample, mode="all").as_py() <= len(sample) * _FEW_DISTINCT)


def _ranked_order(text: pa.Array | pa.ChunkedArray, ascending: bool) -> np.ndarray:
    """The same order as sorting every row's lowercased text, through its distinct values.

    Sorting a million strings takes some twenty million string comparisons; here only the few
    hundred distinct values are lowercased and ranked (values equal ignoring case share a
    rank), each row gets its value's rank, and numpy's stable sort orders the small integers.
    """
    if isinstance(text, pa.Array):
        text = pa.chunked_array([text])
    dictionary, indices = dictionary_codes(text)
    lowered = pc.utf8_lower(dictionary)
    ranks = np.asarray(pc.rank(lowered, sort_keys="ascending", tiebreaker="dense"), np.int64)
    last = len(lowered) + 1  # above every rank: missing values go last in both directions
    if not ascending:
        ranks = last - ranks
    per_value = np.append(ranks, last).astype(np.uint16 if last < 2**16 else np.uint32)
    keys = per_value[indices]
    return np.argsort(keys, kind="stable").astype(np.int64, copy=False)


def dictionary_codes(values: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The distinct values of a non-empty column, and each row's index into them (int32; a
    missing value gets ``len(dictionary)``, one past the last).

    Encoded chunk by chunk against one dictionary: combining the chunks first would copy the
    whole column only to throw the copy away.
    """
    encoded = pc.dictionary_encode(values).unify_dictionaries()
    dictionary = encoded.chunks[0].dictionary
    missing = len(dictionary)
    indices = np.concatenate(
        [np.asarray(pc.fill_null(chunk.indices, missing), np.int32) for chunk in encoded.chunks]
    )
    return dictionary, indices


def take_chunks(df: pd.DataFrame, order: np.ndarray, chunk_size: int) -> Iterator[pd.DataFrame]:
    """Rows of ``df`` in ``order``, ``chunk_size`` at a time (export writes what the view shows)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    for start in range(0, len(order), chunk_size):
        yield df.take(order[start : start + chunk_size]).reset_index(drop=True)


# --- extra fields --------------------------------------------------------------------------

#: Rows whose raw JSON is sampled to discover extra fields.
_EXTRA_SAMPLE_ROWS = 2000
#: Nested objects are flattened into dotted fields (``metadata.bytes``) this deep.
_FLATTEN_DEPTH = 3
#: The Arrow type a field is read as when the sample saw only values of one JSON type.
_ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.large_string(),
    "bool": pa.bool_(),
}


@dataclass(frozen=True)
class ExtraField:
    """A field of the events' raw JSON that is not a frame column (nested ones flattened)."""

    name: str  # the keys joined by dots: what the table's column and a filter call it
    path: tuple[str, ...]  # the keys leading to the value in the raw JSON
    json_type: str  # "int" | "float" | "str" | "bool" | "mixed", as sampled


def extra_values(raw: str) -> dict[tuple[str, ...], Any]:
    """An event's fields beyond the contract's by path (nested objects flattened)."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(parsed, dict):
        return {}
    extras = {k: v for k, v in parsed.items() if k not in KNOWN_FIELDS and k not in FRAME_COLUMNS}
    return dict(_flatten(extras))


def _flatten(
    values: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in values.items():
        path = (*prefix, key)
        if isinstance(value, dict) and value and len(path) < _FLATTEN_DEPTH:
            yield from _flatten(value, path)
        else:
            yield path, value


def format_extra(value: Any) -> str:
    """A JSON value as a cell shows it: text as is, numbers exact, objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**63) <= value < 2**63 else "mixed"
    if isinstance(value, float):
        return "float"
    return "str" if isinstance(value, str) else "mixed"


def extra_fields(df: pd.DataFrame) -> list[ExtraField]:
    """Extra fields seen in a sample of the raw JSON, most common first."""
    kept = _extracted(df["raw"])
    if kept.fields is None:
        kept.fields = _discover(df["raw"])
    return list(kept.fields)


def _discover(raw: pd.Series) -> list[ExtraField]:
    n = len(raw)
    if n == 0:
        return []
    picks = np.unique(np.linspace(0, n - 1, min(n, _EXTRA_SAMPLE_ROWS)).astype(np.int64))
    seen: dict[tuple[str, ...], int] = {}
    kinds: dict[tuple[str, ...], set[str]] = {}
    for text in raw.take(picks).tolist():
        for path, value in extra_values(text).items():
            seen[path] = seen.get(path, 0) + 1
            if value is not None:
                kinds.setdefault(path, set()).add(_json_kind(value))
    fields = []
    for path in sorted(seen, key=lambda p: (-seen[p], p)):
        found = kinds.get(path, {"mixed"})
        if found == {"int", "float"}:
            json_type = "float"
        else:
            json_type = found.pop() if len(found) == 1 else "mixed"
        fields.append(ExtraField(".".join(path), path, json_type))
    return fields


def find_extra_field(df: pd.DataFrame, name: str) -> str | None:
    """The extra field called ``name`` (case aside) if any row has it, else None.

    :func:`extra_fields` samples, so it misses a field that only a few events carry; a
    qualifier naming one asks here, which parses every row that mentions the field's first key
    (once per frame and name).
    """
    wanted = name.lower()
    sampled = next((f.name for f in extra_fields(df) if f.name.lower() == wanted), None)
    if sampled is not None or "raw" not in df.columns or len(df) == 0:
        return sampled
    raw = df["raw"]
    kept = _extracted(raw)
    if wanted in kept.found:
        return kept.found[wanted]
    key = json.dumps(wanted.split(".")[0], ensure_ascii=False)
    mentions = raw.str.contains(key, case=False, regex=False).fillna(False)
    rows = np.flatnonzero(mentions.to_numpy(dtype=bool))
    names = (".".join(path) for text in raw.take(rows).tolist() for path in extra_values(text))
    found = kept.found[wanted] = next((n for n in names if n.lower() == wanted), None)
    return found


def extra_field_data(df: pd.DataFrame, extra: ExtraField) -> pa.Array | list[Any]:
    """Every row's value of one extra field (None: missing), for sorting.

    An Arrow array when the field has one JSON type in every row (Arrow's JSON reader parses
    the whole raw column in C), else a list of Python values from the rows that mention it.
    Extracted once per frame.
    """
    raw = df["raw"]
    kept = _extracted(raw)
    values = kept.data.get(extra.path)
    if values is None:
        values = _arrow_values(raw, extra) if len(raw) else None
        if values is None:
            values = _python_values(raw, extra.path)
        kept.data[extra.path] = values
    return values


def extra_field_values(df: pd.DataFrame, name: str) -> pd.Series:
    """The text the table shows for extra field ``name`` in every row (missing: ``pd.NA``).

    For the filters: a column filter under an extra-field column searches this like a frame
    column. Positional (a RangeIndex), Arrow-backed strings, extracted once per frame and shared
    (read-only); a name the sample did not find is looked up in every row, a frame column's
    name is never extra.
    """
    raw = df["raw"]
    kept = _extracted(raw)
    extra = next((f for f in extra_fields(df) if f.name == name), None)
    if extra is None:
        extra = ExtraField(name, tuple(name.split(".")), "mixed")
    text = kept.text.get(extra.path)
    if text is None:
        values = extra_field_data(df, extra)
        if isinstance(values, pa.Array) and not pa.types.is_floating(values.type):
            strings = values.cast(pa.large_string())  # int, bool and text print as cells do
        else:  # only Python's json tells 7 from 7.0 in a float field
            if isinstance(values, pa.Array):
                values = _python_values(raw, extra.path)
            shown = [None if value is None else format_extra(value) for value in values]
            strings = pa.array(shown, pa.large_string())
        text = kept.text[extra.path] = pa.chunked_array([strings]).to_pandas(
            types_mapper=_TYPES_MAPPER
        )
    return text


def _arrow_values(raw: pd.Series, extra: ExtraField) -> pa.Array | None:
    """One extra field of every event, parsed in C by Arrow's JSON reader (None: can't).

    Arrow needs one type per field; a value of another type in any row makes it give up, and
    the caller falls back to Python's json module.
    """
    if extra.json_type not in _ARROW_TYPES:
        return None
    field_type: pa.DataType = _ARROW_TYPES[extra.json_type]
    for name in reversed(extra.path[1:]):
        field_type = pa.struct([(name, field_type)])
    schema = pa.schema([(extra.path[0], field_type)])
    lines = pc.binary_join_element_wise(
        pa.array(raw), pa.scalar("\n", pa.large_string()), pa.scalar("", pa.large_string())
    )
    offsets = np.frombuffer(lines.buffers()[1], np.int64)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    data = lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        table = pj.read_json(pa.BufferReader(data), parse_options=options)
    except pa.ArrowInvalid:
        return None
    if table.num_rows != len(raw):  # a blank raw text is no line to Arrow
        return None
    values = table.column(0).combine_chunks()
    for _ in extra.path[1:]:
        values = pc.struct_field(values, [0])
    return values


def _python_values(raw: pd.Series, path: tuple[str, ...]) -> list[Any]:
    """One extra field of every event through Python's json, parsing only rows that name it."""
    values: list[Any] = [None] * len(raw)
    if path[0] in KNOWN_FIELDS or path[0] in FRAME_COLUMNS:
        return values
    needle = json.dumps(path[0], ensure_ascii=False)
    hits = np.flatnonzero(raw.str.contains(needle, regex=False).to_numpy(dtype=bool))
    for row, text in zip(hits.tolist(), raw.take(hits).tolist(), strict=True):
        values[row] = extra_values(text).get(path)
    return values


@dataclass
class _Extracted:
    """What was extracted from one raw column; nothing here refers to the column itself."""

    fields: list[ExtraField] | None = None
    #: Names asked of :func:`find_extra_field` (lowercased) and what every row answered.
    found: dict[str, str | None] = field(default_factory=dict)
    data: dict[tuple[str, ...], pa.Array | list[Any]] = field(default_factory=dict)
    text: dict[tuple[str, ...], pd.Series] = field(default_factory=dict)


#: id(Arrow raw column) -> what was extracted from it; an entry leaves when its column is freed.
_EXTRACTED: dict[int, _Extracted] = {}


def _extracted(raw: pd.Series) -> _Extracted:
    """What was extracted from this raw column before (Arrow columns are immutable).

    Keyed by the Arrow column rather than the frame: frames share columns, and an entry must
    not keep its frame alive. A raw column that is not Arrow-backed is extracted every time.
    """
    array = raw.array
    if not isinstance(array, pd.arrays.ArrowExtensionArray):
        return _Extracted()
    values = array.__arrow_array__()
    key = id(values)
    kept = _EXTRACTED.get(key)
    if kept is None:
        kept = _EXTRACTED[key] = _Extracted()
        # A freed column's id can be reused only after this callback ran.
        weakref.finalize(values, _EXTRACTED.pop, key, None)
    return kept
