"""The client of the gateways' internal route against a real HTTP server that records what it
is sent (chat_testing.media.RecordingGateway): the body and token it sends, what it retries and
what it gives up on."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from chat_common.envelope import Attachment
from chat_media.gateway_client import GatewayClient, Outcome
from chat_testing.media import RecordingGateway

TOKEN = "internal-token-for-tests"
MESSAGE = "0f7c5c8e-8f60-4c1e-9a51-0b9d9c1a2b3c"
ATTACHMENTS = (
    Attachment(
        id="5b0f0b7e-36c4-4f43-a0b1-56a3c7f7d0a1",
        name="beach.jpg",
        type="image/jpeg",
        size=81234,
        image=True,
        width=600,
        height=1200,
        thumbnail=True,
    ),
    Attachment(
        id="a3a4bd3c-8e1a-4d6c-b5a3-5f0e7a9b1c2d",
        name="broken.png",
        type="image/png",
        size=3000,
        image=False,
    ),
)
EXPECTED_BODY = {
    "attachments": [
        {
            "id": "5b0f0b7e-36c4-4f43-a0b1-56a3c7f7d0a1",
            "name": "beach.jpg",
            "type": "image/jpeg",
            "size": 81234,
            "image": True,
            "width": 600,
            "height": 1200,
            "thumbnail": True,
        },
        {
            "id": "a3a4bd3c-8e1a-4d6c-b5a3-5f0e7a9b1c2d",
            "name": "broken.png",
            "type": "image/png",
            "size": 3000,
            "image": False,
        },
    ]
}


@pytest.fixture
async def gateway() -> AsyncIterator[RecordingGateway]:
    async with RecordingGateway().serving() as serving:
        yield serving


def client(url: str) -> tuple[GatewayClient, Counter, httpx.AsyncClient]:
    retries = Counter("retries", "retries", registry=CollectorRegistry())
    http = httpx.AsyncClient(base_url=url, timeout=2.0)
    return GatewayClient(http, TOKEN, retries), retries, http


async def announce(
    gateway_client: GatewayClient, stop: asyncio.Event | None = None, room: str = "lobby"
) -> Outcome:
    return await gateway_client.announce(
        room, MESSAGE, ATTACHMENTS, itertools.repeat(0.02), stop or asyncio.Event()
    )


async def retried(retries: Counter, times: int) -> None:
    """Until the client has retried ``times``; a client that gave up fails the test."""
    async with asyncio.timeout(30):
        while retries._value.get() < times:
            await asyncio.sleep(0.02)


async def test_the_event_is_asked_for_with_the_token_and_the_attachments(
    gateway: RecordingGateway,
) -> None:
    gateway_client, _, http = client(gateway.url)
    async with http:
        assert await announce(gateway_client, room="dm:ann:bob") == Outcome.ANNOUNCED
    [call] = gateway.calls
    assert call.path == f"/internal/v1/rooms/dm:ann:bob/messages/{MESSAGE}/attachments"
    assert call.authorization == f"Bearer {TOKEN}"
    assert call.body == EXPECTED_BODY


async def test_unavailable_answers_are_retried_until_the_event_is_durable(
    gateway: RecordingGateway,
) -> None:
    gateway.answers = [503, 503, 502]
    gateway_client, retries, http = client(gateway.url)
    async with http:
        assert await announce(gateway_client) == Outcome.ANNOUNCED
    assert len(gateway.calls) == 4
    assert all(call.body == EXPECTED_BODY for call in gateway.calls)
    assert retries._value.get() == 3


async def test_a_gateway_not_listening_yet_is_waited_for() -> None:
    gateway = RecordingGateway()
    gateway_client, retries, http = client(gateway.url)
    async with http:
        announcing = asyncio.create_task(announce(gateway_client))
        await retried(retries, 2)
        async with gateway.serving():
            assert await announcing == Outcome.ANNOUNCED
    assert len(gateway.calls) == 1


async def test_a_deleted_message_is_gone_at_once(gateway: RecordingGateway) -> None:
    gateway.answers = [404]
    gateway_client, retries, http = client(gateway.url)
    async with http:
        assert await announce(gateway_client) == Outcome.GONE
    assert len(gateway.calls) == 1
    assert retries._value.get() == 0


async def test_a_refused_body_is_not_sent_again(gateway: RecordingGateway) -> None:
    gateway.answers = [422]
    gateway_client, _, http = client(gateway.url)
    async with http:
        assert await announce(gateway_client) == Outcome.REFUSED
    assert len(gateway.calls) == 1


async def test_stopping_ends_the_retries(gateway: RecordingGateway) -> None:
    gateway.then = 503
    gateway_client, retries, http = client(gateway.url)
    stop = asyncio.Event()
    async with http:
        announcing = asyncio.create_task(announce(gateway_client, stop))
        await retried(retries, 2)
        stop.set()
        assert await announcing == Outcome.STOPPED
