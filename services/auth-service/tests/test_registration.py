from __future__ import annotations

import uuid

import httpx
import pytest

from auth_harness import PASSWORD, client_ip, metric, register, unique_username

HASHES = "chat_auth_password_hashes_total"


async def test_a_new_user_is_created_with_a_lower_cased_name(client: httpx.AsyncClient) -> None:
    name = unique_username()
    response = await client.post("/v1/users", json={"username": name.upper(), "password": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == name
    assert uuid.UUID(body["id"])


async def test_a_taken_username_is_refused_with_409_whatever_its_case(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    for spelling in (user["username"], user["username"].upper()):
        response = await client.post(
            "/v1/users", json={"username": spelling, "password": "another password"}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "bad_request"
        assert "taken" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"username": "ab", "password": PASSWORD}, "username must be 3 to 32 characters"),
        ({"username": "a" * 33, "password": PASSWORD}, "username must be 3 to 32 characters"),
        ({"username": "has space", "password": PASSWORD}, "username must be"),
        ({"username": "émile", "password": PASSWORD}, "username must be"),
        # The Kelvin sign lowers to "k": it must not become a second spelling of "kab".
        ({"username": "\u212aab", "password": PASSWORD}, "username must be"),
        ({"username": "abc\n", "password": PASSWORD}, "username must be"),
        ({"username": "valid_name", "password": "short"}, "password must be 8 to 128"),
        ({"username": "valid_name", "password": "x" * 129}, "password must be 8 to 128"),
        ({"username": "valid_name"}, "missing required field `password`"),
        ({"username": 42, "password": PASSWORD}, "username must be"),
    ],
)
async def test_invalid_input_is_refused_with_422_and_a_clear_message(
    client: httpx.AsyncClient, body: dict[str, object], says: str
) -> None:
    response = await client.post("/v1/users", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "bad_request"
    assert says in response.json()["message"]


async def test_a_body_that_is_not_json_is_refused_with_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/users", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["message"]
    response = await client.post(
        "/v1/users", content=b"username=x", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert "must be JSON" in response.json()["message"]


async def test_an_oversized_body_is_refused_with_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/users", json={"username": unique_username(), "password": "x" * 20_000}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


async def test_a_taken_username_is_refused_without_spending_a_hash(
    client: httpx.AsyncClient,
) -> None:
    # Tests run one at a time against the service: nothing else hashes meanwhile.
    user = await register(client)
    before = await metric(client, HASHES, '{op="hash"}')
    taken = await client.post(
        "/v1/users", json={"username": user["username"].upper(), "password": "another password"}
    )
    assert taken.status_code == 409
    assert await metric(client, HASHES, '{op="hash"}') == before
    # A free name costs one hash: the metric counts what it says.
    await register(client)
    assert await metric(client, HASHES, '{op="hash"}') == before + 1


async def test_registrations_from_one_address_are_throttled(client: httpx.AsyncClient) -> None:
    # The harness allows 5 per address; taken names count too (they tell which names exist).
    statuses = []
    for _ in range(6):
        response = await client.post(
            "/v1/users", json={"username": unique_username(), "password": PASSWORD}
        )
        statuses.append(response.status_code)
    assert statuses == [201] * 5 + [429]
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response.headers["retry-after"]) <= 3600
    elsewhere = await client.post(
        "/v1/users",
        json={"username": unique_username(), "password": PASSWORD},
        headers={"X-Forwarded-For": client_ip()},
    )
    assert elsewhere.status_code == 201
