from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest

from auth_harness import ISSUER, AuthProcess, KeyFiles, login, refresh, register, service_settings
from chat_auth.signing import SigningKey
from chat_common.tokens import JwksVerifier, TokenError
from chat_testing.keys import write_signing_key


@pytest.fixture(scope="module")
def rotated_service(
    database_url: str,
    redis_url: str,
    key_files: KeyFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthProcess]:
    """The same deployment after a rotation: a new current key, the old current as previous."""
    folder = tmp_path_factory.mktemp("rotated")
    settings = service_settings(
        database_url=database_url,
        redis_url=redis_url,
        key_file=write_signing_key(folder / "next.pem"),
        previous_key_file=key_files.current,
    )
    service = AuthProcess(settings, folder / "auth.log")
    yield service
    service.stop()


@pytest.fixture
async def rotated_verifier(rotated_service: AuthProcess) -> AsyncIterator[JwksVerifier]:
    verifier = JwksVerifier(jwks_url=f"{rotated_service.url}/.well-known/jwks.json", issuer=ISSUER)
    yield verifier
    await verifier.aclose()


async def test_tokens_signed_before_the_rotation_stay_valid_and_sessions_go_on(
    client: httpx.AsyncClient,
    rotated_service: AuthProcess,
    rotated_verifier: JwksVerifier,
) -> None:
    user = await register(client)
    before = await login(client, user["username"])
    async with httpx.AsyncClient(base_url=rotated_service.url, timeout=10.0) as rotated:
        response = await refresh(rotated, before["refresh_token"])
        assert response.status_code == 200
        after = response.json()
    old_claims = await rotated_verifier.verify(before["access_token"])
    new_claims = await rotated_verifier.verify(after["access_token"])
    assert old_claims.sid == new_claims.sid
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]
    new_kid = jwt.get_unverified_header(after["access_token"])["kid"]
    assert old_kid != new_kid


async def test_the_key_retired_by_the_rotation_is_no_longer_accepted(
    rotated_verifier: JwksVerifier, key_files: KeyFiles
) -> None:
    retired = SigningKey.from_pem_file(str(key_files.previous))
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": ISSUER,
            "aud": "chat",
            "sub": str(uuid.uuid4()),
            "name": "alice",
            "roles": ["member"],
            "sid": str(uuid.uuid4()),
            "jti": uuid.uuid4().hex,
            "typ": "access",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        },
        retired.private_key,
        algorithm="EdDSA",
        headers={"kid": retired.kid},
    )
    with pytest.raises(TokenError, match="unknown key"):
        await rotated_verifier.verify(token)
