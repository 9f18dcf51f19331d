from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from auth_harness import (
    PASSWORD,
    AuthProcess,
    KeyFiles,
    client_ip,
    login_from,
    metric,
    register,
    service_settings,
    unique_username,
)
from chat_auth.passwords import PasswordsBusyError, PasswordVault

# A flood against a service with one hashing thread and room for two operations at once.
FLOOD = 30


@pytest.fixture
def work() -> list[tuple[str, float]]:
    """What the vault reports to its observer: one (operation, seconds) per hash or check."""
    return []


@pytest.fixture
async def vault(work: list[tuple[str, float]]) -> AsyncIterator[PasswordVault]:
    vault = PasswordVault(
        time_cost=2,
        memory_kib=19_456,
        parallelism=1,
        workers=2,
        queue_limit=8,
        observe=lambda op, seconds: work.append((op, seconds)),
    )
    await vault.start()
    yield vault
    vault.close()


async def test_passwords_are_hashed_with_argon2id_at_the_configured_cost(
    vault: PasswordVault,
) -> None:
    stored = await vault.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await vault.verify(stored, "correct horse battery staple")
    assert not await vault.verify(stored, "correct horse battery stapler")
    assert await vault.hash("correct horse battery staple") != stored  # salted


async def test_an_unknown_user_costs_one_real_check_and_never_matches(
    vault: PasswordVault, work: list[tuple[str, float]]
) -> None:
    checks_before = len(work)
    assert not await vault.verify(None, "anything at all")
    assert [op for op, _ in work[checks_before:]] == ["verify"]


async def test_a_hash_made_with_weaker_parameters_is_upgraded(vault: PasswordVault) -> None:
    weaker = PasswordVault(time_cost=2, memory_kib=19_456, parallelism=1, workers=1, queue_limit=1)
    stronger = PasswordVault(
        time_cost=3, memory_kib=19_456, parallelism=1, workers=1, queue_limit=1
    )
    try:
        stored = await weaker.hash("pw-12345678")
        assert stronger.needs_rehash(stored)
        assert not weaker.needs_rehash(stored)
        assert stronger.needs_rehash("not an argon2 hash")
        assert not await stronger.verify("not an argon2 hash", "pw-12345678")
    finally:
        weaker.close()
        stronger.close()


async def test_requests_beyond_the_queue_limit_are_refused_at_once() -> None:
    vault = PasswordVault(time_cost=2, memory_kib=19_456, parallelism=1, workers=1, queue_limit=2)
    try:
        with vault.admission(), vault.admission():
            with pytest.raises(PasswordsBusyError) as busy, vault.admission():
                pass
            assert busy.value.retry_after_s >= 1
        # The places come back.
        with vault.admission():
            assert await vault.hash("pw-12345678")
    finally:
        vault.close()


@pytest.fixture(scope="module")
def crowded_service(
    database_url: str,
    redis_url: str,
    key_files: KeyFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthProcess]:
    settings = service_settings(
        database_url=database_url, redis_url=redis_url, key_file=key_files.current
    )
    settings |= {"CHAT_AUTH_HASH_WORKERS": "1", "CHAT_AUTH_HASH_QUEUE_LIMIT": "2"}
    service = AuthProcess(settings, tmp_path_factory.mktemp("crowded") / "auth.log")
    yield service
    service.stop()


def _check_shed(responses: list[httpx.Response], served: int) -> int:
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) == {served, 503}, statuses
    for response in (r for r in responses if r.status_code == 503):
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["code"] == "unavailable"
        assert "busy" in response.json()["message"]
    return statuses[503]


async def test_a_flood_of_logins_is_shed_with_503_and_retry_after(
    crowded_service: AuthProcess,
) -> None:
    async with httpx.AsyncClient(
        base_url=crowded_service.url, headers={"X-Forwarded-For": client_ip()}, timeout=60.0
    ) as client:
        owner = (await register(client))["username"]
        shed_before = await metric(client, "chat_auth_password_shed_total")
        # Guesses at many names from many addresses: no throttle stops them, each costs a check.
        responses = await asyncio.gather(
            *(login_from(client, client_ip(), unique_username()) for _ in range(FLOOD))
        )
        shed = _check_shed(list(responses), 401)
        assert await metric(client, "chat_auth_password_shed_total") == shed_before + shed
        # Once the flood has passed, logins are served again.
        assert (await login_from(client, client_ip(), owner)).status_code == 200


async def test_a_flood_of_registrations_is_shed_with_503_and_retry_after(
    crowded_service: AuthProcess,
) -> None:
    async with httpx.AsyncClient(base_url=crowded_service.url, timeout=60.0) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/v1/users",
                    json={"username": unique_username(), "password": PASSWORD},
                    headers={"X-Forwarded-For": client_ip()},
                )
                for _ in range(FLOOD)
            )
        )
        _check_shed(list(responses), 201)
