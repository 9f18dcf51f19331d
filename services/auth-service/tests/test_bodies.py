"""Hostile request bodies get a clear JSON error from every endpoint that reads one."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from auth_harness import AuthProcess, KeyFiles, client_ip, service_settings

JSON_ENDPOINTS = ["/v1/users", "/v1/token", "/v1/token/refresh", "/v1/logout"]
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _arrays_in_an_unknown_field(depth: int) -> bytes:
    return b'{"extra":' + b"[" * depth + b"]" * depth + b"}"


def _objects_in_an_unknown_field(depth: int) -> bytes:
    return b'{"extra":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


def _arrays_at_the_top(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# Each shape with the words its refusal must contain.
SHAPES: list[tuple[Callable[[int], bytes], str]] = [
    (_arrays_in_an_unknown_field, "nested too deeply"),
    (_objects_in_an_unknown_field, "nested too deeply"),
    (_arrays_at_the_top, "Expected `object`"),
]


@pytest.fixture(scope="module")
def roomy_service(
    database_url: str,
    redis_url: str,
    key_files: KeyFiles,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AuthProcess]:
    """A body limit of 1 MiB: 100,000 levels of nesting reach the JSON decoder."""
    settings = service_settings(
        database_url=database_url, redis_url=redis_url, key_file=key_files.current
    )
    settings["CHAT_AUTH_MAX_BODY_BYTES"] = str(1 << 20)
    service = AuthProcess(settings, tmp_path_factory.mktemp("roomy") / "auth.log")
    yield service
    service.stop()


@pytest.fixture
async def roomy(roomy_service: AuthProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=roomy_service.url, headers={"X-Forwarded-For": client_ip()}, timeout=30.0
    ) as client:
        yield client


def _is_a_clear_refusal(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message"}
    assert says in body["message"]
    assert "Traceback" not in response.text
    assert "RecursionError" not in response.text


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize(("shape", "says"), SHAPES)
@pytest.mark.parametrize("path", JSON_ENDPOINTS)
async def test_deeply_nested_json_is_refused_with_422(
    roomy: httpx.AsyncClient,
    path: str,
    shape: Callable[[int], bytes],
    says: str,
    depth: int,
) -> None:
    response = await roomy.post(path, content=shape(depth), headers=JSON)
    _is_a_clear_refusal(response, 422, says)
    assert response.json()["code"] == "bad_request"


async def test_deep_nesting_is_refused_by_size_first_under_the_default_limit(
    client: httpx.AsyncClient,
) -> None:
    # 100,000 levels take 100 KB at least: more than the 16 KiB any request may have.
    deep = await client.post("/v1/users", content=_arrays_at_the_top(100_000), headers=JSON)
    _is_a_clear_refusal(deep, 413, "larger than 16384 bytes")
    shallow = await client.post(
        "/v1/token", content=_objects_in_an_unknown_field(1_000), headers=JSON
    )
    _is_a_clear_refusal(shallow, 422, "nested too deeply")


async def test_a_bearer_token_with_a_deeply_nested_header_is_refused_with_401(
    client: httpx.AsyncClient,
) -> None:
    header = base64.urlsafe_b64encode(b'{"a":' * 1_000 + b"1" + b"}" * 1_000).rstrip(b"=")
    token = header.decode() + ".e30.c2ln"
    response = await client.post(
        "/v1/logout", json={"all": True}, headers={"Authorization": f"Bearer {token}"}
    )
    _is_a_clear_refusal(response, 401, "not a well-formed JWT")


async def test_form_bodies_are_flat_bounded_and_utf8(client: httpx.AsyncClient) -> None:
    # Form fields cannot nest: a bracketed name is one long field name, and not one we know.
    bracketed = b"username" + b"[a]" * 3_000 + b"=x&password=y&grant_type=password"
    response = await client.post("/v1/token", content=bracketed, headers=FORM)
    _is_a_clear_refusal(response, 422, "missing required field `username`")
    latin1 = await client.post(
        "/v1/token",
        content="grant_type=password&username=\xe9&password=x".encode("latin-1"),
        headers=FORM,
    )
    _is_a_clear_refusal(latin1, 422, "not UTF-8")
    large = await client.post("/v1/token", content=b"a=" + b"x" * 20_000, headers=FORM)
    _is_a_clear_refusal(large, 413, "larger than 16384 bytes")


async def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"username": "'
        for _ in range(40):
            yield b"x" * 1_000

    response = await client.post("/v1/token", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    _is_a_clear_refusal(response, 413, "larger than 16384 bytes")
