"""What the media worker's tests share: images with something to hide (GPS, camera, comments,
XMP) made with Pillow, the worker as a process of its own, and a small real HTTP server that
stands in for the gateways' internal route and records every call."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import itertools
import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import msgspec
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from PIL import ExifTags, Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chat_common.envelope import (
    EVENT_SCHEMA_VERSION,
    Attachment,
    Author,
    Envelope,
    encode_envelope,
    format_ts,
)
from chat_common.kafka_client import create_producer
from chat_common.object_store import ObjectStore, ObjectStoreSettings
from chat_testing.object_store import environment
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, python_module

# Strings planted in an image's metadata; none may survive the worker.
SECRETS = (b"SecretCam", b"Model-X-1234", b"secret comment", b"secret-xmp", b"secret text")
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (13.0, 24.0, 0.0),
}
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf'
    b'-syntax-ns#"><rdf:Description>secret-xmp</rdf:Description></rdf:RDF></x:xmpmeta>'
)
RED = (255, 0, 0)
BLUE = (0, 0, 255)


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Model] = "Model-X-1234"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    return exif


def halves(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Red on the left half, blue on the right: where the halves end up shows the turn."""
    image = Image.new(mode, (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    return image


def jpeg_with_gps(width: int = 1200, height: int = 600, orientation: int = 6) -> bytes:
    """A JPEG taken "sideways": stored ``width`` x ``height``, its EXIF orientation 6 says turn
    it 90° clockwise to show it, so it shows ``height`` x ``width`` with red on top."""
    out = io.BytesIO()
    halves(width, height).save(
        out,
        "JPEG",
        exif=exif_with_gps(orientation),
        comment=b"secret comment",
        xmp=XMP,
        quality=90,
    )
    return out.getvalue()


def png_with_text(width: int = 300, height: int = 200) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret text")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    image = halves(width, height, "RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))  # a transparent corner, which must stay
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=exif_with_gps())
    return out.getvalue()


def animated_gif(frames: int = 3, side: int = 64) -> bytes:
    pictures = [Image.new("P", (side, side), color) for color in range(frames)]
    for index, picture in enumerate(pictures):
        picture.putpalette([value for i in range(256) for value in (i, 255 - i, (i * 7) % 256)])
        picture.paste(index * 40, (0, 0, side // 2, side // 2))
    out = io.BytesIO()
    pictures[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=[100, 200, 300][:frames],
        loop=0,
        comment=b"secret comment",
    )
    return out.getvalue()


def webp_with_exif(width: int = 2000, height: int = 1000) -> bytes:
    out = io.BytesIO()
    halves(width, height).save(out, "WEBP", exif=exif_with_gps(), xmp=XMP, quality=80)
    return out.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, 2.5 gigapixels by default,
    with a few bytes of data: decoding it would take gigabytes of memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def corrupt_jpeg() -> bytes:
    """A JPEG's signature and start, then noise: sniffs as a JPEG, decodes as nothing."""
    return jpeg_with_gps(64, 64)[:40] + bytes(range(256)) * 8


def metadata_left(data: bytes) -> list[bytes]:
    """Which planted secrets are still in the bytes."""
    return [secret for secret in SECRETS if secret in data]


def exif_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif())


# The media worker's token for the gateways' internal route in tests.
TOKEN = "media-worker-test-token"  # noqa: S105 - a test value, never a deployment's


class Topic:
    """A one-partition message topic of one test's own, produced to like the gateway does."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.name = f"test.media.{uuid.uuid4().hex[:12]}"
        self._producer = create_producer(bootstrap, client_id="test-gateway")

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    def group(self) -> str:
        """The consumer group the tests' workers use on this topic."""
        return f"test-media-{self.name}"

    async def produce(self, *envelopes: Envelope) -> None:
        for envelope in envelopes:
            await self._producer.send_and_wait(
                self.name, encode_envelope(envelope), key=envelope.room.encode()
            )

    async def committed(self, group: str) -> int | None:
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
        )
        await reader.start()
        try:
            committed: int | None = await reader.committed(TopicPartition(self.name, 0))
            return committed
        finally:
            await reader.stop()

    async def end(self) -> int:
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await reader.start()
        try:
            partition = TopicPartition(self.name, 0)
            ends = await reader.end_offsets([partition])
            end: int = ends[partition]
            return end
        finally:
            await reader.stop()


# The worker as a process ------------------------------------------------------------------


class MediaWorkerProcess:
    """``python -m chat_media`` with the given settings, ready once /readyz answers 200."""

    def __init__(
        self,
        folder: Path,
        store: ObjectStoreSettings,
        settings: dict[str, str],
        name: str = "media-worker",
    ) -> None:
        self.port = free_port()
        env = {
            "CHAT_MEDIA_PORT": str(self.port),
            "CHAT_MEDIA_LOG_LEVEL": "info",
            **environment(store),
        }
        env.update({f"CHAT_MEDIA_{key.upper()}": value for key, value in settings.items()})
        self.process = ServiceProcess(
            f"{name}-{self.port}",
            python_module("chat_media"),
            env,
            folder,
            ready_url=f"http://127.0.0.1:{self.port}/readyz",
        )
        self.metrics_url = f"http://127.0.0.1:{self.port}/metrics"

    async def start(self) -> None:
        await self.process.start(limit_s=60.0)

    async def stop(self) -> None:
        await self.process.stop()

    def log_tail(self, lines: int = 80) -> str:
        path = self.process.log_path
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


