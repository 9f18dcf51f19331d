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
    # and `simple` lower-cases words without stemming or stop words for one of them. It holds
    # what a search finds, the current text of messages that are not deleted: the expression
    # `to_tsvector('simple', COALESCE(edited_body, body))` and the predicate `kind = 'message'
    # AND deleted_at IS NULL` are written the same in every statement of
    # chat_gateway/search.py, so the planner can use it (events, whose text an edit's message
    # row holds, and deleted messages are left out).
    #
    # An index rather than a generated tsvector column: both compute the vector as the
    # persistence worker stores a row and both keep the same index, but the column also stores
    # the vector in every row and its addition rewrites the table under an exclusive lock.
    #
    # The default `fastupdate`, with its 4 MB pending list (docs/benchmarks.md, "Message
    # search"): 200,000 inserted rows took Postgres 11-15 s with it, 39 s without it (every
    # insert updating the posting lists at once), 9 s with a 16 MB list, 3 s with no index; the
    # worker's own benchmark, interleaved with and without the index, moved more with the
    # machine's load than with the index. A larger list would be cheaper for the worker, but
    # every search through the index reads the whole pending list first.
    #
    # Built CONCURRENTLY, outside the migration's transaction, so the worker keeps writing
    # while a large table is indexed (238 s for 10 million messages on a loaded 2-core machine).
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
