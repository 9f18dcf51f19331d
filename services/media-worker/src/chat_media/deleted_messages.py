"""A deleted message's files: its originals and thumbnails are deleted from the store, then its
upload rows are marked ``deleted_at``. In that order, so that a failure half-way is retried
from the rows, which still name every object; deleting twice is harmless."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

from chat_common.envelope import Envelope
from chat_common.object_store import ObjectStore
from chat_media.keys import original_key, thumbnail_key
from chat_media.message_images import wait_stored
from chat_media.metrics import MediaMetrics
from chat_media.retries import Retrier
from chat_media.uploads import Uploads

log = logging.getLogger(__name__)


async def delete_files(
    store: ObjectStore,
    uploads: Uploads,
    ids: Sequence[uuid.UUID],
    metrics: MediaMetrics,
    reason: str,
) -> None:
    """Deletes the uploads' objects, then marks their rows deleted."""
    for upload_id in ids:
        for key in (original_key(upload_id), thumbnail_key(upload_id)):
            await store.delete(key)
            metrics.objects_deleted.labels(reason).inc()
    await uploads.mark_deleted(ids)


class DeletedMessages:
    def __init__(
        self,
        store: ObjectStore,
        uploads: Uploads,
        retrier: Retrier,
        metrics: MediaMetrics,
        *,
        stored_wait_s: float,
    ) -> None:
        self._store = store
        self._uploads = uploads
        self._retrier = retrier
        self._metrics = metrics
        self._stored_wait_s = stored_wait_s

    async def handle(self, delete: Envelope, stop: asyncio.Event) -> None:
        """Raises Stopping when told to stop before the files are gone."""
        if not isinstance(delete.target, str):
            return
        try:
            target = uuid.UUID(delete.target)
        except ValueError:
            return  # names no message that could have files
        # The persistence worker sets the uploads' message_id when it stores the message, in
        # the same transaction: until the message is stored its files cannot be found.
        stored = await self._retrier.run(
            lambda: wait_stored(
                lambda: self._uploads.message_stored(target), self._stored_wait_s, stop
            ),
            f"message {target} stored",
            stop,
        )
        if not stored:
            self._metrics.deletes_unresolved.inc()
            log.warning(
                "deleted message not stored in time; the sweep will delete its files",
                extra={"message_id": delete.target, "room": delete.room},
            )
            return
        await self._retrier.run(
            lambda: self._delete(target, delete.room), f"files of message {target}", stop
        )

    async def _delete(self, message_id: uuid.UUID, room: str) -> None:
        ids = await self._uploads.live_of_message(message_id, room)
        if ids:
            await delete_files(self._store, self._uploads, ids, self._metrics, "message_deleted")
            log.info(
                "deleted a message's files",
                extra={"message_id": str(message_id), "files": len(ids)},
            )
