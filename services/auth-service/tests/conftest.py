from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from auth_harness import ISSUER, AuthProcess, KeyFiles, RevocationFeed, client_ip, service_settings
from chat_common.redis_client import create_redis
from chat_common.tokens import JwksVerifier
from chat_testing.keys import write_signing_key


@pytest.fixture(scope="session")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    folder = tmp_path_factory.mktemp("keys")
    return KeyFiles(
        previous=write_signing_key(folder / "previous.pem"),
        current=write_signing_key(folder / "current.pem"),
    )


@pytest.fixture(scope="session")
def auth_service(
    database_url: str,
    redis_url: str,
    key_files: KeyFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthProcess]:
    settings = service_settings(
        database_url=database_url,
        redis_url=redis_url,
        key_file=key_files.current,
        previous_key_file=key_files.previous,
    )
    service = AuthProcess(settings, tmp_path_factory.mktemp("logs") / "auth.log")
    yield service
    service.stop()


@pytest.fixture
async def client(auth_service: AuthProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=auth_service.url, headers={"X-Forwarded-For": client_ip()}, timeout=10.0
    ) as client:
        yield client


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = create_redis(
        redis_url, client_name="auth-tests", max_connections=8, pool_timeout_s=2.0
    )
    assert isinstance(client, Redis)
    yield client
    await client.aclose()


@pytest.fixture
async def revocations(redis: Redis) -> AsyncIterator[RevocationFeed]:
    feed = RevocationFeed(redis)
    await feed.start()
    yield feed
    await feed.close()


@pytest.fixture
async def verifier(auth_service: AuthProcess) -> AsyncIterator[JwksVerifier]:
    verifier = JwksVerifier(jwks_url=f"{auth_service.url}/.well-known/jwks.json", issuer=ISSUER)
    yield verifier
    await verifier.aclose()
