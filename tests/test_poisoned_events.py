"""One bad event never poisons the archive: a hostile server's events are stored, flagged, and
every reader (export, query, window) handles them; what cannot be an event is kept aside.

The events come from the real sandbox over 127.0.0.1, spliced verbatim into its pages
(``Faults.raw_events``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from audit_viewer import cli
from audit_viewer.api import PlatformClient
from audit_viewer.cache import CacheStore
from audit_viewer.events import normalize_event
from audit_viewer.query import parse_query
from audit_viewer.sandbox import Faults, SandboxServer
from audit_viewer.sync import SyncEngine

PROFILE = "hostile"


def _event(event_id: str, created_at: str, **fields: object) -> bytes:
    body = {"id": event_id, "created_at": created_at, "action": "Ticket created", **fields}
    return json.dumps(body).encode()


#: id -> (the event's JSON as the server sends it, the flags the archive must give it)
POISONED = {
    "go-zero": (_event("go-zero", "0001-01-01T00:00:00Z", user_name="gopher"), "time"),
    "far-future": (_event("far-future", "2300-01-01T00:00:00Z"), "time"),
    "last-instant": (_event("last-instant", "9999-12-31T23:59:59.999Z"), "time"),
    "epoch": (_event("epoch", "1970-01-01T00:00:00Z"), "time"),
    "nul": (_event("nul", "2026-11-20T10:00:00Z", description="before\u0000after"), "text"),
    # A lone surrogate only exists as a JSON escape: json.dumps writes it as \ud800.
    "surrogate": (_event("surrogate", "2026-11-20T11:00:00Z", description="x\ud800y"), "text"),
    "both": (_event("both", "0001-01-01T00:00:00Z", user_name="\u0000"), "time text"),
}
#: Entries of ``data`` that are no event: kept aside with the reason, the rest stored.
UNSTORABLE = {
    b'{"created_at":"2026-11-20T10:00:00Z","action":"no id"}': "event without an id",
    b'{"id":"bad-time","created_at":"yesterday"}': (
        "event 'bad-time': unreadable created_at 'yesterday'"
    ),
    b'{"id":"no-time"}': "event 'no-time': created_at missing",
}


@pytest.fixture
def server():
    faults = Faults(raw_events=[raw for raw, _flags in POISONED.values()] + list(UNSTORABLE))
    with SandboxServer(events=300, seed=3, faults=faults) as srv:
        yield srv


@pytest.fixture
def synced(server, cache_url):
    with (
        CacheStore.open(cache_url) as store,
        PlatformClient(server.url, server.client_id, server.secret) as client,
    ):
        result = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30)).run()
    return cache_url, result


def test_a_sync_stores_every_poisoned_event_flagged_and_keeps_the_rest_aside(server, synced):
    cache_url, result = synced
    assert not result.cancelled
    with CacheStore.open(cache_url) as store:
        frame = store.load_frame(PROFILE)
        rejected = store.rejected(PROFILE)
        whole = {event_id: store.event_json(PROFILE, event_id) for event_id in POISONED}
    normal = {event["id"] for event in server.all_events()}
    assert set(frame["id"]) == normal | set(POISONED)
    flags = dict(zip(frame["id"], frame["flags"], strict=True))
    assert {event_id: flags[event_id] for event_id in POISONED} == {
        event_id: expected for event_id, (_raw, expected) in POISONED.items()
    }
    assert {flags[event_id] for event_id in normal} == {""}
    assert result.flagged == len(POISONED) and result.rejected == len(UNSTORABLE)

    times = dict(zip(frame["id"], frame["created_at"], strict=True))
    assert times["go-zero"].to_pydatetime() == datetime(1, 1, 1, tzinfo=UTC)
    assert times["last-instant"].to_pydatetime() == datetime(
        9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC
    )
    descriptions = dict(zip(frame["id"], frame["description"], strict=True))
    assert descriptions["nul"] == "before\ufffdafter"
    assert descriptions["surrogate"] == "x\ufffdy"
    # The raw JSON keeps the event exactly as received, escapes included.
    for event_id, (raw, _flags) in POISONED.items():
        assert json.loads(whole[event_id]) == json.loads(raw)
    assert "\\u0000" in whole["nul"] and "\\ud800" in whole["surrogate"]

    assert sorted(item.reason for item in rejected) == sorted(UNSTORABLE.values())

    def canonical(texts):
        return sorted(json.dumps(json.loads(text), sort_keys=True) for text in texts)

    # Each once, although the server repeats them in every range's first page.
    assert canonical(item.raw for item in rejected) == canonical(UNSTORABLE)


def test_a_second_sync_of_the_same_poison_adds_and_rejects_nothing_new(server, synced):
    cache_url, _first = synced
    with (
        CacheStore.open(cache_url) as store,
        PlatformClient(server.url, server.client_id, server.secret) as client,
    ):
        again = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30)).run(full=True)
        assert again.new_events == 0
        assert store.count(PROFILE) == 300 + len(POISONED)
        assert len(store.rejected(PROFILE)) == len(UNSTORABLE)


def test_queries_find_flagged_events_and_every_time_bound_works(synced):
    cache_url, _result = synced
    with CacheStore.open(cache_url) as store:
        frame = store.load_frame(PROFILE)
    now = datetime.now(UTC)

    def ids(query: str) -> set[str]:
        parsed = parse_query(query)
        assert not isinstance(parsed, Exception) and hasattr(parsed, "mask"), parsed
        return set(frame["id"][parsed.mask(frame, now)])

    timed = {i for i, (_raw, flags) in POISONED.items() if "time" in flags}
    texted = {i for i, (_raw, flags) in POISONED.items() if "text" in flags}
    assert ids("flag:time") == timed
    assert ids("flag:text") == texted
    assert ids("flag:any") == set(POISONED)
    assert ids("-flag:any") == set(frame["id"]) - set(POISONED)
    assert ids("before:1000-01-01") == {"go-zero", "both"}
    assert ids("after:9999-01-01") == {"last-instant"}
    assert ids("gopher") == {"go-zero"}
    assert str(parse_query("flag:odd")).startswith("Unknown flag 'odd' (use time, text, any)")


def test_export_writes_every_event_with_its_true_time(synced, tmp_path, capsys):
    cache_url, _result = synced
    target = tmp_path / "out.csv"
    code = cli.main(["export", "-o", str(target), "--cache", cache_url, "--profile", PROFILE])
    err = capsys.readouterr().err
    assert code == 0, err
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(target.read_text("utf-8")))}
    assert len(rows) == 300 + len(POISONED)
    assert rows["go-zero"]["created_at"] == "0001-01-01T00:00:00.000Z"
    assert rows["last-instant"]["created_at"] == "9999-12-31T23:59:59.999Z"
    assert rows["far-future"]["created_at"] == "2300-01-01T00:00:00.000Z"
    assert rows["nul"]["description"] == "before\ufffdafter"

    code = cli.main(
        ["export", "-o", "-", "--cache", cache_url, "--profile", PROFILE, "--query", "flag:time"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(row["id"] for row in csv.DictReader(io.StringIO(out))) == sorted(
        i for i, (_raw, flags) in POISONED.items() if "time" in flags
    )


def test_the_command_line_sync_says_how_many_were_flagged_or_kept_aside(
    server, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("AUDIT_VIEWER_CLIENT_SECRET", server.secret)
    cache = tmp_path / "cli.sqlite3"
    args = ["sync", "--base-url", server.url, "--client-id", server.client_id, "--cache"]
    code = cli.main([*args, str(cache), "--profile", PROFILE])
    out, err = capsys.readouterr()
    assert code == 0
    warned = err.splitlines()  # each entry kept aside is named as it arrives
    assert all(line.startswith("audit-viewer: WARNING: Kept aside") for line in warned[:-1])
    assert len(warned) == len(UNSTORABLE) + 1 and "Traceback" not in err
    assert out.startswith(f"Synced {300 + len(POISONED)} new events")
    assert out.rstrip().endswith(
        f"; {len(POISONED)} odd events flagged (search flag:any); {len(UNSTORABLE)} entries "
        "that no event can be made of kept aside (see the log)"
    )


def test_the_sandboxs_poison_sample_is_stored_flagged_or_kept_aside(cache_url):
    """What `audit-viewer sandbox --poison` serves, as the archive takes it."""
    from audit_viewer.sandbox import POISON_SAMPLE

    with (
        SandboxServer(events=50, seed=4, faults=Faults(raw_events=list(POISON_SAMPLE))) as srv,
        CacheStore.open(cache_url) as store,
        PlatformClient(srv.url, srv.client_id, srv.secret) as client,
    ):
        result = SyncEngine(client, store, PROFILE, chunk=timedelta(days=30)).run()
        frame = store.load_frame(PROFILE)
    flags = {i: f for i, f in zip(frame["id"], frame["flags"], strict=True) if f}
    assert flags == {
        "poison-go-zero": "time",
        "poison-9999": "time",
        "poison-epoch": "time",
        "poison-nul": "text",
        "poison-surrogate": "text",
        "poison-bytes": "text",
    }
    assert (result.flagged, result.rejected) == (6, 2)


def test_normalize_flags_times_against_their_arrival():
    received = datetime(2026, 12, 1, tzinfo=UTC)

    def flags(created_at: str) -> str:
        return normalize_event({"id": "x", "created_at": created_at}, received).flags

    assert flags("2026-12-01T23:59:59Z") == ""  # clocks differ: a day ahead is fine
    assert flags("2026-12-02T00:00:01Z") == "time"
    assert flags("2000-01-01T00:00:00Z") == ""
    assert flags("1999-12-31T23:59:59Z") == "time"


@pytest.mark.parametrize(
    "created_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "10000-01-01T00:00Z"]
)
def test_a_time_beyond_the_calendar_is_an_unusable_event_not_a_crash(created_at):
    from audit_viewer.events import InvalidEventError

    with pytest.raises(InvalidEventError, match="unreadable created_at"):
        normalize_event({"id": "x", "created_at": created_at})


@pytest.mark.gui
@pytest.mark.qt_log_ignore("does not support propagateSizeHints")  # offscreen platform
def test_the_window_opens_searches_and_explains_a_poisoned_archive(synced, qtbot, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTextEdit

    from audit_viewer.app import create_window
    from audit_viewer.ui.table_model import COL_TIME, FLAG_BADGE

    cache_url, _result = synced
    window = create_window(["--cache", cache_url, "--profile", PROFILE])
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        assert window.model.rowCount() == 300 + len(POISONED)
        # The poisoned times are not drawn (the chart would span 9,999 years).
        assert window.timeline.total() == 300 + len(POISONED) - 5
        assert window.timeline.bucket_unit() in ("day", "week")

        with qtbot.waitSignal(window.filtersApplied, timeout=5000):
            qtbot.keyClicks(window.search_bar, "flag:time")
            qtbot.keyClick(window.search_bar, Qt.Key.Key_Return)
        assert window.model.rowCount() == 5
        times = [window.model.index(row, COL_TIME).data() for row in range(5)]
        assert times[0] == f"{FLAG_BADGE} 9999-12-31 23:59:59"
        assert all(text.startswith(FLAG_BADGE) for text in times)
        assert {text[-19:] for text in times} >= {"0001-01-01 00:00:00", "1970-01-01 00:00:00"}
        tooltip = window.model.index(0, COL_TIME).data(Qt.ItemDataRole.ToolTipRole)
        assert "9999-12-31T23:59:59.999Z" in tooltip and "Flagged time:" in tooltip

        window.table.setCurrentIndex(window.model.index(4, COL_TIME))
        assert window.detail.record()["id"] in {"go-zero", "both"}
        detail = window.detail.findChild(QTextEdit, "detailText").toPlainText()
        assert "Flagged time: its time is implausible" in detail
    finally:
        window.close()
