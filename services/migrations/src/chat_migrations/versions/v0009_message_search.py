"""Full-text search over message bodies (GET /v1/search).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
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
            " ON messages USING gin (to_tsvector('simple', COALESCE(edited_body, body)))"
            " WHERE kind = 'message' AND deleted_at IS NULL"
        )
    # The search chooses its plan by the planner's estimate of a query's matches, which needs
    # the words' frequencies. Postgres keeps none for a partial index's expression (it would not
    # describe the whole table): statistics on the expression itself do, kept by ANALYZE as
    # any column's. Analyzed now (a sample, a few seconds on ten million rows), so the first
    # searches do not wait for autovacuum to find the words common.
    op.execute(
        "CREATE STATISTICS IF NOT EXISTS messages_search_words"
        " ON (to_tsvector('simple', COALESCE(edited_body, body))) FROM messages"
    )
    op.execute("ANALYZE messages")


def downgrade() -> None:
    op.execute("DROP STATISTICS IF EXISTS messages_search_words")
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS messages_search")
