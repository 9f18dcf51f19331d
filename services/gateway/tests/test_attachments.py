"""Attachments end to end against a real SeaweedFS, Postgres, Redis and Kafka: an upload URL,
the PUT straight to the store, a send that checks and claims the file, the other member's
live message, history and catch-up, the download URL, the media step's internal route; and
every refusal, with nothing stored."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from chat_common.object_store import content_disposition, open_object_store
from chat_gateway.attachments import original_key
from gateway_harness import ChatClient, ChatSystem, FileGateways

pytestmark = pytest.mark.asyncio(loop_scope="session")

Message = dict[str, Any]
# A 1x1 PNG, as a browser would upload it.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
NOTES = b"Minutes of Tuesday: nothing was decided.\n"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _room() -> str:
    return f"files-{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture(loop_scope="session")
async def people(system: ChatSystem) -> AsyncIterator[dict[str, tuple[str, str]]]:
    """Ada and Bob (id, token), new for each test."""
    yield {"ada": await system.user("ada"), "bob": await system.user("bob")}


async def _joined(system: ChatSystem, gateway: Any, token: str, room: str) -> ChatClient:
    client = await system.client(gateway, token)
    await client.request("join", room=room)
    return client


async def _send(
    client: ChatClient, room: str, cmid: str, *upload_ids: str, **fields: Any
) -> dict[str, Any]:
    """The reply or error frame of a send attaching ``upload_ids``."""
    attached = [{"upload_id": upload_id} for upload_id in upload_ids]
    return await client.command(
        "send", room=room, client_msg_id=cmid, attachments=attached, **fields
    )


async def _download(
    system: ChatSystem, gateway: Any, token: str, room: str, upload_id: str, **query: str
) -> httpx.Response:
    return await system.http(
        "GET", f"/v1/rooms/{room}/attachments/{upload_id}", token, gateway=gateway, params=query
    )


async def _fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10.0) as http:
        return await http.get(url)


async def _produced(gateways: FileGateways, room: str, count: int) -> list[Message]:
    """The envelopes produced for ``room`` once there are ``count``, and a moment later, so
    that one more would have shown."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while len(gateways.log.of(room)) < count:
        assert loop.time() < deadline, f"{gateways.log.of(room)} in Kafka"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    return gateways.log.of(room)


async def _upload_row(database: asyncpg.Connection, upload_id: str) -> asyncpg.Record:
    row = await database.fetchrow("SELECT * FROM uploads WHERE id = $1", uuid.UUID(upload_id))
    assert row is not None
    return row


async def test_a_file_sent_reaches_the_other_member_who_downloads_it(
    system: ChatSystem,
    file_gateways: FileGateways,
    people: dict[str, tuple[str, str]],
    database: asyncpg.Connection,
) -> None:
    first, second = file_gateways.gateways
    room, (_, ada), (_, bob) = _room(), people["ada"], people["bob"]
    sender, receiver = (
        await _joined(system, first, ada, room),
        await _joined(system, second, bob, room),
    )
    try:
        name = "minutes \u2013 Tuesday \u00e9t\u00e9.txt"
        upload_id = await system.upload(first, ada, room, NOTES, name=name)
        reply = await _send(sender, room, "m1", upload_id)
        assert reply["type"] == "reply", reply
        message = reply["message"]
        assert message["v"] == 2
        assert "body" not in message
        assert message["attachments"] == [
            {
                "id": upload_id,
                "name": name,
                "type": "text/plain",
                "size": len(NOTES),
                "image": False,
            }
        ]
        await receiver.wait_for(lambda c: len(c.messages(room)) == 1)
        assert receiver.messages(room) == [message]

        got = await _download(system, second, bob, room, upload_id)
        assert got.status_code == 200, got.text
        fetched = await _fetch(got.json()["url"])
        assert fetched.status_code == 200
        assert fetched.content == NOTES
        assert fetched.headers["content-disposition"] == content_disposition(name)
        assert fetched.headers["content-disposition"].startswith("attachment;")

        history = await receiver.request("history", room=room)
        assert history["messages"][0]["attachments"] == message["attachments"]
        page = await system.http("GET", f"/v1/rooms/{room}/messages", bob, gateway=first)
        assert page.json()["messages"][0]["attachments"] == message["attachments"]
        again = await system.client(first, bob)
        try:
            caught_up = await again.request("join", room=room, since=0)
            assert caught_up["messages"] == [message]
        finally:
            await again.close()

        row = await _upload_row(database, upload_id)
        assert (row["client_msg_id"], row["type"], row["image"]) == ("m1", "text/plain", False)
        assert row["claimed_at"] is not None
    finally:
        await sender.close()
        await receiver.close()


