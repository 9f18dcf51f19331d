"""Full-text search over message bodies (GET /v1/search).

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
    # An expression GIN index over the `simple` configuration: people write in every language,
    # and `simple` lower-cases words without stemming or stop words for one of them. The search
    # repeats the expression exactly (`to_tsvector('simple', body)`), so it uses this index.
    #
    # An index rather than a generated tsvector column: both compute the vector as the
    # persistence worker COPYs a row in and both keep the same index, but the column also stores
    # the vector in every row and its addition rewrites the table under an exclusive lock. The
    # default `fastupdate` (new entries gathered in a pending list, merged when it fills): 200,000
    # inserted rows took Postgres 10 s with it, 28 s without it, 4-5 s with no index at all;
    # the worker's own benchmark moved more with the machine's load than with the index
    # (docs/benchmarks.md, "Message search"). Built CONCURRENTLY, outside the migration's
    # transaction, so the worker keeps writing while a large table is indexed.
    with op.get_context().autocommit_block():
        # A concurrent build that was interrupted leaves an invalid index of this name behind:
        # dropped first, so running the upgrade again builds a valid one.
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS messages_search")
        op.execute(
            "CREATE INDEX CONCURRENTLY messages_search"
            " ON messages USING gin (to_tsvector('simple', body))"
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS messages_search")
