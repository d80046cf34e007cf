"""Initial schema: events and sync_state.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# SQLite stores the table in primary-key order (WITHOUT ROWID) with created_at DESCENDING:
# a sync writes newest first, so its inserts append to the b-tree instead of splitting pages at
# its front (which leaves them half empty and doubles the file), and loading newest first is a
# plain forward scan. SQLAlchemy cannot say DESC inside a primary key, hence the literal DDL.
_SQLITE_EVENTS = """
CREATE TABLE events (
    profile TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    user TEXT NOT NULL,
    user_name TEXT,
    user_email TEXT,
    actor_type TEXT NOT NULL,
    action TEXT NOT NULL,
    description TEXT NOT NULL,
    raw TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    CONSTRAINT pk_events PRIMARY KEY (profile, created_at DESC, id),
    CONSTRAINT uq_events_profile_id UNIQUE (profile, id)
) WITHOUT ROWID
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_SQLITE_EVENTS)
    else:
        op.create_table(
            "events",
            sa.Column("profile", sa.Text, nullable=False),
            sa.Column("id", sa.Text, nullable=False),
            sa.Column("created_at", sa.BigInteger, nullable=False),
            sa.Column("user", sa.Text, nullable=False),
            sa.Column("user_name", sa.Text),
            sa.Column("user_email", sa.Text),
            sa.Column("actor_type", sa.Text, nullable=False),
            sa.Column("action", sa.Text, nullable=False),
            sa.Column("description", sa.Text, nullable=False),
            sa.Column("raw", sa.Text, nullable=False),
            sa.Column("first_seen_at", sa.BigInteger, nullable=False),
            sa.PrimaryKeyConstraint("profile", "created_at", "id", name="pk_events"),
            sa.UniqueConstraint("profile", "id", name="uq_events_profile_id"),
        )
    op.create_index("ix_events_profile_action", "events", ["profile", "action"])
    op.create_table(
        "sync_state",
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


def downgrade() -> None:
    op.drop_table("sync_state")
    op.drop_index("ix_events_profile_action", "events")
    op.drop_table("events")
