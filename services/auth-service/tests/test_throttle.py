"""Login throttling against the running service.

The harness sets: 3 failures per username and address, 8 per address, 6 per username before
the username is paced, one paced check every 2 s (``auth_harness.service_settings``).
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from redis.asyncio import Redis

from auth_harness import client_ip, login, login_from, register, unique_username
from chat_auth.throttle import (
    LoginThrottle,
    RegistrationThrottle,
    ThrottledError,
    client_network,
)
from chat_common.redis_client import RedisClient, create_redis
from chat_testing.cluster import RedisClusterGroup

PACE_S = 2
WRONG = "wrong password"


async def test_guessing_from_one_address_does_not_lock_the_owner_out(
    client: httpx.AsyncClient,
) -> None:
    name = (await register(client))["username"]
    attacker = client_ip()
    statuses = [(await login_from(client, attacker, name, WRONG)).status_code for _ in range(6)]
    assert statuses == [401] * 3 + [429] * 3
    owner = await login_from(client, client_ip(), name)
    assert owner.status_code == 200, owner.text


async def test_failed_logins_for_one_username_from_one_address_get_429_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    name = (await register(client))["username"]
    address = client_ip()
    for _ in range(3):
        assert (await login_from(client, address, name, WRONG)).status_code == 401
    refused = await login_from(client, address, name, WRONG)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 900
    assert refused.json()["code"] == "rate_limited"
    # The right password from that address waits too: a guess must not learn it was right.
    right = await login_from(client, address, name)
    assert right.status_code == 429


async def test_failed_logins_from_one_address_are_throttled(client: httpx.AsyncClient) -> None:
    statuses = []
    for _ in range(9):
        response = await client.post(
            "/v1/token", json={"username": unique_username(), "password": WRONG}
        )
        statuses.append(response.status_code)
    # The per-address limit is 8 failures, each on a different username.
    assert statuses == [401] * 8 + [429]
    assert int(response.headers["retry-after"]) > 0


async def test_a_successful_login_clears_the_count_of_its_address(
    client: httpx.AsyncClient,
) -> None:
    name = (await register(client))["username"]
    for _ in range(2):
        for _ in range(2):
            wrong = await client.post("/v1/token", json={"username": name, "password": WRONG})
            assert wrong.status_code == 401
        # Without the clearing, the second round would reach the limit of 3.
        assert (await login(client, name))["access_token"]


async def test_guessing_from_many_addresses_paces_the_username_but_admits_the_owner(
    client: httpx.AsyncClient,
) -> None:
    name = (await register(client))["username"]
    # Two addresses use up their own 3 failures each: the username's ceiling of 6 is reached.
    for _ in range(2):
        address = client_ip()
        for _ in range(3):
            assert (await login_from(client, address, name, WRONG)).status_code == 401
    # From now on the username gets one password check every 2 s, whoever asks, in turn.
    # The first turn is free: that guess is checked at once.
    assert (await login_from(client, client_ip(), name, WRONG)).status_code == 401
    owner = client_ip()
    waiting = await login_from(client, owner, name)
    assert waiting.status_code == 429
    assert waiting.json()["code"] == "rate_limited"
    turn_in = int(waiting.headers["retry-after"])
    assert 1 <= turn_in <= PACE_S
    # Guessing goes on from fresh addresses: each is given a later turn, none takes the owner's.
    later = [await login_from(client, client_ip(), name, WRONG) for _ in range(3)]
    assert [r.status_code for r in later] == [429] * 3
    assert all(int(r.headers["retry-after"]) > turn_in for r in later)
    # Asking again before the turn keeps the same turn.
    early = await login_from(client, owner, name)
    assert early.status_code == 429
    assert int(early.headers["retry-after"]) <= turn_in
    await asyncio.sleep(int(early.headers["retry-after"]))
    admitted = await login_from(client, owner, name)
    assert admitted.status_code == 200, admitted.text


def _throttle(redis: RedisClient, **limits: int) -> LoginThrottle:
    settings = {"per_user_address": 1, "per_address": 100, "per_user": 100, "pace_s": 60}
    return LoginThrottle(
        redis,
        **(settings | limits),
        window_s=60,
        ipv6_prefix=64,
        prefix=f"auth-test-{uuid.uuid4().hex[:8]}",
    )


async def test_a_paced_username_hands_out_turns_one_pace_apart(redis: Redis) -> None:
    await _hand_out_turns(redis)


async def test_throttles_count_and_pace_the_same_on_a_redis_cluster(
    redis_cluster: RedisClusterGroup,
) -> None:
    # An attempt's keys mix a username's and an address's: one slot ({prefix}) holds them all.
    cluster = create_redis(
        redis_cluster.url, client_name="throttle-cluster", max_connections=4, pool_timeout_s=2
    )
    try:
        await _hand_out_turns(cluster)
        registrations = RegistrationThrottle(
            cluster, per_address=2, window_s=60, ipv6_prefix=64, prefix=f"t-{uuid.uuid4().hex}"
        )
        await registrations.count("198.51.100.7")
        await registrations.count("198.51.100.7")
        with pytest.raises(ThrottledError):
            await registrations.count("198.51.100.7")
        failures = _throttle(cluster)
        attempt = await failures.begin("bob", "198.51.100.7")
        with pytest.raises(ThrottledError):
            await failures.begin("bob", "198.51.100.7")
        await failures.succeeded(attempt)
        await failures.begin("bob", "198.51.100.7")
    finally:
        await cluster.aclose()


async def _hand_out_turns(redis: RedisClient) -> None:
    throttle = _throttle(redis, per_user_address=100, per_user=1)
    await throttle.begin("alice", "198.51.100.7")
    # Paced from now on: the free turn is taken at once, each next one a minute later.
    assert (await throttle.begin("alice", "198.51.100.8")).keys
    waits = []
    for address in ("198.51.100.9", "198.51.100.10", "198.51.100.9"):
        with pytest.raises(ThrottledError) as refused:
            await throttle.begin("alice", address)
        assert refused.value.paced
        waits.append(refused.value.retry_after_s)
    assert 55 <= waits[0] <= 60
    assert 115 <= waits[1] <= 120
    # Asking again keeps the turn already given.
    assert waits[2] <= waits[0]


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("unknown", "unknown"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_network(address: str, counted_as: str) -> None:
    assert client_network(address, 64) == counted_as
