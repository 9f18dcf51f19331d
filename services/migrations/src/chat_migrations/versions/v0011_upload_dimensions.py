"""An image upload's size in pixels, as the media worker found it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Set with ``processed_at`` once the media worker has re-encoded an image upright: its
    # width and height then, so that announcing it again (a record read a second time) needs
    # no second decode. NULL for files and for images not processed yet; adding nullable
    # columns rewrites no rows.
    op.execute("ALTER TABLE uploads ADD COLUMN width integer, ADD COLUMN height integer")


def downgrade() -> None:
    op.execute("ALTER TABLE uploads DROP COLUMN width, DROP COLUMN height")
