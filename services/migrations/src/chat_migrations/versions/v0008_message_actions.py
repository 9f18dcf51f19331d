"""Edits, deletes, reactions and replies: room events stored in the log beside the messages.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ``messages`` is the room's log: every seq is a row, a message or an event (edit, delete,
    # reaction) that changes one, so catch-up replays events from the same place as messages
    # and a seq is never a hole. A message row also holds its current state, kept by the
    # persistence worker as it stores the events (docs/protocol.md "Applying room events"):
    #   - ``body`` is the text as sent (an edit's new text, in an edit row); a delete erases it
    #     from the message and from its edits, so a deleted message's words are gone.
    #   - ``edited_body``/``edited_at``/``edit_seq``: the newest edit applied; an edit older than
    #     ``edit_seq`` (a late duplicate) changes nothing.
    #   - ``deleted_at``/``deleted_by``: set once, for good.
    #   - ``updated_seq``: the newest event applied to the message (NULL: none), so a reader of
    #     history knows which events its state already holds.
    # Every column is nullable or has a constant default: adding them rewrites no rows.
    op.execute(
        """
        ALTER TABLE messages
            ALTER COLUMN body DROP NOT NULL,
            ADD COLUMN kind text NOT NULL DEFAULT 'message'
                CHECK (kind IN ('message', 'edit', 'delete', 'reaction')),
            ADD COLUMN target uuid,
            ADD COLUMN emoji text,
            ADD COLUMN reaction_on boolean,
            ADD COLUMN reply_to jsonb,
            ADD COLUMN edited_body text,
            ADD COLUMN edited_at timestamptz,
            ADD COLUMN edit_seq bigint,
            ADD COLUMN deleted_at timestamptz,
            ADD COLUMN deleted_by text,
            ADD COLUMN updated_seq bigint
        """
    )
    # An event's target's edits are found (to erase their text on delete) by target; only
    # event rows have one, so the index holds nothing for messages.
    op.execute("CREATE INDEX messages_by_target ON messages (target) WHERE target IS NOT NULL")
    # Who reacted with what to a message. A reaction taken back stays as a row with on = false
    # and the seq of the event that took it back: an older event arriving late (a producer's
    # retry) then changes nothing, whatever the order the events are stored in.
    op.execute(
        """
        CREATE TABLE message_reactions (
            message_id  uuid NOT NULL,
            emoji       text NOT NULL,
            user_id     text NOT NULL,
            reaction_on boolean NOT NULL,
            seq         bigint NOT NULL,
            PRIMARY KEY (message_id, emoji, user_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE message_reactions")
    op.execute("DROP INDEX messages_by_target")
    op.execute("DELETE FROM messages WHERE kind <> 'message'")
    op.execute("UPDATE messages SET body = '' WHERE body IS NULL")
    op.execute(
        """
        ALTER TABLE messages
            ALTER COLUMN body SET NOT NULL,
            DROP COLUMN kind,
            DROP COLUMN target,
            DROP COLUMN emoji,
            DROP COLUMN reaction_on,
            DROP COLUMN reply_to,
            DROP COLUMN edited_body,
            DROP COLUMN edited_at,
            DROP COLUMN edit_seq,
            DROP COLUMN deleted_at,
            DROP COLUMN deleted_by,
            DROP COLUMN updated_seq
        """
    )
