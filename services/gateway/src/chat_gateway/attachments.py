"""A send's files: each checked and claimed before the message is numbered and made durable.

Each upload must be the sender's, for this room, not taken by another message; its object must
exist with the declared size (a HEAD), and its first bytes (a ranged read of a few KiB) must be
of the declared type (``sniffing``). Only then are they claimed, all together, in Postgres, by
the send's ``client_msg_id``. The file's bytes never pass through the gateway: the client put
them in the store with a presigned PUT, and the checks read a few KiB of each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from chat_common.envelope import Attachment
from chat_common.errors import ChatError, ErrorCode
from chat_common.object_store import ObjectStore
from chat_gateway.sniffing import FileSniffer, Verdict, verdict
from chat_gateway.uploads import Upload, UploadRecords

# The object store unreachable, failing or slow: refused `unavailable`, retry. aiobotocore
# turns its HTTP client's failures into botocore's.
STORE_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError, OSError, TimeoutError)


def original_key(upload_id: str) -> str:
    return f"originals/{upload_id}"


def thumbnail_key(upload_id: str) -> str:
    return f"thumbnails/{upload_id}.webp"


class SendFiles:
    """The files of sends, checked and claimed (``MessageSender`` asks, docs/gateway.md,
    "Attachments")."""

    def __init__(
        self,
        records: UploadRecords,
        store: ObjectStore,
        sniffer: FileSniffer,
        *,
        sniff_bytes: int,
        timeout_s: float,
    ) -> None:
        self._records = records
        self._store = store
        self._sniffer = sniffer
        self._sniff_bytes = sniff_bytes
        self._timeout_s = timeout_s

    async def claim(
        self, user_id: str, room: str, client_msg_id: str, upload_ids: Sequence[str]
    ) -> tuple[Attachment, ...]:
        """The attachments of uploads ``upload_ids`` (in that order), checked and claimed for
        the send ``client_msg_id``; ``bad_request`` naming the first that cannot be, and then
        nothing is claimed. A resend of the same send claims them again."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._claim(user_id, room, client_msg_id, upload_ids)
        except STORE_ERRORS as exc:
            raise ChatError(
                ErrorCode.UNAVAILABLE, "the file store cannot be reached; send again"
            ) from exc

    async def _claim(
        self, user_id: str, room: str, client_msg_id: str, upload_ids: Sequence[str]
    ) -> tuple[Attachment, ...]:
        found = await self._records.get(upload_ids)
        uploads = [
            _claimable(found.get(upload_id), upload_id, user_id, room, client_msg_id)
            for upload_id in upload_ids
        ]
        checked = await asyncio.gather(
            *(self._check(upload) for upload in uploads), return_exceptions=True
        )
        verdicts: dict[str, Verdict] = {}
        for upload, outcome in zip(uploads, checked, strict=True):
            if isinstance(outcome, BaseException):
                raise outcome  # the first in the sender's order
            verdicts[upload.id] = outcome
        if not await self._records.claim(
            room=room, user_id=user_id, client_msg_id=client_msg_id, verdicts=verdicts
        ):
            raise ChatError(
                ErrorCode.BAD_REQUEST,
                "a file was attached to another message meanwhile; upload it again",
            )
        return tuple(
            Attachment(
                id=upload.id,
                name=upload.name,
                type=verdicts[upload.id].type,
                size=upload.size,
                image=verdicts[upload.id].image,
            )
            for upload in uploads
        )

    async def _check(self, upload: Upload) -> Verdict:
        key = original_key(upload.id)
        stored = await self._store.head(key)
        if stored is None:
            raise ChatError(
                ErrorCode.BAD_REQUEST, f"the file {upload.name!r} has not been uploaded yet"
            )
        if stored.size != upload.size:  # the signed PUT allows no other: checked all the same
            raise ChatError(
                ErrorCode.BAD_REQUEST,
                f"the file {upload.name!r} is {stored.size} bytes, not the {upload.size} declared",
            )
        head = await self._store.first_bytes(key, self._sniff_bytes)
        if not head:  # deleted between the two reads
            raise ChatError(
                ErrorCode.BAD_REQUEST, f"the file {upload.name!r} has not been uploaded yet"
            )
        return verdict(upload.name, upload.declared_type, await self._sniffer.type_of(head))


def _claimable(
    upload: Upload | None, upload_id: str, user_id: str, room: str, client_msg_id: str
) -> Upload:
    """``upload``, when the send ``client_msg_id`` of ``user_id`` in ``room`` may claim it."""
    if upload is None or upload.user_id != user_id or upload.room != room:
        # Someone else's upload is not told apart from none: ids are not for guessing.
        raise ChatError(ErrorCode.BAD_REQUEST, f"no upload {upload_id} of yours in room {room}")
    if upload.deleted_at is not None:
        raise ChatError(
            ErrorCode.BAD_REQUEST, f"the file {upload.name!r} was removed; upload it again"
        )
    if upload.message_id is not None or upload.client_msg_id not in (None, client_msg_id):
        raise ChatError(
            ErrorCode.BAD_REQUEST,
            f"the file {upload.name!r} is attached to another message; upload it again",
        )
    return upload
