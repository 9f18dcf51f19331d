from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from chat_migrations.cli import main
from chat_migrations.urls import sqlalchemy_url


async def _migrate(database_url: str, *argv: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_DATABASE_URL", database_url)
    # Alembic is synchronous; run it off the event loop like the make target runs it.
    assert await asyncio.to_thread(main, list(argv)) == 0


async def _tables(connection: asyncpg.Connection) -> set[str]:
    rows = await connection.fetch(
        "SELECT tablename FROM pg_tables"
        " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
    )
    return {row["tablename"] for row in rows}


async def test_migrations_apply_and_a_room_is_written_and_read(
    scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _migrate(scratch_database_url, "upgrade", "head", monkeypatch=monkeypatch)
    connection = await asyncpg.connect(scratch_database_url)
    try:
        assert "rooms" in await _tables(connection)
        await connection.execute(
            "INSERT INTO rooms (id, kind, created_by) VALUES ($1, $2, $3)", "lobby", "public", "u1"
        )
        row = await connection.fetchrow("SELECT id, kind, read_only FROM rooms WHERE id = 'lobby'")
        assert row is not None
        assert dict(row) == {"id": "lobby", "kind": "public", "read_only": False}
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute("INSERT INTO rooms (id, kind) VALUES ('Bad Name!', 'public')")
    finally:
        await connection.close()


async def test_every_migration_reverts_and_applies_again(
    scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _migrate(scratch_database_url, "upgrade", "head", monkeypatch=monkeypatch)
    await _migrate(scratch_database_url, "downgrade", "base", monkeypatch=monkeypatch)
    connection = await asyncpg.connect(scratch_database_url)
    try:
        assert await _tables(connection) == set()
    finally:
        await connection.close()
    await _migrate(scratch_database_url, "upgrade", "head", monkeypatch=monkeypatch)


def test_only_postgres_urls_are_accepted() -> None:
    assert sqlalchemy_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    with pytest.raises(ValueError, match="postgresql"):
        sqlalchemy_url("mysql://u:p@h/d")


async def test_rooms_start_as_active_as_their_newest_stored_message(
    scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _migrate(scratch_database_url, "upgrade", "0004", monkeypatch=monkeypatch)
    connection = await asyncpg.connect(scratch_database_url)
    try:
        await connection.execute(
            "INSERT INTO rooms (id, kind, created_at) VALUES"
            " ('quiet', 'public', '2026-01-01T00:00Z'), ('busy', 'public', '2026-01-01T00:00Z')"
        )
        await connection.execute(
            "INSERT INTO messages (id, room, seq, user_id, user_name, body, client_msg_id,"
            " created_at) SELECT gen_random_uuid(), 'busy', n, 'u1', 'ann', 'hi', 'c' || n,"
            " '2026-03-01T00:00Z'::timestamptz + n * interval '1 minute'"
            " FROM generate_series(1, 3) AS n"
        )
        await _migrate(scratch_database_url, "upgrade", "head", monkeypatch=monkeypatch)
        rows = await connection.fetch(
            "SELECT id, to_char(last_active_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS at"
            " FROM rooms ORDER BY id"
        )
        assert [(row["id"], row["at"]) for row in rows] == [
            ("busy", "2026-03-01 00:03"),
            ("quiet", "2026-01-01 00:00"),
        ]
        newest = await connection.fetch("SELECT id, last_seq FROM rooms ORDER BY id")
        assert [(row["id"], row["last_seq"]) for row in newest] == [("busy", 3), ("quiet", 0)]
        await connection.execute("INSERT INTO rooms (id, kind) VALUES ('new', 'public')")
        fresh = await connection.fetchval("SELECT last_active_at FROM rooms WHERE id = 'new'")
        assert fresh is not None
    finally:
        await connection.close()


async def test_the_search_index_serves_the_search_and_its_words_are_counted(
    scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The gateway's statements, as it runs them: the index's expression and predicate must be
    # theirs, or the planner reads the whole table.
    from chat_gateway.search import MATCHES_ESTIMATE, SEARCH_BY_INDEX

    await _migrate(scratch_database_url, "upgrade", "head", monkeypatch=monkeypatch)
    connection = await asyncpg.connect(scratch_database_url)
    try:
        # Every message has "common"; one in a hundred "scarce"; edits, deletes and events too.
        await connection.execute(
            "INSERT INTO messages (id, room, seq, user_id, user_name, body, client_msg_id,"
            " created_at, kind, edited_body, deleted_at)"
            " SELECT gen_random_uuid(), 'r' || n % 50, n, 'u1', 'ann',"
            " 'common ' || CASE WHEN n % 100 = 0 THEN 'scarce ' ELSE '' END || 'word' || n % 997,"
            " 'c' || n, now(), CASE WHEN n % 7 = 0 THEN 'edit' ELSE 'message' END,"
            " CASE WHEN n % 11 = 0 THEN 'edited now' END,"
            " CASE WHEN n % 13 = 0 THEN now() END"
            " FROM generate_series(1, 20000) AS n"
        )
        await connection.execute("ANALYZE messages")
        await connection.execute("SET plan_cache_mode = force_custom_plan")
        estimate = json.loads(await connection.fetchval(MATCHES_ESTIMATE, "common"))
        # Of 20,000 rows, "common" is the current text of ~14,000 live messages (neither events,
        # edited nor deleted): estimated from the expression's statistics, not the default 0.5 %.
        assert 8_000 < estimate[0]["Plan"]["Plan Rows"] < 20_000
        async with connection.transaction():
            await connection.execute("SET LOCAL enable_seqscan = off")
            plan = await connection.fetchval(
                "EXPLAIN (FORMAT JSON) " + SEARCH_BY_INDEX, "scarce", ["r0"], None, None, None, 21
            )
        assert '"Index Name": "messages_search"' in plan
    finally:
        await connection.close()
