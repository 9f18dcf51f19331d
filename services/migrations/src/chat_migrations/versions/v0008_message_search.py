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
    # An index rather than a generated tsvector column: both compute the vector once per row as
    # the persistence worker COPYs it in, but a stored column also doubles the bytes of every
    # row and its addition rewrites the whole table under an exclusive lock. The worker's cost
    # of the index was measured with loadtests/bench_worker.py, runs interleaved with and
    # without it (docs/benchmarks.md, "Message search"). Built CONCURRENTLY, outside the
    # migration's transaction, so the worker keeps writing while a large table is indexed.
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_search"
            " ON messages USING gin (to_tsvector('simple', body))"
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS messages_search")
