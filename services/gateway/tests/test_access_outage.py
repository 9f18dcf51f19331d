"""Room decisions while Postgres cannot be reached: an expired one is used for a bounded while.

The "Postgres stopped" fault (tests/chaos) found every send refused once the access cache's
entries expired during the outage. ``RoomAccess`` now uses an expired decision while Postgres
is unreachable, up to ``stale_if_error_s`` past its expiry. Here the real Postgres is reached
through a ``FaultProxy`` that the test cuts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest
import pytest_asyncio

from chat_common import database
from chat_gateway.access import Caller, RoomAccess
from chat_gateway.people import PeopleDirectory
from chat_gateway.roster import RoomRoster
from chat_gateway.store import RoomDirectory
from chat_testing import stack
from chat_testing.fault_proxy import FaultProxy

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Every decision expires at once, so each call after the first needs Postgres or the stale one.
TTL_S = 0.05


class Cut:
    def __init__(self, proxy: FaultProxy, pool: asyncpg.Pool, room: str) -> None:
        self.proxy, self.pool, self.room = proxy, pool, room

    def access(self, stale_if_error_s: float) -> RoomAccess:
        return RoomAccess(
            self.pool,
            RoomDirectory(self.pool),
            RoomRoster(self.pool),
            PeopleDirectory(self.pool),
            create_on_join=False,
            cache_ttl_s=TTL_S,
            stale_if_error_s=stale_if_error_s,
        )


@pytest_asyncio.fixture(loop_scope="session")
async def cut() -> AsyncIterator[Cut]:
    url = stack.database_url()
    parts = urlsplit(url)
    proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    proxied = parts._replace(netloc=f"{credentials}127.0.0.1:{proxy.port}").geturl()
    room = f"stale-{uuid.uuid4().hex[:10]}"
    direct = await asyncpg.connect(url)
    await direct.execute(
        "INSERT INTO rooms (id, kind, created_by) VALUES ($1, 'public', 'test')", room
    )
    pool = await database.create_pool(proxied, min_size=1, max_size=2)
    try:
        yield Cut(proxy, pool, room)
    finally:
        await proxy.restore()
        await pool.close()
        await proxy.stop()
        await direct.execute("DELETE FROM rooms WHERE id = $1", room)
        await direct.close()


async def test_an_expired_decision_is_used_while_postgres_is_cut(cut: Cut) -> None:
    access = cut.access(stale_if_error_s=300.0)
    caller = Caller(str(uuid.uuid4()), ())
    assert (await access.for_send(caller, cut.room)).id == cut.room
    await asyncio.sleep(TTL_S * 2)
    await cut.proxy.cut()
    assert (await access.for_send(caller, cut.room)).id == cut.room
    # Nothing was ever decided about this room: there is nothing to fall back on.
    with pytest.raises((OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)):
        await access.for_send(caller, f"{cut.room}-other")
    await cut.proxy.restore()
    assert (await access.for_send(caller, cut.room)).id == cut.room


async def test_past_the_bound_or_with_the_bound_off_postgres_is_needed(cut: Cut) -> None:
    for bound_s in (0.0, 0.2):
        access = cut.access(stale_if_error_s=bound_s)
        caller = Caller(str(uuid.uuid4()), ())
        assert (await access.for_send(caller, cut.room)).id == cut.room
        await asyncio.sleep(TTL_S + bound_s + 0.1)
        await cut.proxy.cut()
        with pytest.raises((OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)):
            await access.for_send(caller, cut.room)
        await cut.proxy.restore()
