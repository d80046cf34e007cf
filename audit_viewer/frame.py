"""The columnar event frame that the cache produces and the table, search and export read.

One contract for every consumer (see ``FRAME_COLUMNS``): text columns are pandas' pyarrow-backed
``string`` dtype (``id``, ``user``, ``actor_type``, ``action``, ``description`` and ``raw`` are
never missing; ``user_name`` and ``user_email`` use ``pd.NA``), ``created_at`` is
``datetime64[ns, UTC]``, rows are newest first with ties by id, and the index is a RangeIndex.
Arrow columns keep a million events in a few hundred megabytes and let sorting and filtering run
in C instead of per row in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit_viewer.events import FRAME_COLUMNS, EventRow

STRING_DTYPE = pd.StringDtype("pyarrow")
TIME_DTYPE = pd.DatetimeTZDtype(unit="ns", tz="UTC")

#: The Arrow layout of a frame; the cache builds record batches in it.
ARROW_SCHEMA = pa.schema(
    [
        (name, pa.timestamp("ns", tz="UTC") if name == "created_at" else pa.large_string())
        for name in FRAME_COLUMNS
    ]
)
_TYPES_MAPPER = {pa.large_string(): STRING_DTYPE}.get


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


def _sort_key(column: pd.Series) -> pa.Array | pa.ChunkedArray:
    """Values whose natural order is the order a user expects for this column."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_numeric_dtype(column):
        return pa.array(column)  # chronological / numeric; NaT and NaN become nulls
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype(STRING_DTYPE)
    return pc.utf8_lower(pa.array(column))


def sort_order(df: pd.DataFrame, column: str, ascending: bool = True) -> np.ndarray:
    """Row positions that sort ``df`` by ``column``: stable, text case-insensitive, missing last.

    Stable means rows that tie keep their current relative order in both directions, so sorting
    by action keeps each action's events newest first.
    """
    # Arrow's default null placement is at the end, in either direction.
    indices = pc.sort_indices(
        _sort_key(df[column]), sort_keys=[("", "ascending" if ascending else "descending")]
    )
    return indices.to_numpy().astype(np.int64, copy=False)


def take_chunks(df: pd.DataFrame, order: np.ndarray, chunk_size: int) -> Iterator[pd.DataFrame]:
    """Rows of ``df`` in ``order``, ``chunk_size`` at a time (export writes what the view shows)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    for start in range(0, len(order), chunk_size):
        yield df.take(order[start : start + chunk_size]).reset_index(drop=True)
