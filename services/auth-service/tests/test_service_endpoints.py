from __future__ import annotations

from pathlib import Path

import httpx
import jwt

from auth_harness import (
    AuthProcess,
    KeyFiles,
    RedisProcess,
    login,
    refresh,
    register,
    service_settings,
)
from chat_auth.signing import SigningKey


async def test_the_jwks_publishes_the_current_and_the_previous_key(
    client: httpx.AsyncClient, key_files: KeyFiles
) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    current = SigningKey.from_pem_file(str(key_files.current))
    previous = SigningKey.from_pem_file(str(key_files.previous))
    assert keys == [current.public_jwk, previous.public_jwk]
    assert {key["alg"] for key in keys} == {"EdDSA"}
    assert all("d" not in key for key in keys), "a private key part was published"

    user = await register(client)
    token = (await login(client, user["username"]))["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == current.kid


async def test_health_readiness_and_the_openapi_document(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/v1/users",
        "/v1/token",
        "/v1/token/refresh",
        "/v1/logout",
        "/.well-known/jwks.json",
    }


async def test_readiness_names_a_dependency_that_is_down_but_not_its_error(
    database_url: str, key_files: KeyFiles, tmp_path: Path
) -> None:
    redis = RedisProcess(tmp_path)
    try:
        settings = service_settings(
            database_url=database_url, redis_url=redis.url, key_file=key_files.current
        )
        service = AuthProcess(settings, tmp_path / "auth.log")
        try:
            redis.stop()
            async with httpx.AsyncClient(base_url=service.url, timeout=10.0) as client:
                ready = await client.get("/readyz")
            assert ready.status_code == 503
            # Addresses, ports and driver messages are for the operator, not for whoever asks.
            assert ready.json() == {
                "status": "unavailable",
                "checks": {"postgres": "ok", "redis": "failed"},
            }
            log = service.log_tail()
            assert "readiness check failed" in log
            assert "Connection refused" in log or "Connect call failed" in log
        finally:
            service.stop()
    finally:
        redis.stop()


def _sample(text: str, name: str, labels: str = "") -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} "):
            return float(line.split()[-1])
    return 0.0


async def test_metrics_count_logins_tokens_and_refresh_reuse(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    user = await register(client)
    pair = await login(client, user["username"])
    await client.post("/v1/token", json={"username": user["username"], "password": "wrong pw"})
    await refresh(client, pair["refresh_token"])
    await refresh(client, pair["refresh_token"])
    after = (await client.get("/metrics")).text

    def grew(name: str, labels: str = "") -> float:
        return _sample(after, name, labels) - _sample(before, name, labels)

    # Other tests share the service: counts grow by at least this test's share.
    assert grew("chat_auth_logins_total", '{result="ok"}') >= 1
    assert grew("chat_auth_logins_total", '{result="bad_credentials"}') >= 1
    assert grew("chat_auth_tokens_issued_total", '{grant="password"}') >= 1
    assert grew("chat_auth_tokens_issued_total", '{grant="refresh"}') >= 1
    assert grew("chat_auth_refresh_reuse_detected_total") >= 1
    assert grew("chat_auth_revocations_total", '{scope="session"}') >= 1
    assert "chat_auth_password_check_seconds_bucket" in after


async def test_unknown_paths_and_methods_answer_with_a_json_problem(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong_method = await client.get("/v1/token")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "bad_request"
