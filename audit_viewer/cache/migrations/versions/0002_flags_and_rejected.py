"""Event flags and the rejected events: one poisoned event never stops a sync.

``events.flags`` names what is odd about an event (see ``audit_viewer.events.FLAGS``); events
stored before it get the ``time`` flag here when their time is implausible, judged against
when they were first seen as a sync does. ``rejected_events`` keeps what a sync received but
could not store as an event (no id, an unreadable time), as received, so nothing is lost.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of audit_viewer.events' PLAUSIBLE_START and FUTURE_TOLERANCE (a migration
# must not change when the code does), in epoch microseconds.
_PLAUSIBLE_START_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z
_FUTURE_TOLERANCE_US = 86_400_000_000  # one day


def upgrade() -> None:
    # ADD COLUMN appends in place on both databases (no batch copy of a large table).
    op.add_column("events", sa.Column("flags", sa.Text, nullable=False, server_default=""))
    events = sa.table(
        "events",
        sa.column("created_at", sa.BigInteger),
        sa.column("first_seen_at", sa.BigInteger),
        sa.column("flags", sa.Text),
    )
    op.execute(
        events.update()
        .where(
            sa.or_(
                events.c.created_at < _PLAUSIBLE_START_US,
                events.c.created_at > events.c.first_seen_at + _FUTURE_TOLERANCE_US,
            )
        )
        .values(flags="time")
    )
    op.create_table(
        "rejected_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),  # epoch microseconds, UTC
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),  # sha256 of raw: kept once per profile
        sa.UniqueConstraint("profile", "digest", name="uq_rejected_events_profile_digest"),
    )


def downgrade() -> None:
    op.drop_table("rejected_events")
    op.drop_column("events", "flags")
