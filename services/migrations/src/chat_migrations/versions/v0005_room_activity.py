"""When each room was last active, for a room list that shows the liveliest public rooms first.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A room's newest stored message, or its creation while it has none. The persistence worker
    # moves it forward as it stores messages; existing rooms start from what is stored already.
    op.execute("ALTER TABLE rooms ADD COLUMN last_active_at timestamptz")
    op.execute(
        """
        UPDATE rooms SET last_active_at = GREATEST(
            created_at, (SELECT max(created_at) FROM messages WHERE messages.room = rooms.id)
        )
        """
    )
    op.execute(
        "ALTER TABLE rooms ALTER COLUMN last_active_at SET DEFAULT now(),"
        " ALTER COLUMN last_active_at SET NOT NULL"
    )
    # The directory of public rooms, most recently active first, paged by (last_active_at, id):
    # a page is a backward scan of this index from the cursor.
    op.execute(
        "CREATE INDEX rooms_public_by_activity ON rooms (last_active_at, id) WHERE kind = 'public'"
    )
    # Finding public rooms by the start of their name (LIKE 'prefix%'): under any collation but
    # "C" (C.UTF-8 included) a b-tree serves a prefix only with text_pattern_ops.
    op.execute(
        "CREATE INDEX rooms_public_by_name ON rooms (id text_pattern_ops) WHERE kind = 'public'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX rooms_public_by_name")
    op.execute("DROP INDEX rooms_public_by_activity")
    op.execute("ALTER TABLE rooms DROP COLUMN last_active_at")
