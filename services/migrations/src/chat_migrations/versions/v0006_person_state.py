"""State that follows the person: read markers, mentions, room topics, newest seq per room.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A room's newest stored seq, moved forward by the persistence worker with last_active_at:
    # a room list reads unread counts as last_seq - read_seq without touching messages.
    op.execute("ALTER TABLE rooms ADD COLUMN last_seq bigint NOT NULL DEFAULT 0")
    op.execute(
        "UPDATE rooms SET last_seq = COALESCE("
        "(SELECT max(seq) FROM messages WHERE messages.room = rooms.id), 0)"
    )
    op.execute(
        "ALTER TABLE rooms ADD COLUMN topic text NOT NULL DEFAULT ''"
        " CHECK (char_length(topic) <= 250)"
    )
    # How far each person has read each room, for every device: only ever moves forward.
    op.execute(
        """
        CREATE TABLE read_markers (
            user_id     text NOT NULL,
            room        text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
            seq         bigint NOT NULL CHECK (seq >= 0),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, room)
        )
        """
    )
    # The user ids a message mentions, resolved when it is sent; NULL for the many that mention
    # nobody, which the partial index leaves out so plain messages cost it nothing.
    op.execute("ALTER TABLE messages ADD COLUMN mentions text[]")
    op.execute(
        "CREATE INDEX messages_mentions ON messages USING gin (mentions) WHERE mentions IS NOT NULL"
    )
    # The people directory finds users by the start of their name (LIKE 'prefix%').
    op.execute("CREATE INDEX users_by_name_prefix ON users (username text_pattern_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX users_by_name_prefix")
    op.execute("DROP INDEX messages_mentions")
    op.execute("ALTER TABLE messages DROP COLUMN mentions")
    op.execute("DROP TABLE read_markers")
    op.execute("ALTER TABLE rooms DROP COLUMN topic")
    op.execute("ALTER TABLE rooms DROP COLUMN last_seq")
