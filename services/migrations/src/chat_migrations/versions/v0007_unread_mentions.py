"""Unread mentions per person: the room list counts them without looking at messages.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per person and message that mentions them, written by the persistence worker with
    # the message and deleted when the person's read marker passes it. The room list counts a
    # person's rows above each marker: a range of this primary key, as long as their unread
    # mentions, however many messages mention them over the years (the GIN index of 0006 made
    # that count grow with every mention ever, and cost about 100 ms for a person in 1,000
    # rooms; docs/benchmarks.md).
    op.execute(
        """
        CREATE TABLE unread_mentions (
            user_id  text NOT NULL,
            room     text NOT NULL,
            seq      bigint NOT NULL,
            PRIMARY KEY (user_id, room, seq)
        )
        """
    )
    op.execute(
        """
        INSERT INTO unread_mentions (user_id, room, seq)
        SELECT u.user_id, m.room, m.seq
        FROM messages m CROSS JOIN LATERAL unnest(m.mentions) AS u (user_id)
        LEFT JOIN read_markers k ON k.user_id = u.user_id AND k.room = m.room
        WHERE m.mentions IS NOT NULL AND m.seq > COALESCE(k.seq, 0)
        ON CONFLICT DO NOTHING
        """
    )
    op.execute("DROP INDEX messages_mentions")
    # The person's memberships and markers read from the indexes alone (index-only scans): a
    # person in 1,000 rooms otherwise touches about 1,000 heap pages of each table.
    op.execute("CREATE INDEX room_members_of_user ON room_members (user_id) INCLUDE (room, role)")
    op.execute("DROP INDEX room_members_by_user")
    op.execute(
        "CREATE UNIQUE INDEX read_markers_of_user ON read_markers (user_id, room) INCLUDE (seq)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX read_markers_of_user")
    op.execute("CREATE INDEX room_members_by_user ON room_members (user_id)")
    op.execute("DROP INDEX room_members_of_user")
    op.execute(
        "CREATE INDEX messages_mentions ON messages USING gin (mentions) WHERE mentions IS NOT NULL"
    )
    op.execute("DROP TABLE unread_mentions")
