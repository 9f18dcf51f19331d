"""Users, login sessions and their refresh tokens (the auth service's tables).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE users (
            id             uuid PRIMARY KEY,
            username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{3,32}$'),
            password_hash  text NOT NULL,
            roles          text[] NOT NULL DEFAULT '{member}',
            created_at     timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # One row per login: every refresh token of that login belongs to it, so reuse of a spent
    # token can revoke the whole chain at once.
    op.execute(
        """
        CREATE TABLE login_sessions (
            id              uuid PRIMARY KEY,
            user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            created_at      timestamptz NOT NULL DEFAULT now(),
            revoked_at      timestamptz,
            revoked_reason  text
        )
        """
    )
    op.execute(
        "CREATE INDEX login_sessions_live_by_user ON login_sessions (user_id)"
        " WHERE revoked_at IS NULL"
    )
    # Only a hash of each refresh token is stored; the token itself exists only at the client.
    op.execute(
        """
        CREATE TABLE refresh_tokens (
            token_hash  bytea PRIMARY KEY,
            session_id  uuid NOT NULL REFERENCES login_sessions (id) ON DELETE CASCADE,
            issued_at   timestamptz NOT NULL DEFAULT now(),
            expires_at  timestamptz NOT NULL,
            spent_at    timestamptz
        )
        """
    )
    op.execute("CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id)")
    # The auth service deletes expired tokens hourly; this keeps that a range scan.
    op.execute("CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at)")


def downgrade() -> None:
    op.execute("DROP TABLE refresh_tokens")
    op.execute("DROP TABLE login_sessions")
    op.execute("DROP TABLE users")
