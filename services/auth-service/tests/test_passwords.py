from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chat_auth.passwords import PasswordVault


@pytest.fixture
def durations() -> list[float]:
    """What the vault reports to its observer: one entry per hash or check."""
    return []


@pytest.fixture
async def vault(durations: list[float]) -> AsyncIterator[PasswordVault]:
    vault = PasswordVault(
        time_cost=2, memory_kib=19_456, parallelism=1, workers=2, observe=durations.append
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
    vault: PasswordVault, durations: list[float]
) -> None:
    checks_before = len(durations)
    assert not await vault.verify(None, "anything at all")
    assert len(durations) == checks_before + 1


async def test_a_hash_made_with_weaker_parameters_is_upgraded(vault: PasswordVault) -> None:
    weaker = PasswordVault(time_cost=2, memory_kib=19_456, parallelism=1, workers=1)
    stronger = PasswordVault(time_cost=3, memory_kib=19_456, parallelism=1, workers=1)
    try:
        stored = await weaker.hash("pw-12345678")
        assert stronger.needs_rehash(stored)
        assert not weaker.needs_rehash(stored)
        assert stronger.needs_rehash("not an argon2 hash")
        assert not await stronger.verify("not an argon2 hash", "pw-12345678")
    finally:
        weaker.close()
        stronger.close()
