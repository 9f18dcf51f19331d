"""The sweep (chat_media.orphan_sweep) against the real Postgres and SeaweedFS: it removes
exactly the uploads nobody will see (never sent, claimed but never stored, of a deleted
message) and the objects with no live row, and keeps everything else."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from prometheus_client import CollectorRegistry

from chat_common.object_store import ObjectStore
from chat_media.metrics import MediaMetrics
from chat_media.orphan_sweep import OrphanSweep
from chat_media.uploads import Uploads
from chat_testing.media import StoredUpload, jpeg_with_gps, message_with, stored, uploaded

DAY = dt.timedelta(days=1)


def sweep_of(database: asyncpg.Pool, store: ObjectStore, stray_age: dt.timedelta) -> OrphanSweep:
    return OrphanSweep(
        store,
        Uploads(database),
        MediaMetrics(CollectorRegistry()),
        orphan_age=DAY,
        claimed_orphan_age=7 * DAY,
        stray_object_age=stray_age,
        batch=1_000,
    )


async def removed(database: asyncpg.Pool, store: ObjectStore, upload: StoredUpload) -> bool:
    deleted_at = await database.fetchval("SELECT deleted_at FROM uploads WHERE id = $1", upload.id)
    gone = await store.head(upload.original_key) is None
    assert (deleted_at is not None) == gone, "a row and its object disagree"
    return gone


async def test_the_sweep_removes_exactly_the_orphans(
    database: asyncpg.Pool, store: ObjectStore
) -> None:
    now = dt.datetime.now(dt.UTC)
    room = f"sweep-{uuid.uuid4().hex[:10]}"
    data = jpeg_with_gps(64, 64)

    async def upload(**when: object) -> StoredUpload:
        return await uploaded(database, store, room, data, "image/jpeg", **when)  # type: ignore[arg-type]

    never_sent = await upload(claimed=False, created_at=now - 2 * DAY)
    picked_just_now = await upload(claimed=False, created_at=now - dt.timedelta(hours=1))
    send_failed = await upload(created_at=now - 9 * DAY, claimed_at=now - 8 * DAY)
    send_pending = await upload(created_at=now - 2 * DAY, claimed_at=now - 2 * DAY)
    sent_long_ago = await upload(created_at=now - 30 * DAY, claimed_at=now - 30 * DAY)
    of_deleted = await upload(created_at=now - 2 * DAY, claimed_at=now - 2 * DAY)
    await stored(database, message_with(room, sent_long_ago))
    await stored(database, message_with(room, of_deleted), deleted=True)
    await store.put(sent_long_ago.thumbnail_key, b"thumbnail", content_type="image/webp")
    # Objects no upload row names, or only a deleted one.
    stray_original = f"originals/{uuid.uuid4()}"
    stray_thumbnail = f"thumbnails/{uuid.uuid4()}.webp"
    not_an_upload = f"originals/not-an-upload-{uuid.uuid4().hex}"
    outside = f"elsewhere/{uuid.uuid4()}"
    for key in (stray_original, stray_thumbnail, not_an_upload, outside):
        await store.put(key, b"x", content_type="application/octet-stream")

    # Objects written this moment are not stray yet.
    await sweep_of(database, store, stray_age=DAY).sweep()
    assert await store.head(stray_original) is not None

    # Every object of this test counts as old enough from here on.
    await sweep_of(database, store, stray_age=dt.timedelta(0)).sweep()

    assert await removed(database, store, never_sent)
    assert await removed(database, store, send_failed)
    assert await removed(database, store, of_deleted)
    assert not await removed(database, store, picked_just_now)
    assert not await removed(database, store, send_pending)
    assert not await removed(database, store, sent_long_ago)
    assert await store.head(sent_long_ago.thumbnail_key) is not None
    for key in (stray_original, stray_thumbnail, not_an_upload):
        assert await store.head(key) is None, key
    assert await store.head(outside) is not None


async def test_an_upload_claimed_as_the_sweep_runs_is_kept(
    database: asyncpg.Pool, store: ObjectStore
) -> None:
    """The sweep's statement re-checks the claim under the row lock: a send that claimed the
    upload first keeps it."""
    now = dt.datetime.now(dt.UTC)
    room = f"sweep-{uuid.uuid4().hex[:10]}"
    old = await uploaded(
        database, store, room, jpeg_with_gps(64, 64), "image/jpeg", claimed=False,
        created_at=now - 2 * DAY,
    )  # fmt: skip
    async with database.acquire() as connection, connection.transaction():
        await connection.execute(
            "UPDATE uploads SET claimed_at = now(), client_msg_id = 'c1' WHERE id = $1", old.id
        )
        # The sweep runs while the claim is not yet committed: it skips the locked row.
        await sweep_of(database, store, stray_age=DAY).sweep()
    assert not await removed(database, store, old)
    await sweep_of(database, store, stray_age=DAY).sweep()
    assert not await removed(database, store, old)
