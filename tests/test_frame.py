"""The event frame: dtypes, default order, the table's sort and export's chunked reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from audit_viewer.events import FRAME_COLUMNS, normalize_event
from audit_viewer.frame import (
    STRING_DTYPE,
    TIME_DTYPE,
    empty_frame,
    frame_from_events,
    sort_order,
    take_chunks,
)

T0 = datetime(2026, 11, 2, 14, 3, 11, 482000, tzinfo=UTC)


def event(event_id: str, seconds: float, **fields: object):
    raw = {
        "id": event_id,
        "created_at": (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "actor_type": "user",
        "user_name": f"name-{event_id}",
        "user_email": f"{event_id}@example.com",
        "action": "User logged in",
        "description": "",
    }
    raw.update(fields)
    return normalize_event(raw)


def assert_contract(df: pd.DataFrame) -> None:
    assert tuple(df.columns) == FRAME_COLUMNS
    for name in FRAME_COLUMNS:
        expected = TIME_DTYPE if name == "created_at" else STRING_DTYPE
        assert df[name].dtype == expected, name
    assert isinstance(df.index, pd.RangeIndex)
    assert df.index.start == 0


def test_empty_frame_has_every_column_and_dtype():
    df = empty_frame()
    assert len(df) == 0
    assert_contract(df)


def test_frame_from_events_is_newest_first_with_ties_by_id():
    df = frame_from_events(
        [
            event("b", 0),
            event("c", 5),
            event("a", 0),
            event("d", -5, actor_type="system", user_name=None, user_email=None),
        ]
    )
    assert_contract(df)
    assert df["id"].tolist() == ["c", "a", "b", "d"]
    assert df["created_at"].iloc[0] == pd.Timestamp(T0 + timedelta(seconds=5))
    assert df.loc[3, "user"] == "System"
    assert df.loc[3, "user_name"] is pd.NA
    assert df.loc[3, "user_email"] is pd.NA
    assert df.loc[0, "description"] == ""  # never missing


@pytest.fixture
def mixed() -> pd.DataFrame:
    return frame_from_events(
        [
            event("e1", 50, user_email="bob@example.com"),
            event("e2", 40, user_email="Alice@example.com"),
            event("e3", 30, user_email=None, user_name=None),
            event("e4", 20, user_email="alice@example.com"),
            event("e5", 10, user_email="BOB@example.com"),
            event("e6", 0, user_email=None, user_name=None),
        ]
    )


def test_sort_by_time_is_chronological(mixed):
    order = sort_order(mixed, "created_at", ascending=True)
    assert order.dtype == np.int64
    assert mixed["id"].take(order).tolist() == ["e6", "e5", "e4", "e3", "e2", "e1"]
    descending = sort_order(mixed, "created_at", ascending=False)
    assert mixed["id"].take(descending).tolist() == ["e1", "e2", "e3", "e4", "e5", "e6"]


def test_sort_by_text_is_case_insensitive_stable_and_missing_last(mixed):
    ascending = mixed["id"].take(sort_order(mixed, "user_email", ascending=True)).tolist()
    # Alice/alice tie and keep their current (newest first) order; so do bob/BOB.
    assert ascending == ["e2", "e4", "e1", "e5", "e3", "e6"]
    descending = mixed["id"].take(sort_order(mixed, "user_email", ascending=False)).tolist()
    assert descending == ["e1", "e5", "e2", "e4", "e3", "e6"]


def test_sort_by_column_with_equal_values_keeps_order(mixed):
    for ascending in (True, False):
        order = sort_order(mixed, "action", ascending=ascending)
        assert order.tolist() == list(range(len(mixed)))


def test_take_chunks_yields_rows_in_shown_order(mixed):
    order = sort_order(mixed, "user_email", ascending=True)
    chunks = list(take_chunks(mixed, order, 4))
    assert [len(chunk) for chunk in chunks] == [4, 2]
    joined = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(joined, mixed.take(order).reset_index(drop=True))
    assert_contract(chunks[1])
    assert list(take_chunks(mixed, order[:0], 4)) == []
    with pytest.raises(ValueError):
        list(take_chunks(mixed, order, 0))
