"""Messages, written by the persistence worker and read for history and catch-up.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key to rooms: a durable message must always be storable (DM rooms exist
    # implicitly, and a record must never bounce to the dead-letter topic for a missing row).
    # The unique (room, seq) index also serves keyset pagination newest-first: Postgres scans a
    # b-tree backwards, so "WHERE room = $1 AND seq < $2 ORDER BY seq DESC LIMIT n" uses it.
    op.execute(
        """
        CREATE TABLE messages (
            id             uuid PRIMARY KEY,
            room           text NOT NULL,
            seq            bigint NOT NULL CHECK (seq > 0),
            user_id        text NOT NULL,
            user_name      text NOT NULL,
            body           text NOT NULL,
            client_msg_id  text NOT NULL,
            created_at     timestamptz NOT NULL,
            stored_at      timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT messages_room_seq UNIQUE (room, seq)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE messages")
