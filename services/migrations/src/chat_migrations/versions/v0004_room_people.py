"""Room membership, roles, mutes, bans and the moderation audit trail.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Who belongs to a room and with which role there. Public rooms need no row to be joined;
    # private rooms admit only their members. The creator is the owner.
    op.execute(
        """
        CREATE TABLE room_members (
            room       text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
            user_id    text NOT NULL,
            role       text NOT NULL DEFAULT 'member'
                       CHECK (role IN ('owner', 'moderator', 'member')),
            added_by   text,
            added_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (room, user_id)
        )
        """
    )
    op.execute("CREATE INDEX room_members_by_user ON room_members (user_id)")
    op.execute(
        """
        CREATE TABLE room_mutes (
            room       text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
            user_id    text NOT NULL,
            until      timestamptz NOT NULL,
            muted_by   text NOT NULL,
            muted_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (room, user_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE room_bans (
            room       text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
            user_id    text NOT NULL,
            reason     text NOT NULL DEFAULT '',
            banned_by  text NOT NULL,
            banned_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (room, user_id)
        )
        """
    )
    # One row per moderation action, never updated or deleted by the application.
    op.execute(
        """
        CREATE TABLE moderation_audit (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            room       text NOT NULL,
            actor_id   text NOT NULL,
            action     text NOT NULL,
            target_id  text,
            detail     jsonb NOT NULL DEFAULT '{}',
            at         timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX moderation_audit_by_room ON moderation_audit (room, at DESC)")


def downgrade() -> None:
    op.execute("DROP TABLE moderation_audit")
    op.execute("DROP TABLE room_bans")
    op.execute("DROP TABLE room_mutes")
    op.execute("DROP TABLE room_members")
