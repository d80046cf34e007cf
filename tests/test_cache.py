"""The local cache on real SQLite files (and PostgreSQL when AUDIT_VIEWER_TEST_PG_URL is set)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from audit_viewer.cache import (
    CacheCorruptError,
    CacheError,
    CacheStore,
    CacheTooNewError,
    SyncState,
    columnar,
    resolve_cache_url,
)
from audit_viewer.cache import store as store_module
from audit_viewer.cache.schema import metadata
from audit_viewer.events import FRAME_COLUMNS, normalize_event
from audit_viewer.frame import STRING_DTYPE, TIME_DTYPE

T0 = datetime(2026, 11, 2, 14, 3, 11, 482000, tzinfo=UTC)


def event(event_id: str, seconds: float = 0, **fields: object):
    raw: dict[str, object] = {
        "id": event_id,
        "created_at": (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "actor_type": "user",
        "user_name": "alice",
        "user_email": "alice@example.com",
        "action": "Findings ignored from backlog",
        "description": "2 findings ignored, Reason: 'false_positive'",
    }
    raw.update(fields)
    return normalize_event(raw)


def stored_column(url: str, column: str) -> dict[str, object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT id, {column} FROM events")).all()
    finally:
        engine.dispose()
    return dict(rows)


def test_upsert_is_idempotent_and_keeps_first_seen(cache_url):
    rows = [event(f"e{n}", -n) for n in range(5)]
    with CacheStore.open(cache_url) as store:
        assert store.upsert_events("p", rows) == 5
        first_seen = stored_column(cache_url, "first_seen_at")
        changed = event("e0", 0, description="changed later")
        assert store.upsert_events("p", [*rows, changed, rows[1]]) == 0
        assert store.upsert_events("p", [event("e9"), event("e9")]) == 1
        assert store.count("p") == 6
        frame = store.load_frame("p")
    assert sorted(frame["id"]) == [f"e{n}" for n in range(5)] + ["e9"]
    assert frame.set_index("id").loc["e0", "description"].startswith("2 findings")
    assert {k: v for k, v in stored_column(cache_url, "first_seen_at").items() if k != "e9"} == (
        first_seen
    )


def test_load_frame_follows_the_frame_contract(cache_url):
    rows = [
        event("b", 0),
        event("a", 0),
        event("c", 60, actor_type="scm", user_name="ci-bot", user_email=None),
        event(
            "d", -60, actor_type="system", user_name=None, user_email=None, ip_address="10.0.0.1"
        ),
        event("e", 0.001, description="=cmd|' /C calc'!A0\nline two, \"quoted\" עברית 🙂"),
    ]
    with CacheStore.open(cache_url) as store:
        store.upsert_events("p", rows)
        store.upsert_events("other", [event("zzz", 999)])
        frame = store.load_frame("p")
        empty = store.load_frame("nobody")
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert isinstance(frame.index, pd.RangeIndex)
    for name in FRAME_COLUMNS:
        assert frame[name].dtype == (TIME_DTYPE if name == "created_at" else STRING_DTYPE)
        assert empty[name].dtype == frame[name].dtype
    assert len(empty) == 0
    assert frame["id"].tolist() == ["c", "e", "a", "b", "d"]
    assert frame["created_at"].iloc[1] == pd.Timestamp(T0 + timedelta(milliseconds=1))
    by_id = frame.set_index("id")
    assert by_id.loc["c", "user"] == "ci-bot (scm)"
    assert by_id.loc["c", "user_email"] is pd.NA
    assert by_id.loc["d", "user"] == "System"
    assert by_id.loc["d", "user_name"] is pd.NA
    assert json.loads(by_id.loc["d", "raw"])["ip_address"] == "10.0.0.1"
    assert by_id.loc["e", "description"] == rows[4].description


def test_iter_frames_streams_the_same_rows_in_the_same_order(cache_url):
    # Many events share one millisecond, so chunk boundaries fall inside ties.
    rows = [event(f"id{n:03d}", -(n // 7)) for n in range(60)]
    with CacheStore.open(cache_url) as store:
        store.upsert_events("p", rows)
        whole = store.load_frame("p")
        chunks = list(store.iter_frames("p", chunk_size=8))
        exact = list(store.iter_frames("p", chunk_size=60))
    assert [len(chunk) for chunk in chunks] == [8] * 7 + [4]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    assert len(exact) == 1
    assert len(whole) == 60


def test_load_frame_with_a_limit_gives_the_newest_events_in_the_same_order(cache_url):
    rows = [event(f"id{n:03d}", -(n // 7)) for n in range(60)]  # ties across the cut
    with CacheStore.open(cache_url) as store:
        store.upsert_events("p", rows)
        store.upsert_events("other", [event("newer", 999)])
        whole = store.load_frame("p")
        newest = store.load_frame("p", limit=10)
        beyond = store.load_frame("p", limit=1000)
        none = store.load_frame("p", limit=0)
    pd.testing.assert_frame_equal(newest, whole.head(10))
    pd.testing.assert_frame_equal(beyond, whole)
    pd.testing.assert_frame_equal(none, whole.head(0), check_index_type=False)
    assert newest["id"].tolist()[-3:] == ["id007", "id008", "id009"]


def test_missing_names_and_emails_survive_whatever_the_newest_rows_hold(cache_url, monkeypatch):
    """The newest events (a bot's, a system's) have no email; older ones do, and stay text."""
    monkeypatch.setattr(columnar, "_FETCH_ROWS", 3)  # batches end inside each group
    rows = [event(f"s{n}", 100 - n, actor_type="system", user_name=None, user_email=None)
            for n in range(7)]  # fmt: skip
    rows += [event(f"u{n}", -n, user_email=f"u{n}@example.com") for n in range(7)]
    rows += [event("empty", -50, user_name="", user_email="")]
    with CacheStore.open(cache_url) as store:
        store.upsert_events("p", rows)
        frame = store.load_frame("p")
    assert frame["user_email"].dtype == STRING_DTYPE
    assert frame["user_email"].tolist() == [pd.NA] * 7 + [f"u{n}@example.com" for n in range(7)] + [
        ""
    ]
    assert frame["user_name"].tolist() == [pd.NA] * 7 + ["alice"] * 7 + [""]


def test_frames_keep_the_extra_fields_and_the_cache_the_whole_json(cache_url):
    row = event("x1", ip_address="10.0.0.9", metadata={"bytes": 2**63 + 1, "ratio": 7.0})
    with CacheStore.open(cache_url) as store:
        store.upsert_events("p", [row, event("x2", description="not { json")])
        frame = store.load_frame("p").set_index("id")
        whole = store.event_json("p", "x1")
        assert store.event_json("p", "nope") is None
    extras = json.loads(frame.loc["x1", "raw"])
    # What the frame holds parses to the same extra fields, numbers exact, known fields or not.
    assert extras["ip_address"] == "10.0.0.9"
    assert extras["metadata"] == {"bytes": 2**63 + 1, "ratio": 7.0}
    assert whole == row.raw  # the text as it was stored, byte for byte
    assert store.frames_hold_whole_json == (not cache_url.startswith("sqlite"))
    if cache_url.startswith("sqlite"):  # the file's frames drop what the columns already hold
        assert set(extras) == {"ip_address", "metadata"}
    else:
        assert extras == json.loads(row.raw)


def test_profiles_count_and_purge_are_per_profile(cache_url):
    with CacheStore.open(cache_url) as store:
        assert store.profiles() == []
        store.upsert_events("prod", [event("a", 0), event("b", -86400 * 10), event("c", -5)])
        store.upsert_events("staging", [event("a", -86400 * 10)])
        store.save_sync_state(SyncState("fresh"))
        assert store.profiles() == ["fresh", "prod", "staging"]
        assert store.purge_older_than("prod", T0 - timedelta(days=1)) == 1
        assert store.count("prod") == 2
        assert store.count("staging") == 1
        assert store.count("nobody") == 0


def test_sync_state_round_trips(cache_url):
    day = timedelta(days=1)
    state = SyncState(
        "p",
        high_water_mark=T0,
        plan=((T0 - day, T0), (T0 - 2 * day, T0 - day)),
        completed_ranges=((T0 - day, T0),),
        current_range=(T0 - 2 * day, T0 - day),
        last_sync_at=T0 + timedelta(minutes=1),
        last_outcome="failed",
        last_error="The platform is unreachable.",
    )
    with CacheStore.open(cache_url) as store:
        assert store.sync_state("p") == SyncState("p")
        assert store.commit_page(state, [event("x")]) == 1
        assert store.sync_state("p") == state
        assert state.unfinished
        store.save_sync_state(SyncState("p", high_water_mark=T0, last_outcome="ok"))
        assert store.sync_state("p") == SyncState("p", high_water_mark=T0, last_outcome="ok")
        assert store.count("p") == 1


def test_migrations_build_exactly_the_schema_the_code_uses(cache_url):
    with CacheStore.open(cache_url):
        pass
    CacheStore.open(cache_url).close()  # reopening an up-to-date cache changes nothing
    engine = sa.create_engine(cache_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert versions == [("0002",)]


def test_empty_file_becomes_a_cache_in_wal_mode(tmp_path):
    path = tmp_path / "empty.sqlite3"
    path.touch()
    with CacheStore.open(path) as store:
        store.upsert_events("p", [event("a")])
        assert store.url == f"sqlite:///{path}"
        assert store.location == str(path)  # what the status line and messages show
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (1,)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_other_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
        conn.commit()


def make_damaged_cache(path: Path) -> None:
    with CacheStore.open(path) as store:
        store.upsert_events("p", [event(f"e{n}", -n, description="x" * 500) for n in range(400)])
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 3 : page * 6] = b"\xa5" * (page * 3)  # scribble over a few b-tree pages
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make", "verdict"),
    [
        (
            lambda path: path.write_bytes(b"PK\x03\x04 this is a zip file, not a cache" * 50),
            "is not an audit-viewer cache (not an SQLite database)",
        ),
        (
            lambda path: path.write_text("id,created_at\n1,2026-11-02\n"),
            "is not an audit-viewer cache (not an SQLite database)",
        ),
        (make_other_database, "is not an audit-viewer cache (it holds table invoices)"),
        (make_damaged_cache, "is damaged (database disk image is malformed)"),
    ],
    ids=["zip", "csv", "other-database", "damaged-pages"],
)
def test_a_file_that_is_not_a_healthy_cache_is_refused_and_left_untouched(tmp_path, make, verdict):
    """Refused at open (not SQLite, someone else's database) or before the first write."""
    path = tmp_path / "cache.sqlite3"
    make(path)
    before = digest(path)
    with pytest.raises(CacheCorruptError) as caught, CacheStore.open(path) as store:
        store.upsert_events("p", [event("new")])  # a damaged cache is verified before writing
    assert f"{path} {verdict}; it was left untouched" in str(caught.value)
    assert "sqlite://" not in str(caught.value)  # the admin's file path, not a database URL
    assert digest(path) == before
    assert sorted(tmp_path.iterdir()) == [path]  # no -wal or -shm left beside it


def test_a_damaged_cache_checked_while_a_sync_starts_is_never_written(tmp_path):
    """check_writable starts the integrity check on its own thread (a sync's requests do not
    wait for it); the first write waits for its verdict and refuses the damaged file."""
    path = tmp_path / "cache.sqlite3"
    with CacheStore.open(path) as store:
        store.upsert_events("p", [event(f"e{n}", -n, description="x" * 500) for n in range(400)])
    data = bytearray(path.read_bytes())
    data[-4096 * 4 : -4096 * 2] = b"\xa5" * (4096 * 2)  # leaf pages only: the file still opens
    path.write_bytes(bytes(data))
    before = digest(path)
    with CacheStore.open(path) as store:
        store.check_writable()
        with pytest.raises(CacheCorruptError, match="is damaged"):
            store.upsert_events("p", [event("new")])
        with pytest.raises(CacheCorruptError, match="is damaged"):  # and not only the first
            store.upsert_events("p", [event("new")])
    assert digest(path) == before


def test_a_healthy_cache_checked_while_a_sync_starts_takes_its_writes(tmp_path):
    path = tmp_path / "cache.sqlite3"
    with CacheStore.open(path) as store:
        store.upsert_events("p", [event("old")])
    with CacheStore.open(path) as store:
        store.check_writable()
        assert store.upsert_events("p", [event("new")]) == 1
        assert store.count("p") == 2


def test_reading_a_damaged_cache_is_a_clear_error(tmp_path):
    path = tmp_path / "cache.sqlite3"
    make_damaged_cache(path)
    before = digest(path)
    with pytest.raises(CacheCorruptError), CacheStore.open(path) as store:
        store.load_frame("p")
    assert digest(path) == before


def test_damage_met_in_the_middle_of_a_load_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(columnar, "_FETCH_ROWS", 100)  # the first batches read fine
    path = tmp_path / "cache.sqlite3"
    with CacheStore.open(path) as store:
        store.upsert_events(
            "p", [event(f"e{n:05d}", -n, description="x" * 500) for n in range(4000)]
        )
    data = bytearray(path.read_bytes())
    page = 16384
    data[-page * 20 : -page * 17] = b"\xa5" * (page * 3)  # pages holding older events
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(CacheCorruptError) as caught, CacheStore.open(path) as store:
        store.load_frame("p")
    assert str(path) in str(caught.value)
    assert "SELECT" not in str(caught.value)  # the admin reads what is wrong, not our query
    assert digest(path) == before


def test_a_cache_from_a_newer_version_is_refused_and_left_untouched(cache_url):
    with CacheStore.open(cache_url) as store:
        store.upsert_events("p", [event("a")])
    engine = sa.create_engine(cache_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    database = sa.make_url(cache_url).database or ""
    before = digest(Path(database)) if cache_url.startswith("sqlite") else None

    with pytest.raises(CacheTooNewError) as caught:
        CacheStore.open(cache_url)
    assert "newer version of audit-viewer" in str(caught.value)
    assert "9999_from_the_future" in str(caught.value)

    if before is not None:
        assert digest(Path(database)) == before
    engine = sa.create_engine(cache_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
            ("9999_from_the_future",)
        ]
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar() == 1
    engine.dispose()


def test_cache_location_resolution(tmp_path, monkeypatch, isolated_home):
    assert resolve_cache_url("postgresql+psycopg://u@db/audit") == "postgresql+psycopg://u@db/audit"
    assert resolve_cache_url(tmp_path / "a.sqlite3") == f"sqlite:///{tmp_path / 'a.sqlite3'}"
    monkeypatch.chdir(tmp_path)
    assert resolve_cache_url("rel.db") == f"sqlite:///{tmp_path / 'rel.db'}"
    monkeypatch.setenv("AUDIT_VIEWER_CACHE", str(tmp_path / "env.sqlite3"))
    assert resolve_cache_url(None) == f"sqlite:///{tmp_path / 'env.sqlite3'}"
    monkeypatch.delenv("AUDIT_VIEWER_CACHE")
    with CacheStore.open() as store:  # the default: a file in the data dir, created on demand
        store.upsert_events("p", [event("a")])
    assert Path(store.url.removeprefix("sqlite:///")).is_relative_to(isolated_home)
    assert Path(store.url.removeprefix("sqlite:///")).name == "cache.sqlite3"


def test_unreachable_database_is_a_clear_error_without_the_password():
    url = "postgresql+psycopg://auditor:hunter2-secret@127.0.0.1:1/audit"
    with pytest.raises(CacheError) as caught:
        CacheStore.open(url)
    assert "hunter2-secret" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_the_revisions_the_store_knows_are_alembics():
    """The store finds the head without importing Alembic; this keeps its list honest."""
    from alembic.script import ScriptDirectory

    from audit_viewer.cache.schema import REVISIONS

    script = ScriptDirectory.from_config(store_module.alembic_config())
    assert list(REVISIONS) == [rev.revision for rev in reversed(list(script.walk_revisions()))]
