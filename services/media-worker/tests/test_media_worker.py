"""The media worker as a process against the real Kafka, Postgres and SeaweedFS, announcing to a
recording stand-in for the gateways' internal route: a message's images come out clean and
thumbnailed and are announced once durable; what cannot be decoded becomes a file; offsets are
committed only after the gateway answered; a record read again is not decoded again; a deleted
message's files, and only those, are removed."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from chat_common.object_store import ObjectStore
from chat_testing.media import (
    TOKEN,
    RecordingGateway,
    StartMediaWorker,
    StoredUpload,
    Topic,
    animated_gif,
    corrupt_jpeg,
    delete_of,
    exif_of,
    jpeg_with_gps,
    message_with,
    metadata_left,
    png_bomb,
    png_with_text,
    stored,
    uploaded,
    webp_with_exif,
)

# A guard against hanging, not a speed requirement.
WAIT_S = 90.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what}: not within {WAIT_S:.0f}s")
        await asyncio.sleep(0.1)


def room() -> str:
    return f"media-{uuid.uuid4().hex[:10]}"


async def metric(url: str, name: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(url)).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return 0.0


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_a_messages_images_are_cleaned_thumbnailed_and_announced_once_durable(
    start_media_worker: StartMediaWorker,
    topic: Topic,
    gateway: RecordingGateway,
    database: asyncpg.Pool,
    store: ObjectStore,
) -> None:
    here = room()
    photo = await uploaded(database, store, here, jpeg_with_gps(1200, 600), "image/jpeg")
    drawing = await uploaded(database, store, here, png_with_text(), "image/png")
    animation = await uploaded(database, store, here, animated_gif(), "image/gif")
    wide = await uploaded(database, store, here, webp_with_exif(2000, 1000), "image/webp")
    broken = await uploaded(database, store, here, corrupt_jpeg(), "image/jpeg")
    bomb = await uploaded(database, store, here, png_bomb(), "image/png")
    report = await uploaded(
        database, store, here, b"%PDF-1.7 a report", "application/pdf", image=False
    )
    message = message_with(here, photo, drawing, animation, wide, broken, bomb, report)
    await stored(database, message)
    # The gateway is unavailable for the first three calls.
    gateway.answers = [503, 503, 503]
    worker = await start_media_worker()
    group = topic.group()

    await topic.produce(message)

    await eventually(lambda: _at_least(gateway, 3), "three calls answered 503")
    # Not acknowledged yet: the record's offset is not committed.
    assert await topic.committed(group) is None
    await eventually(lambda: _at_least(gateway, 4), "the fourth call")

    end = await topic.end()

    async def committed() -> bool:
        return await topic.committed(group) == end

    await eventually(committed, "the offset committed after the event was acknowledged")
    assert len(gateway.calls) == 4
    call = gateway.calls[-1]
    assert all(earlier.body == call.body for earlier in gateway.calls)
    assert call.path == f"/internal/v1/rooms/{here}/messages/{message.id}/attachments"
    assert call.authorization == f"Bearer {TOKEN}"
    attachments = call.body["attachments"]
    assert isinstance(attachments, list)
    announced = {a["id"]: a for a in attachments}
    # The file is not an image: nothing of it changed, so it is not in the event.
    assert set(announced) == {
        u.attachment.id for u in (photo, drawing, animation, wide, broken, bomb)
    }

    for upload, (width, height) in [
        (photo, (600, 1200)),
        (drawing, (300, 200)),
        (animation, (64, 64)),
        (wide, (2000, 1000)),
    ]:
        original = await store.get(upload.original_key)
        thumbnail = await store.get(upload.thumbnail_key)
        assert original is not None
        assert thumbnail is not None
        assert metadata_left(original) == []
        assert exif_of(original) == {}
        assert opened(original).size == (width, height)
        assert max(opened(thumbnail).size) <= 480
        assert opened(thumbnail).format == "WEBP"
        assert announced[upload.attachment.id] == {
            "id": upload.attachment.id,
            "name": upload.attachment.name,
            "type": upload.attachment.type,
            "size": len(original),
            "image": True,
            "width": width,
            "height": height,
            "thumbnail": True,
        }
        row = await database.fetchrow(
            "SELECT width, height, processed_at, image FROM uploads WHERE id = $1", upload.id
        )
        assert row is not None
        assert (row["width"], row["height"], row["image"]) == (width, height, True)
        assert row["processed_at"] is not None
    # Upright: the photo's left half, red, is on top.
    top = opened(await store.get(photo.original_key) or b"").getpixel((300, 100))
    assert isinstance(top, tuple)
    assert top[0] > 200

    for refused in (broken, bomb):
        assert announced[refused.attachment.id] == {
            "id": refused.attachment.id,
            "name": refused.attachment.name,
            "type": refused.attachment.type,
            "size": refused.attachment.size,
            "image": False,
        }
        assert await store.head(refused.thumbnail_key) is None
        row = await database.fetchrow(
            "SELECT image, processed_at FROM uploads WHERE id = $1", refused.id
        )
        assert row is not None
        assert row["image"] is False
        assert row["processed_at"] is not None
    assert await metric(worker.metrics_url, "chat_media_images_processed_total") == 4
    assert await metric(worker.metrics_url, "chat_media_images_refused_total") == 2
    assert await metric(worker.metrics_url, "chat_media_gateway_retries_total") == 3


async def test_a_record_read_again_is_announced_again_without_a_second_decode(
    start_media_worker: StartMediaWorker,
    topic: Topic,
    gateway: RecordingGateway,
    database: asyncpg.Pool,
    store: ObjectStore,
) -> None:
    here = room()
    photo = await uploaded(database, store, here, jpeg_with_gps(), "image/jpeg")
    message = message_with(here, photo, body="look")
    await stored(database, message)
    worker = await start_media_worker()

    await topic.produce(message)
    await eventually(lambda: _at_least(gateway, 1), "the first announcement")
    cleaned = await store.get(photo.original_key)
    # As after a crash before the offset was committed: the same record once more.
    await topic.produce(message)
    await eventually(lambda: _at_least(gateway, 2), "the second announcement")

    assert gateway.calls[0].body == gateway.calls[1].body
    assert await metric(worker.metrics_url, "chat_media_images_processed_total") == 1
    assert await store.get(photo.original_key) == cleaned


async def test_a_message_gone_before_its_images_were_announced_is_passed_over(
    start_media_worker: StartMediaWorker,
    topic: Topic,
    gateway: RecordingGateway,
    database: asyncpg.Pool,
    store: ObjectStore,
) -> None:
    here = room()
    first = await uploaded(database, store, here, jpeg_with_gps(), "image/jpeg")
    second = await uploaded(database, store, here, png_with_text(), "image/png")
    deleted, kept = message_with(here, first), message_with(here, second)
    await stored(database, deleted)
    await stored(database, kept)
    gateway.answers = [404]
    worker = await start_media_worker()
    group = topic.group()

    await topic.produce(deleted, kept)
    end = await topic.end()

    async def committed() -> bool:
        return await topic.committed(group) == end

    await eventually(committed, "both records committed")
    assert [call.path.split("/")[-2] for call in gateway.calls] == [deleted.id, kept.id]
    assert await metric(worker.metrics_url, "chat_media_events_announced_total") == 1


async def test_deleting_a_message_removes_its_files_and_nothing_else(
    start_media_worker: StartMediaWorker,
    topic: Topic,
    gateway: RecordingGateway,
    database: asyncpg.Pool,
    store: ObjectStore,
) -> None:
    here = room()
    photo = await uploaded(database, store, here, jpeg_with_gps(), "image/jpeg")
    notes = await uploaded(database, store, here, b"notes", "text/plain", image=False)
    kept_photo = await uploaded(database, store, here, png_with_text(), "image/png")
    late_photo = await uploaded(database, store, here, animated_gif(), "image/gif")
    doomed = message_with(here, photo, notes)
    kept = message_with(here, kept_photo)
    late = message_with(here, late_photo)
    await stored(database, doomed)
    await stored(database, kept)
    worker = await start_media_worker()

    await topic.produce(doomed, kept, delete_of(doomed))

    async def gone(upload: StoredUpload) -> bool:
        return (
            await store.head(upload.original_key) is None
            and await store.head(upload.thumbnail_key) is None
            and await database.fetchval("SELECT deleted_at FROM uploads WHERE id = $1", upload.id)
            is not None
        )

    await eventually(lambda: gone(photo), "the deleted message's image removed")
    assert await gone(notes)
    assert await store.head(kept_photo.original_key) is not None
    await eventually(
        lambda: _exists(store, kept_photo.thumbnail_key), "the other message's thumbnail"
    )
    assert (
        await database.fetchval("SELECT deleted_at FROM uploads WHERE id = $1", kept_photo.id)
        is None
    )

    # A delete whose message the persistence worker stores only a moment later: the worker
    # waits for it (within stored_wait_s) rather than finding no files.
    await topic.produce(delete_of(late))
    await asyncio.sleep(1.0)
    await stored(database, late, deleted=True)
    await eventually(lambda: gone(late_photo), "the late message's image removed")
    assert await metric(worker.metrics_url, "chat_media_deletes_unresolved_total") == 0


async def _at_least(gateway: RecordingGateway, calls: int) -> bool:
    return len(gateway.calls) >= calls


async def _exists(store: ObjectStore, key: str) -> bool:
    return await store.head(key) is not None
