"""Attachments: the uploads people make to the object store, and the files a message carries.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A message's attachments in their current state (docs/protocol.md "Attachments"), kept by
    # the persistence worker; an ``attachment`` event row holds the event's own list. NULL: none,
    # so adding the column rewrites no rows.
    op.execute("ALTER TABLE messages ADD COLUMN attachments jsonb")
    # The log gains one kind of event. The new check is added NOT VALID and validated apart, so
    # the table is scanned under a lock that lets the persistence worker go on writing.
    op.execute("ALTER TABLE messages DROP CONSTRAINT messages_kind_check")
    op.execute(
        """
        ALTER TABLE messages ADD CONSTRAINT messages_kind_check
            CHECK (kind IN ('message', 'edit', 'delete', 'reaction', 'attachment')) NOT VALID
        """
    )
    op.execute("ALTER TABLE messages VALIDATE CONSTRAINT messages_kind_check")
    # One row per presigned upload the gateway handed out. Its life:
    #   - made by POST /v1/rooms/{room}/uploads: who, where, the name, the declared type and the
    #     exact size the signed PUT allows;
    #   - claimed by the ``send`` that attaches it (``client_msg_id``, ``claimed_at``): one
    #     message only, and a resend of that send finds its own claim; the gateway records the
    #     type it sniffed from the file and whether it is an image;
    #   - ``message_id`` set by the persistence worker when the message is stored, so it names
    #     a message that is durable;
    #   - ``processed_at`` set by the media worker once an image's metadata is stripped and its
    #     thumbnail made (only then is its original handed out);
    #   - ``deleted_at`` once its objects are gone (the message was deleted, or it was never
    #     sent and is an orphan).
    op.execute(
        """
        CREATE TABLE uploads (
            id            uuid PRIMARY KEY,
            room          text NOT NULL,
            user_id       text NOT NULL,
            name          text NOT NULL,
            declared_type text NOT NULL,
            size          bigint NOT NULL CHECK (size > 0),
            created_at    timestamptz NOT NULL DEFAULT now(),
            client_msg_id text,
            claimed_at    timestamptz,
            type          text,
            image         boolean,
            message_id    uuid,
            processed_at  timestamptz,
            deleted_at    timestamptz
        )
        """
    )
    # The uploads a person made in the last hour (the hourly limit).
    op.execute("CREATE INDEX uploads_by_user ON uploads (user_id, created_at)")
    # A deleted message's objects.
    op.execute(
        "CREATE INDEX uploads_by_message ON uploads (message_id) WHERE message_id IS NOT NULL"
    )
    # The orphan sweep's scan: uploads never stored with a message, oldest first.
    op.execute(
        "CREATE INDEX uploads_unsent ON uploads (created_at)"
        " WHERE message_id IS NULL AND deleted_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE uploads")
    op.execute("DELETE FROM messages WHERE kind = 'attachment'")
    op.execute("ALTER TABLE messages DROP CONSTRAINT messages_kind_check")
    op.execute(
        """
        ALTER TABLE messages ADD CONSTRAINT messages_kind_check
            CHECK (kind IN ('message', 'edit', 'delete', 'reaction'))
        """
    )
    op.execute("ALTER TABLE messages DROP COLUMN attachments")
