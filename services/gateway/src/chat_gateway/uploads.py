"""The uploads table (migration 0010): the presigned uploads handed out, and their claims.

A row is made when a person asks to upload (within their hourly allowance, counted here), and
claimed by the ``send`` that attaches it: once, by that send's ``client_msg_id``, so a resend of
the same send claims it again while nothing else can. The persistence worker names the message
(``message_id``) once it is stored; the media step marks an image processed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from chat_gateway.sniffing import Verdict

_SELECT = (
    "SELECT id, room, user_id, name, declared_type, size, client_msg_id, message_id, type, image,"
    " processed_at, deleted_at FROM uploads"
)
_HOUR_S = 3600


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    room: str
    user_id: str
    name: str
    declared_type: str
    size: int
    client_msg_id: str | None
    message_id: str | None
    type: str | None  # as sniffed, once claimed
    image: bool | None
    processed_at: datetime | None
    deleted_at: datetime | None


class NewUpload(msgspec.Struct, frozen=True):
    """An upload recorded, or the seconds until the person may start another (``retry_after_s``
    above 0, and no ``id``)."""

    id: str = ""
    retry_after_s: int = 0


class UploadRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self, *, room: str, user_id: str, name: str, declared_type: str, size: int, per_hour: int
    ) -> NewUpload:
        """Record an upload of ``user_id``, unless they started ``per_hour`` in the last hour.
        The count and the insert are one step per person (an advisory lock on the person), so
        uploads asked for at once cannot pass the allowance together."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('uploads:' || $1, 0))", user_id
            )
            allowance = await connection.fetchrow(
                "SELECT count(*), extract(epoch FROM now() - min(created_at)) FROM uploads"
                " WHERE user_id = $1 AND created_at > now() - interval '1 hour'",
                user_id,
            )
            assert allowance is not None  # an aggregate has one row
            started, oldest_age_s = allowance
            if started >= per_hour:
                # The allowance comes back as the oldest upload of the hour leaves it.
                return NewUpload(retry_after_s=max(1, math.ceil(_HOUR_S - float(oldest_age_s))))
            upload_id = str(uuid.uuid4())
            await connection.execute(
                "INSERT INTO uploads (id, room, user_id, name, declared_type, size)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                upload_id,
                room,
                user_id,
                name,
                declared_type,
                size,
            )
        return NewUpload(id=upload_id)

    async def get(self, upload_ids: Sequence[str]) -> dict[str, Upload]:
        rows = await self._pool.fetch(_SELECT + " WHERE id = ANY($1::uuid[])", list(upload_ids))
        return {str(row["id"]): _upload_of(row) for row in rows}

    async def claim(
        self, *, room: str, user_id: str, client_msg_id: str, verdicts: dict[str, Verdict]
    ) -> bool:
        """Claim every upload of ``verdicts`` for the send ``client_msg_id`` and record the type
        each was found to have, or none of them: False when one is not ``user_id``'s upload in
        ``room``, is gone, or is claimed by another send or stored with a message. Two sends
        claiming one upload at once: the row lock orders them, and the second finds it taken."""
        ids = list(verdicts)
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                claimed = await connection.fetch(
                    "UPDATE uploads AS u SET client_msg_id = $4,"
                    " claimed_at = COALESCE(u.claimed_at, now()), type = c.type, image = c.image"
                    " FROM unnest($1::uuid[], $5::text[], $6::bool[]) AS c(id, type, image)"
                    " WHERE u.id = c.id AND u.room = $2 AND u.user_id = $3"
                    " AND u.deleted_at IS NULL AND u.message_id IS NULL"
                    " AND (u.client_msg_id IS NULL OR u.client_msg_id = $4)"
                    " RETURNING u.id",
                    ids,
                    room,
                    user_id,
                    client_msg_id,
                    [verdicts[upload_id].type for upload_id in ids],
                    [verdicts[upload_id].image for upload_id in ids],
                )
                if len(claimed) != len(ids):
                    raise _Unclaimed
        except _Unclaimed:
            return False
        return True


class _Unclaimed(Exception):
    """Rolls a claim back: one of its uploads could not be claimed."""


def _upload_of(row: asyncpg.Record) -> Upload:
    message_id = row["message_id"]
    return Upload(
        id=str(row["id"]),
        room=row["room"],
        user_id=row["user_id"],
        name=row["name"],
        declared_type=row["declared_type"],
        size=row["size"],
        client_msg_id=row["client_msg_id"],
        message_id=None if message_id is None else str(message_id),
        type=row["type"],
        image=row["image"],
        processed_at=row["processed_at"],
        deleted_at=row["deleted_at"],
    )
