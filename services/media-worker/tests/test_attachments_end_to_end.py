"""Attachments end to end, every service a process of its own: two gateways wired to the object
store (SeaweedFS), the auth service, the persistence worker and the media worker on a topic and
database of the test's own, and Redis. A photo with GPS EXIF is uploaded and sent; the other
member gets its `attachment` event once the media worker has cleaned it and made its
thumbnail, and downloads both with no EXIF left; a stranger is refused; deleting the message
removes its files."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image

from chat_common.object_store import ObjectStore, ObjectStoreSettings
from chat_testing.media import (
    TOKEN,
    MediaWorkerProcess,
    Topic,
    exif_of,
    jpeg_with_gps,
    metadata_left,
)
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, python_module, redis_server
from gateway_harness import ORIGIN, ChatClient, ChatSystem, auth_service, files_gateway

# A guard against hanging, not a speed requirement.
WAIT_S = 90.0


@dataclass
class Deployment:
    system: ChatSystem
    gateways: tuple[ServiceProcess, ServiceProcess]
    media: MediaWorkerProcess


@pytest.fixture
async def deployment(
    topic: Topic,
    media_database_url: str,
    object_store_settings: ObjectStoreSettings,
    tmp_path: Path,
) -> AsyncIterator[Deployment]:
    """The whole path of a file, on the session's own database (users, rooms, messages and
    uploads of no other suite) and the test's own topic."""
    database_url = media_database_url
    kafka = topic.bootstrap
    redis_port = free_port()
    redis = redis_server(redis_port, tmp_path)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    auth_port = free_port()
    auth = auth_service(tmp_path, auth_port, database_url, redis_url)
    persistence_group = f"test-persistence-{topic.name}"
    worker_port = free_port()
    worker = ServiceProcess(
        "persistence-worker",
        python_module("chat_worker"),
        {
            "CHAT_WORKER_KAFKA_BOOTSTRAP": kafka,
            "CHAT_WORKER_TOPIC": topic.name,
            "CHAT_WORKER_DLQ_TOPIC": f"{topic.name}.dlq",
            "CHAT_WORKER_GROUP_ID": persistence_group,
            "CHAT_WORKER_DATABASE_URL": database_url,
            "CHAT_WORKER_METRICS_PORT": str(worker_port),
        },
        tmp_path,
        ready_url=f"http://127.0.0.1:{worker_port}/readyz",
    )
    system = ChatSystem(
        topic=topic.name,
        group=persistence_group,
        kafka=kafka,
        database_url=database_url,
        redis_url=redis_url,
        auth_url=f"http://127.0.0.1:{auth_port}",
        log_dir=tmp_path,
        redis=redis,
        auth=auth,
        worker=worker,
    )
    system.gateway_env = {
        "CHAT_GATEWAY_REDIS_URL": redis_url,
        "CHAT_GATEWAY_KAFKA_BOOTSTRAP": kafka,
        "CHAT_GATEWAY_DATABASE_URL": database_url,
        "CHAT_GATEWAY_KAFKA_TOPIC": topic.name,
        "CHAT_GATEWAY_PERSISTENCE_GROUP": persistence_group,
        "CHAT_GATEWAY_JWKS_URL": f"{system.auth_url}/.well-known/jwks.json",
        "CHAT_GATEWAY_ALLOWED_ORIGINS": ORIGIN,
    }
    gateways = (
        files_gateway(system, "gateway-a", object_store_settings, internal_token=TOKEN),
        files_gateway(system, "gateway-b", object_store_settings, internal_token=TOKEN),
    )
    system.gateways = list(gateways)
    media = MediaWorkerProcess(
        tmp_path,
        object_store_settings,
        {
            "kafka_bootstrap": kafka,
            "topic": topic.name,
            "group_id": topic.group(),
            "database_url": database_url,
            "gateway_url": system.http_url(gateways[0]),
            "internal_token": TOKEN,
            "retry_initial_ms": "100",
            "retry_max_ms": "500",
        },
    )
    processes: list[ServiceProcess] = [redis, auth, worker, *gateways]
    started: list[ServiceProcess] = []
    try:
        for process in processes:
            await process.start()
            started.append(process)
        await media.start()
        yield Deployment(system, gateways, media)
    finally:
        await media.stop()
        for process in reversed(started):
            await process.stop()
        # pytest shows this only when the test failed.
        for process in [*processes, media.process]:
            print(f"--- {process.log_path.name}\n{_tail(process.log_path)}")