StartMediaWorker = Callable[..., Awaitable[MediaWorkerProcess]]


# A stand-in for the gateways' internal route ----------------------------------------------


@dataclass
class Call:
    path: str
    authorization: str | None
    body: dict[str, object]


@dataclass
class RecordingGateway:
    """A real HTTP server on a free port that answers the internal route as told (a list of
    statuses used up in order, then ``then``) and records every call."""

    answers: list[int] = field(default_factory=list)
    then: int = 200
    calls: list[Call] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _route(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.calls.append(Call(request.url.path, request.headers.get("authorization"), body))
        status = self.answers.pop(0) if self.answers else self.then
        if status == 200:
            return JSONResponse({"message": {"kind": "attachment", **body}})
        return JSONResponse({"code": "unavailable", "message": "as told"}, status_code=status)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[RecordingGateway]:
        app = Starlette(
            routes=[
                Route(
                    "/internal/v1/rooms/{room}/messages/{message}/attachments",
                    self._route,
                    methods=["POST"],
                )
            ]
        )
        server = _QuietServer(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="off", log_config=None)
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        try:
            yield self
        finally:
            server.should_exit = True
            await task


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test's signals stay the test's.
        yield


# Rows as the gateway and the persistence worker leave them --------------------------------


@dataclass(frozen=True)
class StoredUpload:
    id: uuid.UUID
    attachment: Attachment

    @property
    def original_key(self) -> str:
        return f"originals/{self.id}"

    @property
    def thumbnail_key(self) -> str:
        return f"thumbnails/{self.id}.webp"


async def uploaded(
    database: asyncpg.Pool,
    store: ObjectStore,
    room: str,
    data: bytes,
    content_type: str,
    *,
    name: str = "file",
    image: bool = True,
    claimed: bool = True,
    created_at: dt.datetime | None = None,
    claimed_at: dt.datetime | None = None,
) -> StoredUpload:
    """An upload as the gateway leaves it: a row (claimed by a send unless told otherwise, its
    type as sniffed) and the bytes the person PUT under originals/."""
    upload_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    await database.execute(
        "INSERT INTO uploads (id, room, user_id, name, declared_type, size, created_at,"
        " client_msg_id, claimed_at, type, image)"
        " VALUES ($1, $2, 'ann', $3, $4, $5, $6, $7, $8, $9, $10)",
        upload_id,
        room,
        name,
        content_type,
        len(data),
        created_at or now,
        f"send-{upload_id.hex[:8]}" if claimed else None,
        (claimed_at or now) if claimed else None,
        content_type if claimed else None,
        image if claimed else None,
    )
    await store.put(f"originals/{upload_id}", data, content_type=content_type)
    attachment = Attachment(
        id=str(upload_id), name=name, type=content_type, size=len(data), image=image
    )
    return StoredUpload(upload_id, attachment)


_seqs = itertools.count(1)


def message_with(room: str, *uploads: StoredUpload, body: str | None = None) -> Envelope:
    """A message envelope carrying ``uploads``, as the gateway produces it."""
    return Envelope(
        v=EVENT_SCHEMA_VERSION,
        id=str(uuid.uuid4()),
        room=room,
        seq=next(_seqs),
        user=Author(id="ann", name="ann"),
        body=body if body is not None else msgspec.UNSET,
        ts=format_ts(dt.datetime.now(dt.UTC)),
        client_msg_id=uuid.uuid4().hex,
        attachments=tuple(upload.attachment for upload in uploads),
    )


def delete_of(message: Envelope) -> Envelope:
    return Envelope(
        v=EVENT_SCHEMA_VERSION,
        id=str(uuid.uuid4()),
        room=message.room,
        seq=next(_seqs),
        user=message.user,
        ts=format_ts(dt.datetime.now(dt.UTC)),
        client_msg_id=uuid.uuid4().hex,
        kind="delete",
        target=message.id,
    )


async def stored(database: asyncpg.Pool, message: Envelope, *, deleted: bool = False) -> None:
    """The message as the persistence worker stores it: its row, and its uploads' message_id
    in the same transaction."""
    async with database.acquire() as connection, connection.transaction():
        await connection.execute(
            "INSERT INTO messages (id, room, seq, user_id, user_name, client_msg_id, created_at,"
            " attachments, deleted_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, now(), $7::jsonb, $8)",
            uuid.UUID(message.id),
            message.room,
            message.seq,
            message.user.id,
            message.user.name,
            message.client_msg_id,
            msgspec.json.encode(message.attachments or None).decode(),
            dt.datetime.now(dt.UTC) if deleted else None,
        )
        await connection.execute(
            "UPDATE uploads SET message_id = $1 WHERE id = ANY($2::uuid[])",
            uuid.UUID(message.id),
            [uuid.UUID(a.id) for a in message.attachments or ()],
        )
