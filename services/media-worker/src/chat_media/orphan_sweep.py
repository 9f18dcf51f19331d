"""The sweep: every ``sweep_interval_s``, the files nobody will ever see are removed.

1. Uploads never claimed by a send, older than ``orphan_age_s``: a person picked a file and
   never sent it (or the upload URL was asked for and never used).
2. Uploads claimed by a send whose message was never stored, after ``claimed_orphan_age_s``:
   the send failed and was not tried again; past Kafka's retention it never can be stored.
3. Live uploads of deleted messages: a delete whose message was not stored in time for the
   consumer (``deletes_unresolved``).
4. Objects under ``originals/`` and ``thumbnails/`` older than ``stray_object_age_s`` with no
   live upload row: left over from a crash between a row's deletion and its objects'.

Rows of kinds 1 and 2 are marked deleted first, in one statement that a concurrent claim
serialises with (the row lock), then their objects go; an object whose removal fails is
found by pass 4 later. Several workers may sweep at once: rows are taken with SKIP LOCKED and
deleting an object twice is harmless.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid

from chat_common.object_store import ObjectStore
from chat_media.deleted_messages import delete_files
from chat_media.keys import ORIGINALS, THUMBNAILS, upload_of
from chat_media.metrics import MediaMetrics
from chat_media.retries import pause
from chat_media.uploads import Uploads

log = logging.getLogger(__name__)


class OrphanSweep:
    def __init__(
        self,
        store: ObjectStore,
        uploads: Uploads,
        metrics: MediaMetrics,
        *,
        orphan_age: dt.timedelta,
        claimed_orphan_age: dt.timedelta,
        stray_object_age: dt.timedelta,
        batch: int,
    ) -> None:
        self._store = store
        self._uploads = uploads
        self._metrics = metrics
        self._orphan_age = orphan_age
        self._claimed_orphan_age = claimed_orphan_age
        self._stray_object_age = stray_object_age
        self._batch = batch

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Sweeps at once, then every ``interval_s``, until ``stop``. A failed sweep is logged
        and counted; the next one starts over from what the rows say."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception as exc:
                self._metrics.sweep_failures.inc()
                log.warning("sweep failed", extra={"error": repr(exc)[:300]})
            await pause(interval_s, stop)

    async def sweep(self) -> None:
        unclaimed = await self._uploads.take_unclaimed(self._orphan_age, self._batch)
        await self._remove(unclaimed, "unclaimed")
        unstored = await self._uploads.take_unstored(self._claimed_orphan_age, self._batch)
        await self._remove(unstored, "unstored")
        missed = await self._uploads.of_deleted_messages(self._batch)
        if missed:
            await delete_files(self._store, self._uploads, missed, self._metrics, "deleted_message")
            self._metrics.orphans_removed.labels("deleted_message").inc(len(missed))
        cutoff = dt.datetime.now(dt.UTC) - self._stray_object_age
        for prefix in (ORIGINALS, THUMBNAILS):
            await self._remove_strays(prefix, cutoff)
        removed = len(unclaimed) + len(unstored) + len(missed)
        if removed:
            log.info(
                "sweep removed uploads",
                extra={
                    "unclaimed": len(unclaimed),
                    "unstored": len(unstored),
                    "of_deleted": len(missed),
                },
            )

    async def _remove(self, ids: list[uuid.UUID], kind: str) -> None:
        # The rows are marked already; only their objects are left.
        await delete_files(self._store, self._uploads, ids, self._metrics, kind)
        self._metrics.orphans_removed.labels(kind).inc(len(ids))

    async def _remove_strays(self, prefix: str, cutoff: dt.datetime) -> None:
        page: list[tuple[str, uuid.UUID | None]] = []
        async for stored in self._store.older_than(prefix, cutoff):
            page.append((stored.key, upload_of(stored.key)))
            if len(page) >= self._batch:
                await self._remove_stray_page(page)
                page = []
        if page:
            await self._remove_stray_page(page)

    async def _remove_stray_page(self, page: list[tuple[str, uuid.UUID | None]]) -> None:
        live = await self._uploads.live_among([i for _, i in page if i is not None])
        for key, upload_id in page:
            if upload_id is None or upload_id not in live:
                await self._store.delete(key)
                self._metrics.objects_deleted.labels("stray").inc()
