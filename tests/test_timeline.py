"""The timeline: what it counts per bar, and what dragging and double-clicking across it tell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QPoint, Qt

from audit_viewer.ui.timeline import Timeline

pytestmark = pytest.mark.gui

BERLIN = ZoneInfo("Europe/Berlin")


def stamps(*texts: str) -> np.ndarray:
    """UTC ISO strings -> the datetime64[us] array the main window passes."""
    return np.array([np.datetime64(t.rstrip("Z"), "us") for t in texts])


@pytest.fixture
def timeline(qtbot) -> Timeline:
    widget = Timeline()
    qtbot.addWidget(widget)
    widget.resize(800, 90)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def counts_by_start(widget: Timeline) -> dict[str, int]:
    return {f"{start:%Y-%m-%d %H:%M}": count for start, _end, count in widget.buckets()}


def test_counts_events_per_day(timeline: Timeline) -> None:
    timeline.set_data(
        stamps(
            "2026-11-01T00:00:00Z",
            "2026-11-01T23:59:59.999Z",
            "2026-11-03T12:00:00Z",
            "2026-11-03T12:00:00Z",
            "2026-11-05T08:00:00Z",
        ),
        UTC,
    )
    assert timeline.bucket_unit() == "day"
    assert counts_by_start(timeline) == {
        "2026-11-01 00:00": 2,
        "2026-11-02 00:00": 0,
        "2026-11-03 00:00": 2,
        "2026-11-04 00:00": 0,
        "2026-11-05 00:00": 1,
    }
    assert timeline.total() == 5


def test_counts_events_per_hour_when_the_span_is_under_three_days(timeline: Timeline) -> None:
    timeline.set_data(
        stamps("2026-11-02T09:05:00Z", "2026-11-02T09:59:00Z", "2026-11-02T11:00:00Z"), UTC
    )
    assert timeline.bucket_unit() == "hour"
    assert counts_by_start(timeline) == {
        "2026-11-02 09:00": 2,
        "2026-11-02 10:00": 0,
        "2026-11-02 11:00": 1,
    }


def test_days_follow_the_local_calendar_across_a_dst_change(timeline: Timeline) -> None:
    # Berlin leaves summer time on 2026-10-25: that local day lasts 25 hours.
    data = stamps(
        "2026-10-23T23:00:00Z",  # Berlin 10-24 01:00, UTC 10-23
        "2026-10-24T22:30:00Z",  # Berlin 10-25 00:30 (CEST), UTC 10-24
        "2026-10-25T22:30:00Z",  # Berlin 10-25 23:30 (CET), UTC 10-25
        "2026-10-25T23:30:00Z",  # Berlin 10-26 00:30, UTC 10-25
        "2026-10-27T12:00:00Z",  # both 10-27; makes the span long enough for days
    )
    timeline.set_data(data, UTC)
    assert timeline.bucket_unit() == "day"
    assert counts_by_start(timeline) == {
        "2026-10-23 00:00": 1,
        "2026-10-24 00:00": 1,
        "2026-10-25 00:00": 2,
        "2026-10-26 00:00": 0,
        "2026-10-27 00:00": 1,
    }

    timeline.set_data(data, BERLIN)
    buckets = timeline.buckets()
    assert [(f"{s:%Y-%m-%d %H:%M %Z}", c) for s, _e, c in buckets] == [
        ("2026-10-24 00:00 CEST", 1),
        ("2026-10-25 00:00 CEST", 2),
        ("2026-10-26 00:00 CET", 1),
        ("2026-10-27 00:00 CET", 1),
    ]
    hours = [
        (end.astimezone(UTC) - start.astimezone(UTC)) / timedelta(hours=1)
        for start, end, _ in buckets
    ]
    assert hours == [24, 25, 24, 24]


def test_hours_across_the_repeated_hour_are_separate_bars(timeline: Timeline) -> None:
    # Every 10 minutes from 23:00 UTC on 10-24 to 04:00 UTC on 10-25: Berlin repeats 02:00.
    start = np.datetime64("2026-10-24T23:00", "ns")
    data = start + np.arange(30) * np.timedelta64(10, "m")
    timeline.set_data(data, BERLIN)
    buckets = timeline.buckets()
    assert [c for _s, _e, c in buckets] == [6] * 5
    assert all(
        end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=1)
        for start, end, _c in buckets
    )
    labels = [timeline.tooltip_at(timeline.bucket_rect(i).center()) for i in range(5)]
    assert labels == [
        "2026-10-25 01:00 CEST: 6 events",
        "2026-10-25 02:00 CEST: 6 events",
        "2026-10-25 02:00 CET: 6 events",
        "2026-10-25 03:00 CET: 6 events",
        "2026-10-25 04:00 CET: 6 events",
    ]


def test_matches_pandas_on_many_random_events(timeline: Timeline) -> None:
    rng = np.random.default_rng(5)
    base = np.datetime64("2026-08-01T00:00", "ns").astype(np.int64)
    data = (base + rng.integers(0, 90 * 86_400 * 10**9, 200_000)).astype("datetime64[ns]")
    series = pd.Series(data).dt.tz_localize("UTC")
    timeline.set_data(series, BERLIN)
    expected = series.dt.tz_convert(BERLIN).dt.normalize().value_counts()
    shown = {
        pd.Timestamp(start).tz_convert(UTC): count
        for start, _end, count in timeline.buckets()
        if count
    }
    assert shown == {ts.tz_convert(UTC): int(n) for ts, n in expected.items()}
    assert timeline.total() == 200_000


def test_accepts_a_series_with_missing_times(timeline: Timeline) -> None:
    series = pd.Series(
        pd.to_datetime(["2026-11-01T10:00:00Z", None, "2026-11-05T10:00:00Z"], utc=True)
    )
    timeline.set_data(series, UTC)
    assert timeline.total() == 2
    assert sum(c for *_, c in timeline.buckets()) == 2


def test_long_archives_use_weeks_then_months(timeline: Timeline) -> None:
    timeline.set_data(stamps("2025-01-01T12:00:00Z", "2026-06-30T12:00:00Z"), UTC)
    assert timeline.bucket_unit() == "week"
    starts = [start for start, _e, _c in timeline.buckets()]
    assert all(start.weekday() == 0 and start.hour == 0 for start in starts)
    timeline.set_data(stamps("2014-03-10T12:00:00Z", "2026-06-30T12:00:00Z"), UTC)
    assert timeline.bucket_unit() == "month"
    assert counts_by_start(timeline)["2014-03-01 00:00"] == 1


def test_tooltip_names_the_day_and_count(timeline: Timeline) -> None:
    timeline.set_data(
        stamps("2026-10-30T10:00:00Z", *["2026-11-02T10:00:00Z"] * 1234, "2026-11-03T01:00Z"),
        UTC,
    )
    days = [f"{s:%Y-%m-%d}" for s, _e, _c in timeline.buckets()]
    first = timeline.bucket_rect(0).center()
    busy = timeline.bucket_rect(days.index("2026-11-02")).center()
    assert timeline.tooltip_at(first) == "2026-10-30: 1 event"
    assert timeline.tooltip_at(busy) == "2026-11-02: 1,234 events"
    assert timeline.tooltip_at(QPoint(-5, 40)) == ""
    assert "1,236 events" in timeline.accessibleDescription()


def _ten_days(timeline: Timeline) -> list[tuple[datetime, datetime, int]]:
    start = np.datetime64("2026-11-01T12:00", "ns")
    timeline.set_data(start + np.arange(10) * np.timedelta64(1, "D"), BERLIN)
    return timeline.buckets()


def drag(qtbot, widget: Timeline, a: QPoint, b: QPoint) -> None:
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(widget, QPoint((a.x() + b.x()) // 2, a.y()))
    qtbot.mouseMove(widget, b)
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=b)


def test_dragging_selects_whole_buckets(qtbot, timeline: Timeline) -> None:
    buckets = _ten_days(timeline)
    a = timeline.bucket_rect(2).center().toPoint()
    b = timeline.bucket_rect(5).center().toPoint()
    with qtbot.waitSignal(timeline.rangeSelected) as blocker:
        drag(qtbot, timeline, a, b)
    start, end = blocker.args
    assert start == buckets[2][0] == datetime(2026, 11, 3, tzinfo=BERLIN)
    assert end == buckets[5][1] == datetime(2026, 11, 7, tzinfo=BERLIN)
    assert start.tzinfo is not None and end.tzinfo is not None

    # Right to left selects the same range.
    with qtbot.waitSignal(timeline.rangeSelected) as blocker:
        drag(qtbot, timeline, b, a)
    assert blocker.args == [start, end]


def test_dragging_past_the_edges_clamps_to_the_first_and_last_bucket(
    qtbot, timeline: Timeline
) -> None:
    buckets = _ten_days(timeline)
    y = int(timeline.bucket_rect(0).center().y())
    with qtbot.waitSignal(timeline.rangeSelected) as blocker:
        drag(qtbot, timeline, QPoint(timeline.width() - 2, y), QPoint(-40, y))
    assert blocker.args == [buckets[0][0], buckets[-1][1]]


def test_a_click_without_dragging_selects_nothing(qtbot, timeline: Timeline) -> None:
    _ten_days(timeline)
    point = timeline.bucket_rect(4).center().toPoint()
    with qtbot.assertNotEmitted(timeline.rangeSelected):
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=point)
    with qtbot.assertNotEmitted(timeline.rangeSelected):
        qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=point)
        qtbot.mouseMove(timeline, point + QPoint(1, 0))  # a tremble, not a drag
        qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=point + QPoint(1, 0))


def test_double_click_asks_to_clear_the_range(qtbot, timeline: Timeline) -> None:
    _ten_days(timeline)
    timeline.set_range(datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC))
    with (
        qtbot.waitSignal(timeline.rangeCleared),
        qtbot.assertNotEmitted(timeline.rangeSelected),
    ):
        qtbot.mouseDClick(
            timeline, Qt.MouseButton.LeftButton, pos=timeline.bucket_rect(3).center().toPoint()
        )


def test_set_range_shades_the_chosen_span(timeline: Timeline) -> None:
    timeline.set_data(stamps("2026-11-01T12:00:00Z", "2026-11-10T12:00:00Z"), UTC)
    inside_day, outside_day = 4, 7  # both empty days, so only the shading differs
    y = int(timeline.bucket_rect(0).top() + 3)

    def pixel(index: int) -> int:
        x = int(timeline.bucket_rect(index).center().x())
        return timeline.grab().toImage().pixel(x, y)

    assert pixel(inside_day) == pixel(outside_day)
    start, end = datetime(2026, 11, 4, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC)
    timeline.set_range(start, end)
    assert timeline.shaded_range() == (start, end)
    assert pixel(inside_day) != pixel(outside_day)

    timeline.set_range(None, None)
    assert timeline.shaded_range() is None
    assert pixel(inside_day) == pixel(outside_day)


def test_a_range_wider_than_the_data_widens_the_chart(timeline: Timeline) -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    timeline.set_data(stamps("2026-11-24T10:00:00Z", "2026-11-25T09:00:00Z"), UTC)
    assert timeline.bucket_unit() == "hour"
    timeline.set_range(now - timedelta(days=7), None)  # "last 7 days"
    assert timeline.bucket_unit() == "day"
    first_start = timeline.buckets()[0][0]
    assert first_start == datetime(2026, 11, 18, tzinfo=UTC)
    assert timeline.total() == 2


def test_empty_data_shows_no_events_and_ignores_drags(qtbot, timeline: Timeline) -> None:
    timeline.set_data(np.array([], dtype="datetime64[ns]"), UTC)
    assert timeline.bucket_unit() is None
    assert timeline.buckets() == []
    assert timeline.total() == 0
    assert timeline.accessibleDescription() == "No events"
    assert timeline.tooltip_at(QPoint(100, 40)) == ""
    assert not timeline.grab().isNull()
    with qtbot.assertNotEmitted(timeline.rangeSelected):
        drag(qtbot, timeline, QPoint(50, 40), QPoint(400, 40))
    timeline.set_data(None, UTC)
    assert timeline.total() == 0


def test_identity_and_size(timeline: Timeline) -> None:
    assert timeline.objectName() == "timeline"
    assert timeline.accessibleName()
    assert 60 <= timeline.sizeHint().height() <= 120


@pytest.mark.parametrize("days", [1, 20, 200])  # hours, days and weeks or months of bars
def test_a_frames_events_and_mask_chart_like_the_shown_timestamps(timeline: Timeline, days):
    rng = np.random.default_rng(days)
    end = np.datetime64("2026-11-02T14:00:00", "ns")
    ages = np.sort(rng.integers(0, days * 86_400 * 10**9, 5_000)).astype("timedelta64[ns]")
    newest_first = end - ages  # the frame's order; some timestamps repeat
    newest_first[1::7] = newest_first[::7][: len(newest_first[1::7])]
    newest_first = np.sort(newest_first)[::-1]
    for kept in (None, rng.random(5_000) < 0.3, np.zeros(5_000, bool)):
        shown = newest_first if kept is None else newest_first[kept]
        timeline.set_data(shown, BERLIN)
        expected = (timeline.buckets(), timeline.total(), timeline.bucket_unit())
        timeline.set_shown(newest_first, kept, BERLIN)
        assert (timeline.buckets(), timeline.total(), timeline.bucket_unit()) == expected