def _tail(log: Path, lines: int = 60) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what}: not within {WAIT_S:.0f}s")
        await asyncio.sleep(0.2)


async def download(
    system: ChatSystem, gateway: ServiceProcess, token: str, room: str, upload_id: str, **query: str
) -> httpx.Response:
    return await system.http(
        "GET", f"/v1/rooms/{room}/attachments/{upload_id}", token, gateway=gateway, params=query
    )


async def fetched(system: ChatSystem, gateway: ServiceProcess, token: str, room: str,
                  upload_id: str, **query: str) -> bytes:  # fmt: skip
    """The bytes behind the presigned URL a member is handed."""
    handed = await download(system, gateway, token, room, upload_id, **query)
    assert handed.status_code == 200, handed.text
    async with httpx.AsyncClient(timeout=10.0) as http:
        reply = await http.get(handed.json()["url"])
    assert reply.status_code == 200, reply.text
    return reply.content


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_a_photo_is_cleaned_announced_downloaded_and_deleted_with_its_message(
    deployment: Deployment, database: asyncpg.Pool, store: ObjectStore
) -> None:
    system = deployment.system
    first, second = deployment.gateways
    ada_id, ada = await system.user("ada")
    bob_id, bob = await system.user("bob")
    _, carol = await system.user("carol")
    room = f"photos-{uuid.uuid4().hex[:10]}"
    made = await system.http("POST", "/v1/rooms", ada, {"name": room, "kind": "private"})
    assert made.status_code == 201, made.text
    added = await system.http("POST", f"/v1/rooms/{room}/members", ada, {"user_id": bob_id})
    assert added.status_code in (200, 201), added.text
    sender = await system.client(first, ada)
    receiver: ChatClient | None = None
    try:
        await sender.request("join", room=room)
        receiver = await system.client(second, bob)
        await receiver.request("join", room=room)

        photo = jpeg_with_gps(1200, 600, orientation=6)
        upload_id = await system.upload(
            first, ada, room, photo, name="beach.jpg", content_type="image/jpeg"
        )
        reply = await sender.request(
            "send",
            room=room,
            client_msg_id="beach",
            body="the beach",
            attachments=[{"upload_id": upload_id}],
        )
        message = reply["message"]
        assert message["attachments"][0]["image"] is True

        def announced(client: ChatClient) -> list[dict[str, Any]]:
            return [m for m in client.messages(room) if m.get("kind") == "attachment"]

        await receiver.wait_for(lambda c: len(announced(c)) == 1, limit_s=WAIT_S)
        [event] = announced(receiver)
        assert (event["target"], event["user"]["id"]) == (message["id"], ada_id)
        [attachment] = event["attachments"]
        assert attachment["id"] == upload_id
        assert (attachment["width"], attachment["height"]) == (600, 1200)
        assert attachment["thumbnail"] is True
        assert attachment["image"] is True

        original = await fetched(system, second, bob, room, upload_id)
        assert metadata_left(original) == []
        assert exif_of(original) == {}
        assert opened(original).size == (600, 1200)
        assert len(original) == attachment["size"]
        thumbnail = await fetched(system, second, bob, room, upload_id, variant="thumbnail")
        assert opened(thumbnail).format == "WEBP"
        assert max(opened(thumbnail).size) <= 480
        assert metadata_left(thumbnail) == []
        assert exif_of(thumbnail) == {}

        refused = await download(system, first, carol, room, upload_id)
        assert refused.status_code == 403
        assert "url" not in refused.json()

        await sender.request("delete", room=room, message_id=message["id"], client_msg_id="del")

        async def files_gone() -> bool:
            return (
                await store.head(f"originals/{upload_id}") is None
                and await store.head(f"thumbnails/{upload_id}.webp") is None
                and await database.fetchval(
                    "SELECT deleted_at FROM uploads WHERE id = $1", uuid.UUID(upload_id)
                )
                is not None
            )

        await eventually(files_gone, "the deleted message's original and thumbnail removed")
        gone = await download(system, second, bob, room, upload_id)
        assert gone.status_code == 404
    finally:
        await sender.close()
        if receiver is not None:
            await receiver.close()