async def test_an_image_is_previewed_and_its_original_handed_out_once_processed(
    system: ChatSystem,
    file_gateways: FileGateways,
    people: dict[str, tuple[str, str]],
    database: asyncpg.Connection,
) -> None:
    gateway = file_gateways.gateways[0]
    room, (_, ada) = _room(), people["ada"]
    client = await _joined(system, gateway, ada, room)
    try:
        upload_id = await system.upload(
            gateway, ada, room, PNG, name="dot.png", content_type="image/png"
        )
        reply = await _send(client, room, "img", upload_id, body="look")
        assert reply["type"] == "reply", reply
        assert reply["message"]["body"] == "look"
        assert reply["message"]["attachments"][0]["image"] is True
        assert reply["message"]["attachments"][0]["type"] == "image/png"

        early = await _download(system, gateway, ada, room, upload_id)
        assert early.status_code == 409
        assert early.json()["code"] == "not_ready"
        no_thumbnail = await _download(system, gateway, ada, room, upload_id, variant="thumbnail")
        assert no_thumbnail.status_code == 404
        bad_variant = await _download(system, gateway, ada, room, upload_id, variant="huge")
        assert bad_variant.status_code == 422

        # What the media step records once the image's metadata is gone.
        await database.execute(
            "UPDATE uploads SET processed_at = now() WHERE id = $1", uuid.UUID(upload_id)
        )
        ready = await _download(system, gateway, ada, room, upload_id)
        assert ready.status_code == 200, ready.text
        fetched = await _fetch(ready.json()["url"])
        assert fetched.content == PNG
        assert fetched.headers["content-type"] == "image/png"
        assert fetched.headers["content-disposition"] == content_disposition("dot.png", inline=True)
    finally:
        await client.close()


