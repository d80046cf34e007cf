"""Tables of the local cache, as SQLAlchemy Core metadata.

Every point in time is stored as an integer: microseconds since the Unix epoch, UTC. SQLite has
no date type (SQLAlchemy would store text whose ordering depends on its exact format) and
PostgreSQL's ``timestamptz`` would come back as Python objects; an integer sorts and compares the
same on both, is exact for every timestamp Python can hold (the contract sends milliseconds, a
server that sends microseconds still round-trips), and turns into the frame's ``datetime64``
column without parsing a single string.

The migrations in ``migrations/versions`` create these tables; this module is what the code
queries. A change here needs a new migration revision.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

#: The revisions ``migrations/versions`` defines, oldest first; the last is the head. A new
#: migration is added here too (a test compares this with what Alembic finds).
REVISIONS: tuple[str, ...] = ("0001", "0002")

metadata = sa.MetaData()

#: One row per (profile, event id). ``raw`` keeps the whole event as the server sent it.
#: The primary key is the frame's order, and on SQLite (see the initial migration) the table is
#: stored in it, newest first (WITHOUT ROWID, created_at DESC): loading a profile reads the file
#: front to back instead of seeking once per event. (profile, id) stays unique and is what the
#: upsert conflicts on.
events = sa.Table(
    "events",
    metadata,
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),  # epoch microseconds, UTC
    sa.Column("user", sa.Text, nullable=False),
    sa.Column("user_name", sa.Text),
    sa.Column("user_email", sa.Text),
    sa.Column("actor_type", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("first_seen_at", sa.BigInteger, nullable=False),  # epoch microseconds, UTC
    # What is odd about the event (audit_viewer.events.FLAGS), space-separated; "" normally.
    sa.Column("flags", sa.Text, nullable=False, server_default=""),
    sa.PrimaryKeyConstraint("profile", "created_at", "id", name="pk_events"),
    sa.UniqueConstraint("profile", "id", name="uq_events_profile_id"),
    sqlite_with_rowid=False,
)
sa.Index("ix_events_profile_action", events.c.profile, events.c.action)

#: Sync bookkeeping per profile. ``plan``/``completed`` are JSON lists of ``[start, end]`` pairs
#: (epoch microseconds) of the run in progress; both are empty when no run is unfinished.
sync_state = sa.Table(
    "sync_state",
    metadata,
    sa.Column("profile", sa.Text, primary_key=True),
    sa.Column("high_water_mark", sa.BigInteger),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("completed", sa.Text, nullable=False),
    sa.Column("current_start", sa.BigInteger),
    sa.Column("current_end", sa.BigInteger),
    sa.Column("last_sync_at", sa.BigInteger),
    sa.Column("last_success_at", sa.BigInteger),
    sa.Column("last_outcome", sa.Text),
    sa.Column("last_error", sa.Text),
)


#: What a sync received but could not store as an event (no id, an unreadable time), kept as
#: received (``raw``: the JSON text, surrogates escaped) with the reason, so nothing is lost.
rejected_events = sa.Table(
    "rejected_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),  # epoch microseconds, UTC
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    # sha256 of raw: a server repeating the same broken entry in every page fills no table.
    sa.Column("digest", sa.Text, nullable=False),
    sa.UniqueConstraint("profile", "digest", name="uq_rejected_events_profile_digest"),
)


def to_micros(value: datetime) -> int:
    """Aware datetime -> integer microseconds since the epoch (exact, no float rounding)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: the cache only stores aware (UTC) times")
    return (value - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """Integer microseconds since the epoch -> aware UTC datetime."""
    return EPOCH + timedelta(microseconds=value)
