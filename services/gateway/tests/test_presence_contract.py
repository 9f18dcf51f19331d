"""The ``Presence`` contract, run against ``RedisPresence`` on a Redis of its own, on a Redis
Cluster, and against the in-memory presence the unit tests use: what a unit test shows on the
one holds on the others."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from chat_common.redis_client import create_redis
from chat_gateway.presence import Member, Presence
from chat_gateway.redis_presence import RedisPresence
from chat_testing.cluster import RedisClusterGroup
from memory_presence import MemoryPresence

MakePresence = Callable[[float], Presence]


@pytest.fixture(params=["redis", "cluster", "memory"])
async def make_presence(
    request: pytest.FixtureRequest, redis_url_of_its_own: str, redis_cluster: RedisClusterGroup
) -> AsyncIterator[MakePresence]:
    if request.param == "memory":
        yield lambda ttl_s: MemoryPresence(ttl_s=ttl_s)
        return
    url = redis_url_of_its_own if request.param == "redis" else redis_cluster.url
    redis = create_redis(url, client_name="presence-contract", max_connections=8, pool_timeout_s=2)
    try:
        yield lambda ttl_s: RedisPresence(redis, ttl_s=ttl_s)
    finally:
        await redis.aclose()


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:10]}"


def _member(user: str, connection: str, name: str = "") -> Member:
    return Member(f"{user}", name or user.title(), connection)


async def test_a_user_opens_at_most_the_limit_of_connections(make_presence: MakePresence) -> None:
    presence = make_presence(60)
    user = f"user-{uuid.uuid4().hex[:10]}"
    admitted = [await presence.admit_connection(user, f"c{i}", 2) for i in range(3)]
    assert admitted == [True, True, False]
    await presence.depart(_member(user, "c0"), [])
    assert await presence.admit_connection(user, "c3", 2)


async def test_the_first_connection_in_and_the_last_one_out_change_presence(
    make_presence: MakePresence,
) -> None:
    presence, room = make_presence(60), _room()
    ada_tab, ada_phone = _member("ada", "tab"), _member("ada", "phone")
    assert [await presence.enter(room, ada_tab), await presence.enter(room, ada_phone)] == [
        True,
        False,
    ]
    assert not await presence.leave(room, ada_tab)
    assert await presence.leave(room, ada_phone)
    assert not await presence.leave(room, ada_phone)
    assert await presence.online(room, 10) == []


async def test_online_lists_users_by_name_up_to_the_limit(make_presence: MakePresence) -> None:
    presence, room = make_presence(60), _room()
    for user, name in (("u1", "Cleo"), ("u2", "Ada"), ("u3", "Bob")):
        await presence.enter(room, _member(user, f"{user}-c", name))
    assert [user.name for user in await presence.online(room, 10)] == ["Ada", "Bob", "Cleo"]
    assert len(await presence.online(room, 2)) == 2


async def test_online_among_says_which_of_the_given_users_are_in_the_room(
    make_presence: MakePresence,
) -> None:
    presence, room, elsewhere = make_presence(60), _room(), _room()
    ada, bob, cleo = _member("ada", "a1"), _member("bob", "b1"), _member("cleo", "c1")
    await presence.enter(room, ada)
    await presence.enter(room, bob)
    await presence.enter(elsewhere, cleo)
    await presence.leave(room, bob)
    assert await presence.online_among(room, ["ada", "bob", "cleo", "dan"]) == {"ada"}
    assert await presence.online_among(room, []) == set()


async def test_online_among_leaves_out_lapsed_entries(make_presence: MakePresence) -> None:
    presence, room = make_presence(0.3), _room()
    await presence.enter(room, _member("ada", "a1"))
    assert await presence.online_among(room, ["ada"]) == {"ada"}
    await asyncio.sleep(0.4)  # ada's gateway stopped its heartbeats
    assert await presence.online_among(room, ["ada"]) == set()


async def test_a_departure_reports_the_rooms_the_user_left_for_good(
    make_presence: MakePresence,
) -> None:
    presence, alone, shared = make_presence(60), _room(), _room()
    tab, phone = _member("ada", "tab"), _member("ada", "phone")
    await presence.enter(alone, tab)
    await presence.enter(shared, tab)
    await presence.enter(shared, phone)
    assert await presence.depart(tab, [alone, shared]) == [alone]


async def test_a_sweep_reports_once_the_users_whose_entries_lapsed(
    make_presence: MakePresence,
) -> None:
    presence, room = make_presence(1.0), _room()
    ada, bob = _member("ada", "a1"), _member("bob", "b1")
    await presence.enter(room, ada)
    await presence.enter(room, bob)
    await asyncio.sleep(0.55)
    await presence.heartbeat([("bob", "b1")], [(room, bob)])  # bob's gateway is alive
    await asyncio.sleep(0.55)
    assert [(user.id, user.name) for user in await presence.sweep(room)] == [("ada", "Ada")]
    assert await presence.sweep(room) == []
    assert [user.id for user in await presence.online(room, 10)] == ["bob"]


async def test_announcements_fold_changes_within_the_interval(
    make_presence: MakePresence,
) -> None:
    presence, room = make_presence(60), _room()
    ada = _member("ada", "a1")
    await presence.enter(room, ada)
    assert await presence.announcement(room, "ada", 200) == ("online", 0)
    assert await presence.announcement(room, "ada", 200) == ("", 0)  # nothing new
    await presence.leave(room, ada)
    state, wait_ms = await presence.announcement(room, "ada", 200)
    assert state == ""
    assert 0 < wait_ms <= 200
    await presence.enter(room, ada)  # back before the interval ended: nothing to say
    await asyncio.sleep(wait_ms / 1000 + 0.02)
    assert await presence.announcement(room, "ada", 200) == ("", 0)
    await presence.leave(room, ada)
    assert await presence.announcement(room, "ada", 200) == ("offline", 0)
