"""A message's images: each made safe to show (upright, no metadata), given a thumbnail, and
announced to the room through the gateway as one ``attachment`` event.

Idempotent, since a record may be read again (a crash before its offset was committed): an
image whose upload row says it is processed is not decoded again, but the event is asked for
again, and the gateway makes no second one for the same content.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import msgspec

from chat_common.envelope import Attachment, Envelope
from chat_common.object_store import ObjectStore
from chat_media.decoder import ImageDecoder
from chat_media.gateway_client import GatewayClient, Outcome
from chat_media.images import THUMBNAIL_TYPE, Refused
from chat_media.keys import original_key, thumbnail_key
from chat_media.metrics import MediaMetrics
from chat_media.retries import Retrier, Stopping, pause
from chat_media.uploads import Upload, Uploads

log = logging.getLogger(__name__)

# How often the worker looks whether the persistence worker has stored a message yet.
STORED_POLL_S = 0.25


async def wait_stored(
    stored: Callable[[], Awaitable[bool]], limit_s: float, stop: asyncio.Event
) -> bool:
    """Whether the entry is stored within ``limit_s``; raises Stopping when told to stop."""
    deadline = time.monotonic() + limit_s
    while not await stored():
        if stop.is_set():
            raise Stopping("waiting for a message to be stored")
        if time.monotonic() >= deadline:
            return False
        await pause(STORED_POLL_S, stop)
    return True


class MessageImages:
    def __init__(
        self,
        store: ObjectStore,
        uploads: Uploads,
        decoder: ImageDecoder,
        gateway: GatewayClient,
        retrier: Retrier,
        metrics: MediaMetrics,
        *,
        stored_wait_s: float,
        images_in_hand: int,
    ) -> None:
        self._store = store
        self._uploads = uploads
        self._decoder = decoder
        self._gateway = gateway
        self._retrier = retrier
        self._metrics = metrics
        self._stored_wait_s = stored_wait_s
        # Originals fetched and not yet written back, across all partitions: each is up to the
        # upload limit in memory.
        self._in_hand = asyncio.Semaphore(images_in_hand)

    async def handle(self, message: Envelope, stop: asyncio.Event) -> None:
        """Raises Stopping when told to stop before the event is durable."""
        images = [a for a in message.attachments or () if a.image]
        if not images:
            return
        message_id = _uuid(message.id)
        if message_id is None:
            return
        updated = await self._retrier.run(
            lambda: self._update_all(message, images), f"images of message {message.id}", stop
        )
        if not updated:
            return
        # The gateway finds a message in the room's recent window or in Postgres; one that has
        # left the window is found only once stored, and a 404 must mean deleted.
        stored = await self._retrier.run(
            lambda: wait_stored(
                lambda: self._uploads.message_stored(message_id), self._stored_wait_s, stop
            ),
            f"message {message.id} stored",
            stop,
        )
        if not stored:
            log.warning(
                "message not stored in time; announcing its images anyway",
                extra={"message_id": message.id, "room": message.room},
            )
        outcome = await self._gateway.announce(
            message.room, message.id, updated, self._retrier.delays(), stop
        )
        if outcome is Outcome.STOPPED:
            raise Stopping(f"announcing images of message {message.id}")
        if outcome is Outcome.ANNOUNCED:
            self._metrics.events_announced.inc()
        else:
            self._metrics.events_dropped.labels(outcome.value).inc()
            log.info(
                "attachment event not made",
                extra={"message_id": message.id, "room": message.room, "outcome": outcome.value},
            )

    async def _update_all(
        self, message: Envelope, images: Sequence[Attachment]
    ) -> list[Attachment]:
        parsed = [(a, _uuid(a.id)) for a in images]
        known = [(a, upload_id) for a, upload_id in parsed if upload_id is not None]
        rows = await self._uploads.find([upload_id for _, upload_id in known])
        results = await asyncio.gather(
            *(self._update(message.room, a, rows.get(upload_id)) for a, upload_id in known)
        )
        return [a for a in results if a is not None]

    async def _update(self, room: str, image: Attachment, row: Upload | None) -> Attachment | None:
        if row is None or row.room != room:
            # The gateway claims an upload for its own room before the message is sent.
            log.warning("an attachment without its upload", extra={"upload": image.id})
            return None
        if row.deleted_at is not None:
            return None  # the message was deleted meanwhile, and its files with it
        if row.processed_at is not None:
            done = await self._as_processed(image, row)
            if done is not None:
                return done
        async with self._in_hand:
            return await self._process(image, row.id)

    async def _as_processed(self, image: Attachment, row: Upload) -> Attachment | None:
        """The attachment as its first processing left it, or None to process it again."""
        if row.image is False:
            return msgspec.structs.replace(image, image=False)
        original = await self._store.head(original_key(row.id))
        thumbnail = await self._store.head(thumbnail_key(row.id))
        if original is None or thumbnail is None or row.width is None or row.height is None:
            return None
        return msgspec.structs.replace(
            image, size=original.size, width=row.width, height=row.height, thumbnail=True
        )

    async def _process(self, image: Attachment, upload_id: uuid.UUID) -> Attachment | None:
        data = await self._store.get(original_key(upload_id))
        if data is None:
            log.warning("an image upload without its object", extra={"upload": image.id})
            return None
        started = time.perf_counter()
        result = await self._decoder.process(data, image.type)
        self._metrics.image_seconds.observe(time.perf_counter() - started)
        if isinstance(result, Refused):
            await self._uploads.record_refused(upload_id)
            self._metrics.images_refused.inc()
            log.info(
                "an image is shown as a file", extra={"upload": image.id, "reason": result.reason}
            )
            return msgspec.structs.replace(image, image=False)
        # The original first: once processed_at is set the gateway hands it out.
        await self._store.put(original_key(upload_id), result.original, content_type=image.type)
        await self._store.put(
            thumbnail_key(upload_id), result.thumbnail, content_type=THUMBNAIL_TYPE
        )
        await self._uploads.record_processed(upload_id, result.width, result.height)
        self._metrics.images_processed.inc()
        return msgspec.structs.replace(
            image,
            size=len(result.original),
            width=result.width,
            height=result.height,
            thumbnail=True,
        )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        log.warning("not a UUID where an id was expected", extra={"id": value[:64]})
        return None
