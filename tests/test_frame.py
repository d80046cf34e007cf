"""The event frame: dtypes, default order, the table's sort and export's chunked reading."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from audit_viewer import frame
from audit_viewer.events import FRAME_COLUMNS, normalize_event
from audit_viewer.frame import (
    STRING_DTYPE,
    TIME_DTYPE,
    empty_frame,
    extra_field_values,
    extra_fields,
    find_extra_field,
    frame_from_arrow,
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


# --- sorting a column by its distinct values -----------------------------------------------------


def random_frame(rows: int, seed: int) -> pd.DataFrame:
    """Few distinct values in mixed case, with ties and gaps, in Arrow chunks like the cache's."""
    rng = np.random.default_rng(seed)

    def pick(pool: list[str], missing: bool = False) -> pa.Array:
        picks = rng.integers(0, len(pool) + missing, rows).tolist()  # len(pool): missing
        return pa.array([pool[i] if i < len(pool) else None for i in picks], pa.large_string())

    base = frame_from_events(event(f"r{i:05d}", -i) for i in range(rows))
    columns = {name: pa.array(base[name]) for name in FRAME_COLUMNS}
    emails = ["alice", "Alice", "ALICE", "bob", "Bob", "Émile", "émile", "zoë", "", "10", "9", "_x"]
    columns["user_email"] = pick(emails, missing=True)
    columns["action"] = pick(["Export SBOM", "export sbom", "Added user", "User logged in"])
    columns["actor_type"] = pick(["user", "scm", "system"])
    table = pa.table(columns)
    return frame_from_arrow(pa.Table.from_batches(table.to_batches(max_chunksize=700)))


def python_order(values: list[str | None], ascending: bool) -> list[int]:
    """Stable, lowercase, missing last in both directions: the order users expect."""
    present = [i for i, v in enumerate(values) if v is not None]
    present.sort(key=lambda i: values[i].lower(), reverse=not ascending)  # type: ignore[union-attr]
    # reverse=True keeps ties in their original order too (Python's sort is stable both ways).
    return present + [i for i, v in enumerate(values) if v is None]


@pytest.mark.parametrize("ascending", [True, False])
def test_sorting_by_distinct_values_agrees_with_sorting_every_row(monkeypatch, ascending):
    df = random_frame(5000, seed=7)
    assert df["user_email"].array.__arrow_array__().num_chunks > 1
    for column in ("user_email", "actor_type", "action"):
        monkeypatch.setattr(frame, "_FEW_DISTINCT", 1.0)  # always rank distinct values
        ranked = sort_order(df, column, ascending)
        monkeypatch.setattr(frame, "_FEW_DISTINCT", -1.0)  # never: sort every row's text
        plain = sort_order(df, column, ascending)
        assert ranked.dtype == plain.dtype == np.int64
        assert ranked.tolist() == plain.tolist(), column
    monkeypatch.undo()
    values = df["user_email"].astype(object).where(df["user_email"].notna(), None).tolist()
    expected = python_order(values, ascending)
    assert sort_order(df, "user_email", ascending).tolist() == expected


# --- extra fields of the raw JSON ---------------------------------------------------------------


def extra_frame(*fields: dict) -> pd.DataFrame:
    return frame_from_events(event(f"x{i}", -i, **extra) for i, extra in enumerate(fields))


def shown(values: pd.Series) -> list[str | None]:
    return [None if value is pd.NA else value for value in values.tolist()]


def test_extra_fields_are_found_with_dotted_names_most_common_first():
    df = extra_frame(
        {"ip_address": "10.0.0.1", "metadata": {"bytes": 7, "tags": ["a"]}},
        {"ip_address": "10.0.0.2"},
        {"tenant_id": "t-1", "metadata": {}},
    )
    found = {f.name: f for f in extra_fields(df)}
    assert next(iter(found)) == "ip_address"
    assert set(found) == {"ip_address", "metadata.bytes", "metadata.tags", "metadata", "tenant_id"}
    assert found["metadata.bytes"].path == ("metadata", "bytes")
    assert extra_fields(empty_frame()) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # One JSON type in every row (Arrow reads the whole column at once).
        (["10.0.0.1", None, "ÄÖ 👩‍💻", ""], ["10.0.0.1", None, "ÄÖ 👩‍💻", ""]),
        ([2**31 + 5, -3, None, 2**62], [str(2**31 + 5), "-3", None, str(2**62)]),
        ([True, False, None, True], ["true", "false", None, "true"]),
        # Floats print as Python prints them, and an int among them stays an int.
        ([0.5, 7, 1e-05, None], ["0.5", "7", "1e-05", None]),
        # Mixed types, big ints, objects and lists: what the cell shows, row by row.
        ([2**64, "b", None, [1, "x"]], [str(2**64), "b", None, '[1,"x"]']),
    ],
)
def test_extra_field_values_are_the_text_the_cells_show(values, expected):
    df = extra_frame(*({"size": v} for v in values), {})  # and one event without the field
    assert shown(extra_field_values(df, "size")) == [*expected, None]
    assert extra_field_values(df, "size").dtype == STRING_DTYPE


def test_extra_field_values_of_nested_and_unknown_names():
    df = extra_frame(
        {"metadata": {"bytes": 2**33, "source": "web"}},
        {"metadata": {"source": "api"}},
        {"metadata": "not an object"},
        {"meta": {"bytes": 1}},
    )
    assert shown(extra_field_values(df, "metadata.bytes")) == [str(2**33), None, None, None]
    assert shown(extra_field_values(df, "metadata.source")) == ["web", "api", None, None]
    assert shown(extra_field_values(df, "nothing.here")) == [None] * 4
    # A frame column is never an extra field, even though the raw JSON has it.
    assert shown(extra_field_values(df, "action")) == [None] * 4


def test_a_field_the_sample_missed_is_still_found():
    rows = [{} for _ in range(5000)]
    rows[1] = {"rare": "needle"}  # the discovery sample (every 2.5th row) skips row 1
    df = extra_frame(*rows)
    assert "rare" not in {f.name for f in extra_fields(df)}
    values = extra_field_values(df, "rare")
    assert values.iloc[1] == "needle"
    assert values.notna().sum() == 1


def test_extracting_extra_fields_does_not_keep_the_frame_alive():
    df = extra_frame({"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.2"})
    raw = weakref.ref(df["raw"].array.__arrow_array__())
    assert shown(extra_field_values(df, "ip_address")) == ["10.0.0.1", "10.0.0.2"]
    del df
    gc.collect()
    assert raw() is None


def test_a_rare_extra_field_the_sample_misses_is_found_in_every_row():
    fields: list[dict] = [{"ip_address": f"10.0.{i // 250}.{i % 250}"} for i in range(10_000)]
    fields[1] = {"Rare_Field": "x", "deep": {"Rare": 1}}  # one event, between sampled rows
    df = extra_frame(*fields)
    assert "Rare_Field" not in {f.name for f in extra_fields(df)}, "the sample skips row 1"
    assert find_extra_field(df, "rare_field") == "Rare_Field"  # its own spelling
    assert find_extra_field(df, "deep.rare") == "deep.Rare"
    assert find_extra_field(df, "IP_ADDRESS") == "ip_address"
    assert find_extra_field(df, "rare") is None  # a part of a name is not a field
    assert find_extra_field(df, "description") is None  # a contract field is no extra one
    assert find_extra_field(empty_frame(), "rare_field") is None