async def test_a_stranger_can_neither_upload_to_nor_download_from_a_private_room(
    system: ChatSystem, file_gateways: FileGateways, people: dict[str, tuple[str, str]]
) -> None:
    gateway = file_gateways.gateways[0]
    room, (_, ada), (_, stranger) = _room(), people["ada"], people["bob"]
    made = await system.http(
        "POST", "/v1/rooms", ada, {"name": room, "kind": "private"}, gateway=gateway
    )
    assert made.status_code == 201, made.text
    owner = await _joined(system, gateway, ada, room)
    try:
        upload_id = await system.upload(gateway, ada, room, NOTES)
        assert (await _send(owner, room, "secret", upload_id))["type"] == "reply"
        refused = await system.http(
            "POST",
            f"/v1/rooms/{room}/uploads",
            stranger,
            {"name": "x.txt", "type": "text/plain", "size": 3},
            gateway=gateway,
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
        download = await _download(system, gateway, stranger, room, upload_id)
        assert download.status_code == 403
        assert "url" not in download.json()
        unknown = await _download(system, gateway, ada, room, UNKNOWN)
        assert unknown.status_code == 404
    finally:
        await owner.close()

    # Someone else's upload cannot be attached, nor one made for another room.
    public = _room()
    intruder = await _joined(system, gateway, stranger, public)
    mine = await _joined(system, gateway, ada, public)
    try:
        adas = await system.upload(gateway, ada, public, NOTES)
        taken = await _send(intruder, public, "theft", adas)
        assert (taken["type"], taken["code"]) == ("error", "bad_request")
        assert f"no upload {adas} of yours in room {public}" in taken["message"]
        moved = await _send(mine, public, "moved", upload_id)
        assert f"no upload {upload_id} of yours in room {public}" in moved["message"]
    finally:
        await intruder.close()
        await mine.close()


async def test_an_oversized_file_is_refused_at_the_route_and_by_the_store(
    system: ChatSystem,
    file_gateways: FileGateways,
    people: dict[str, tuple[str, str]],
    database: asyncpg.Connection,
) -> None:
    gateway = file_gateways.gateways[0]
    room, (ada_id, ada) = _room(), people["ada"]
    client = await _joined(system, gateway, ada, room)
    try:
        big = await system.http(
            "POST",
            f"/v1/rooms/{room}/uploads",
            ada,
            {"name": "film.mp4", "type": "video/mp4", "size": 25 * 1024 * 1024 + 1},
            gateway=gateway,
        )
        assert big.status_code == 413
        assert big.json() == {
            "code": "too_large",
            "message": f"a file may be at most {25 * 1024 * 1024} bytes; this one is 26214401",
        }
        assert (
            await database.fetchval("SELECT count(*) FROM uploads WHERE user_id = $1", ada_id) == 0
        )

        asked = await system.http(
            "POST",
            f"/v1/rooms/{room}/uploads",
            ada,
            {"name": "notes.txt", "type": "text/plain", "size": len(NOTES)},
            gateway=gateway,
        )
        upload = asked.json()
        async with httpx.AsyncClient(timeout=10.0) as http:
            bigger = await http.put(upload["url"], content=NOTES + b"!", headers=upload["headers"])
            other_type = await http.put(
                upload["url"], content=NOTES, headers={"Content-Type": "text/html"}
            )
        assert (bigger.status_code, other_type.status_code) == (403, 403)
        refused = await _send(client, room, "big", upload["upload"]["id"])
        assert refused["code"] == "bad_request"
        assert "'notes.txt' has not been uploaded yet" in refused["message"]
    finally:
        await client.close()


async def test_files_whose_content_is_not_their_type_are_refused_and_nothing_is_stored(
    system: ChatSystem,
    file_gateways: FileGateways,
    people: dict[str, tuple[str, str]],
    database: asyncpg.Connection,
) -> None:
    gateway = file_gateways.gateways[1]
    room, (_, ada) = _room(), people["ada"]
    client = await _joined(system, gateway, ada, room)
    try:
        cases = [
            (
                HTML,
                "cat.png",
                "image/png",
                "declared as image/png, but is not a PNG image (text/html)",
            ),
            (SVG, "logo.png", "image/png", "but is not a PNG image (image/svg+xml)"),
            (SVG, "logo.webp", "image/webp", "but is not a WebP image (image/svg+xml)"),
            (HTML, "page.txt", "text/plain", "is HTML (text/html), but was declared as text/plain"),
            (PNG, "dot.gif", "image/gif", "is a PNG image, but was declared as image/gif"),
        ]
        refused_ids = []
        for data, name, declared, problem in cases:
            upload_id = await system.upload(
                gateway, ada, room, data, name=name, content_type=declared
            )
            refused_ids.append(upload_id)
            refused = await _send(client, room, f"bad-{name}", upload_id)
            assert (refused["type"], refused["code"]) == ("error", "bad_request")
            assert refused["message"].startswith(f"the file {name!r}")
            assert problem in refused["message"]
        # Refused with a good file alongside: none of them is claimed either.
        good = await system.upload(gateway, ada, room, NOTES)
        mixed = await _send(client, room, "mixed", good, refused_ids[0])
        assert mixed["code"] == "bad_request"
        claimed = await database.fetchval(
            "SELECT count(*) FROM uploads WHERE id = ANY($1::uuid[]) AND client_msg_id IS NOT NULL",
            [*refused_ids, good],
        )
        assert claimed == 0
        # Nothing was numbered or produced: the next message is the room's first.
        sent = await client.request("send", room=room, body="plain words", client_msg_id="ok")
        assert sent["message"]["seq"] == 1
        assert [e["client_msg_id"] for e in await _produced(file_gateways, room, 1)] == ["ok"]

        # An SVG declared as what it is goes through, as a file that is never shown inline.
        svg = await system.upload(
            gateway, ada, room, SVG, name="logo.svg", content_type="image/svg+xml"
        )
        reply = await _send(client, room, "svg", svg)
        assert reply["message"]["attachments"][0]["type"] == "image/svg+xml"
        assert reply["message"]["attachments"][0]["image"] is False
        got = await _download(system, gateway, ada, room, svg)
        fetched = await _fetch(got.json()["url"])
        assert fetched.headers["content-disposition"].startswith("attachment;")
    finally:
        await client.close()


async def test_a_file_never_uploaded_is_refused_and_the_send_succeeds_once_it_is(
    system: ChatSystem, file_gateways: FileGateways, people: dict[str, tuple[str, str]]
) -> None:
    gateway = file_gateways.gateways[0]
    room, (_, ada) = _room(), people["ada"]
    client = await _joined(system, gateway, ada, room)
    try:
        asked = await system.http(
            "POST",
            f"/v1/rooms/{room}/uploads",
            ada,
            {"name": "later.txt", "type": "text/plain", "size": len(NOTES)},
            gateway=gateway,
        )
        assert asked.status_code == 201, asked.text
        upload = asked.json()
        assert upload["method"] == "PUT"
        assert upload["headers"] == {"Content-Type": "text/plain"}
        assert upload["upload"] == {
            "id": upload["upload"]["id"],
            "name": "later.txt",
            "type": "text/plain",
            "size": len(NOTES),
        }
        upload_id = upload["upload"]["id"]
        early = await _send(client, room, "later", upload_id)
        assert early["code"] == "bad_request"
        assert "'later.txt' has not been uploaded yet" in early["message"]
        unknown = await _send(client, room, "ghost", UNKNOWN)
        assert f"no upload {UNKNOWN} of yours" in unknown["message"]

        async with httpx.AsyncClient(timeout=10.0) as http:
            put = await http.put(upload["url"], content=NOTES, headers=upload["headers"])
        assert put.status_code == 200
        # The refused send is retried with its client_msg_id, as a client retries.
        sent = await _send(client, room, "later", upload_id)
        assert sent["type"] == "reply", sent
        assert sent["message"]["attachments"][0]["id"] == upload_id
    finally:
        await client.close()


async def test_an_upload_goes_on_one_message_and_a_resend_gets_that_message_back(
    system: ChatSystem,
    file_gateways: FileGateways,
    people: dict[str, tuple[str, str]],
    database: asyncpg.Connection,
) -> None:
    first, second = file_gateways.gateways
    room, (_, ada) = _room(), people["ada"]
    client = await _joined(system, first, ada, room)
    elsewhere = await _joined(system, second, ada, room)
    try:
        upload_id = await system.upload(first, ada, room, NOTES)
        sent = await _send(client, room, "once", upload_id, body="the minutes")
        assert sent["type"] == "reply", sent
        # The media step rewrites an original (its metadata gone): a resend must not look at
        # the file again, or it would be refused for the new size instead of answered.
        async with open_object_store(file_gateways.store) as store:
            await store.put(original_key(upload_id), b"rewritten", content_type="text/plain")
        # The same send again, on the other gateway: the first result, nothing new.
        again = await _send(elsewhere, room, "once", upload_id, body="the minutes")
        assert again["message"] == sent["message"]
        other = await _send(client, room, "twice", upload_id)
        assert other["code"] == "bad_request"
        assert "'notes.txt' is attached to another message" in other["message"]
        after = await client.request("send", room=room, body="after", client_msg_id="after")
        assert after["message"]["seq"] == sent["message"]["seq"] + 1

        produced = await _produced(file_gateways, room, 2)
        assert [envelope["client_msg_id"] for envelope in produced] == ["once", "after"]
        assert produced[0]["attachments"] == sent["message"]["attachments"]
        row = await _upload_row(database, upload_id)
        assert row["client_msg_id"] == "once"
    finally:
        await client.close()
        await elsewhere.close()


async def test_a_person_may_start_so_many_uploads_an_hour(
    system: ChatSystem,
    file_gateways: FileGateways,
    people: dict[str, tuple[str, str]],
    database: asyncpg.Connection,
) -> None:
    gateway = file_gateways.gateways[0]
    room, (ada_id, ada), (_, bob) = _room(), people["ada"], people["bob"]
    await (await _joined(system, gateway, ada, room)).close()
    ask = {"name": "n.txt", "type": "text/plain", "size": 1}
    path = f"/v1/rooms/{room}/uploads"
    async with httpx.AsyncClient(base_url=system.http_url(gateway)) as http:
        headers = {"Authorization": f"Bearer {ada}"}
        statuses = [
            (await http.post(path, json=ask, headers=headers)).status_code for _ in range(60)
        ]
        assert statuses == [201] * 60
        limited = await http.post(path, json=ask, headers=headers)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3600
    assert await database.fetchval("SELECT count(*) FROM uploads WHERE user_id = $1", ada_id) == 60
    # The allowance is a person's own.
    others = await system.http("POST", path, bob, ask, gateway=gateway)
    assert others.status_code == 201


async def test_the_media_step_updates_a_message_s_files_once_for_every_member_and_history(
    system: ChatSystem, file_gateways: FileGateways, people: dict[str, tuple[str, str]]
) -> None:
    first, second = file_gateways.gateways
    room, (ada_id, ada), (_, bob) = _room(), people["ada"], people["bob"]
    sender, receiver = (
        await _joined(system, first, ada, room),
        await _joined(system, second, bob, room),
    )
    try:
        upload_id = await system.upload(
            first, ada, room, PNG, name="dot.png", content_type="image/png"
        )
        message = (await _send(sender, room, "photo", upload_id))["message"]
        processed = {**message["attachments"][0], "width": 1, "height": 1, "thumbnail": True}
        path = f"/internal/v1/rooms/{room}/messages/{message['id']}/attachments"
        update = {"attachments": [processed]}

        async def internal(gateway: Any, token: str | None, body: Any = update) -> httpx.Response:
            return await system.http("POST", path, token, body, gateway=gateway)

        assert (await internal(first, None)).status_code == 401
        assert (await internal(first, "not-the-token-at-all")).status_code == 401
        # A gateway with no internal token configured has no such route.
        assert (await internal(system.gateways[0], file_gateways.internal_token)).status_code == 404
        made = await internal(first, file_gateways.internal_token)
        assert made.status_code == 200, made.text
        event = made.json()["message"]
        assert event["kind"] == "attachment"
        assert (event["v"], event["target"], event["seq"]) == (2, message["id"], message["seq"] + 1)
        assert event["user"] == message["user"]
        assert event["user"]["id"] == ada_id
        assert event["attachments"] == [processed]
        again = await internal(second, file_gateways.internal_token)
        assert again.json()["message"] == event

        await receiver.wait_for(lambda c: len(c.messages(room)) == 2)
        assert receiver.messages(room) == [message, event]
        history = await receiver.request("history", room=room)
        assert history["messages"][0]["attachments"] == [processed]
        assert history["messages"][0]["updated_seq"] == event["seq"]
        page = await system.http("GET", f"/v1/rooms/{room}/messages", bob, gateway=second)
        assert page.json()["messages"][0]["attachments"] == [processed]
        thumbnail = await _download(system, second, bob, room, upload_id, variant="thumbnail")
        assert thumbnail.status_code == 200, thumbnail.text
        assert (
            "thumbnails%2F" in thumbnail.json()["url"] or "/thumbnails/" in thumbnail.json()["url"]
        )

        stranger_id = {**processed, "id": UNKNOWN}
        wrong = await internal(first, file_gateways.internal_token, {"attachments": [stranger_id]})
        assert wrong.status_code == 422
        unknown_path = f"/internal/v1/rooms/{room}/messages/{UNKNOWN}/attachments"
        unknown = await system.http(
            "POST", unknown_path, file_gateways.internal_token, update, gateway=first
        )
        assert unknown.status_code == 404

        deleted = await sender.request(
            "delete", room=room, message_id=message["id"], client_msg_id="gone"
        )
        assert deleted["message"]["kind"] == "delete"
        late = {"attachments": [{**processed, "width": 2}]}
        assert (await internal(first, file_gateways.internal_token, late)).status_code == 404
        shown = (await receiver.request("history", room=room))["messages"][0]
        assert shown["deleted"] is True
        assert "attachments" not in shown
        assert (await _download(system, second, bob, room, upload_id)).status_code == 404
    finally:
        await sender.close()
        await receiver.close()


async def test_a_send_names_its_files_plainly_before_anything_is_looked_up(
    system: ChatSystem, file_gateways: FileGateways, people: dict[str, tuple[str, str]]
) -> None:
    gateway = file_gateways.gateways[0]
    room, (_, ada) = _room(), people["ada"]
    client = await _joined(system, gateway, ada, room)
    try:
        nothing = await client.command("send", room=room, client_msg_id="a")
        assert (nothing["code"], nothing["message"]) == ("bad_request", "body must not be empty")
        empty = await _send(client, room, "b")
        assert empty["message"] == "attachments must name at least one upload"
        twice = await _send(client, room, "c", UNKNOWN, UNKNOWN)
        assert twice["message"] == "an upload is attached twice"
        many = await _send(client, room, "d", *(str(uuid.uuid4()) for _ in range(11)))
        assert (many["code"], many["message"]) == (
            "too_large",
            "a message carries at most 10 files",
        )
        malformed = await _send(client, room, "e", "not-a-uuid")
        assert malformed["code"] == "bad_request"
    finally:
        await client.close()


async def test_a_gateway_without_an_object_store_takes_no_attachments(
    system: ChatSystem, people: dict[str, tuple[str, str]]
) -> None:
    gateway = system.gateways[0]
    room, (_, ada) = _room(), people["ada"]
    client = await _joined(system, gateway, ada, room)
    try:
        asked = await system.http(
            "POST",
            f"/v1/rooms/{room}/uploads",
            ada,
            {"name": "n.txt", "type": "text/plain", "size": 1},
            gateway=gateway,
        )
        assert asked.status_code == 404
        assert asked.json()["message"] == "this server does not take attachments"
        refused = await _send(client, room, "x", UNKNOWN)
        assert (refused["code"], refused["message"]) == (
            "bad_request",
            "this server does not take attachments",
        )
        download = await _download(system, gateway, ada, room, UNKNOWN)
        assert download.status_code == 404
    finally:
        await client.close()


async def test_a_stored_message_s_file_is_found_through_its_upload_row(
    system: ChatSystem,
    file_gateways: FileGateways,
    people: dict[str, tuple[str, str]],
    database: asyncpg.Connection,
) -> None:
    gateway = file_gateways.gateways[0]
    room, (_, ada) = _room(), people["ada"]
    client = await _joined(system, gateway, ada, room)
    try:
        upload_id = await system.upload(gateway, ada, room, NOTES)
        message = (await _send(client, room, "kept", upload_id))["message"]
    finally:
        await client.close()
    # What the persistence worker does when it stores the message: its row with the files, the
    # upload naming it. Then the recent window lapses, as it does a day later.
    await database.execute(
        "INSERT INTO messages (id, room, seq, user_id, user_name, client_msg_id, created_at,"
        " kind, attachments) VALUES ($1, $2, $3, $4, $5, $6, now(), 'message', $7::jsonb)",
        uuid.UUID(message["id"]),
        room,
        message["seq"],
        message["user"]["id"],
        message["user"]["name"],
        "kept",
        json.dumps(message["attachments"]),
    )
    await database.execute(
        "UPDATE uploads SET message_id = $1 WHERE id = $2",
        uuid.UUID(message["id"]),
        uuid.UUID(upload_id),
    )
    redis = Redis.from_url(system.redis_url)
    try:
        await redis.delete(f"recent:{room}")
    finally:
        await redis.aclose()
    found = await _download(system, gateway, ada, room, upload_id)
    assert found.status_code == 200, found.text
    assert (await _fetch(found.json()["url"])).content == NOTES
    await database.execute(
        "UPDATE messages SET deleted_at = now(), deleted_by = $1 WHERE id = $2",
        message["user"]["id"],
        uuid.UUID(message["id"]),
    )
    assert (await _download(system, gateway, ada, room, upload_id)).status_code == 404
