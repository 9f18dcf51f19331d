"""The attachments' HTTP routes (docs/protocol.md, "Attachments"): a presigned upload for a
file about to be sent, and a presigned download of a file of a message.

Neither route touches a file's bytes: the client PUTs them to the object store and GETs them
from it, with URLs these routes sign for minutes. A gateway without an object store answers
both with 404: the deployment takes no attachments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat_common.envelope import Attachment, AttachmentName, MediaType, format_ts
from chat_common.errors import ChatError, ErrorCode
from chat_common.object_store import ObjectStore, content_disposition
from chat_gateway.access import Caller
from chat_gateway.attachments import original_key, thumbnail_key
from chat_gateway.context import GatewayContext
from chat_gateway.protocol import MessageId
from chat_gateway.rooms_http import (
    caller_of,
    decode_body,
    decode_query,
    json_response,
    path_param,
    room_of,
)
from chat_gateway.targets import MessageState
from chat_gateway.uploads import Upload, UploadRecords


@dataclass(frozen=True)
class AttachmentFiles:
    """What the routes use beside the sessions' context (``app.state.files``; None without an
    object store): the uploads' rows and the store that signs the URLs."""

    records: UploadRecords
    store: ObjectStore


class NewUpload(msgspec.Struct, forbid_unknown_fields=True):
    name: AttachmentName
    # Checked after lower-casing (a media type's names are case-insensitive, RFC 6838).
    type: Annotated[str, msgspec.Meta(max_length=255)]
    size: Annotated[int, msgspec.Meta(ge=1)]


class _DownloadQuery(msgspec.Struct):
    variant: Literal["original", "thumbnail"] = "original"


def upload_routes() -> list[Route]:
    return [
        Route("/v1/rooms/{room}/uploads", create_upload, methods=["POST"]),
        Route("/v1/rooms/{room}/attachments/{upload_id}", download, methods=["GET"]),
    ]


async def create_upload(request: Request) -> Response:
    """201 with a presigned PUT for exactly the declared size and type; authorised like a send."""
    ctx, caller = _ctx(request), await caller_of(request)
    room = room_of(request)
    files = _files(request)
    settings = ctx.settings
    await ctx.access.for_send(caller, room)
    body = await decode_body(request, NewUpload)
    declared = _media_type(body.type)
    if body.size > settings.upload_max_bytes:
        raise ChatError(
            ErrorCode.TOO_LARGE,
            f"a file may be at most {settings.upload_max_bytes} bytes; this one is {body.size}",
        )
    made = await files.records.create(
        room=room,
        user_id=caller.user_id,
        name=body.name,
        declared_type=declared,
        size=body.size,
        per_hour=settings.uploads_per_hour,
    )
    if made.retry_after_s:
        raise ChatError(
            ErrorCode.RATE_LIMITED,
            f"at most {settings.uploads_per_hour} uploads an hour;"
            f" the next one in {made.retry_after_s} s",
            retry_after_ms=made.retry_after_s * 1000,
        )
    upload = await files.store.upload_url(
        original_key(made.id),
        size=body.size,
        content_type=declared,
        expires_s=settings.upload_url_ttl_s,
    )
    return json_response(
        {
            "upload": {"id": made.id, "name": body.name, "type": declared, "size": body.size},
            "url": upload.url,
            "method": "PUT",
            # Content-Length is the body's own; a browser may not set it.
            "headers": {"Content-Type": declared},
            "expires_at": format_ts(upload.expires_at),
        },
        201,
    )


async def download(request: Request) -> Response:
    """200 with a presigned GET of a file of a message of the room, after history's read check:
    an image shown where it is opened, anything else saved as a file under its name."""
    ctx, caller = _ctx(request), await caller_of(request)
    room = room_of(request)
    upload_id = path_param(request, "upload_id", MessageId)
    files = _files(request)
    variant = decode_query(request, _DownloadQuery).variant
    await ctx.access.for_read(caller, room)
    upload, attachment = await _attachment_of(ctx, files, caller, room, upload_id)
    if variant == "thumbnail":
        if attachment.thumbnail is not True:
            raise ChatError(ErrorCode.NOT_FOUND, f"the file {attachment.name!r} has no thumbnail")
        key = thumbnail_key(upload_id)
        stem = attachment.name.rpartition(".")[0] or attachment.name
        disposition = content_disposition(f"{stem}.webp", inline=True)
    else:
        if attachment.image and upload.processed_at is None:
            raise ChatError(
                ErrorCode.NOT_READY,
                f"the image {attachment.name!r} is still being prepared; it can be fetched once"
                " its attachment event arrives",
            )
        key = original_key(upload_id)
        disposition = content_disposition(attachment.name, inline=attachment.image)
    ttl_s = ctx.settings.download_url_ttl_s
    url = await files.store.download_url(key, disposition=disposition, expires_s=ttl_s)
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_s)
    return json_response({"url": url, "expires_at": format_ts(expires_at)})


async def _attachment_of(
    ctx: GatewayContext, files: AttachmentFiles, caller: Caller, room: str, upload_id: str
) -> tuple[Upload, Attachment]:
    """The upload and the attachment it is on a message of ``room`` that is not deleted, as the
    message stands now; ``not_found`` otherwise."""
    missing = ChatError(ErrorCode.NOT_FOUND, f"no attachment {upload_id} in room {room}")
    upload = (await files.records.get([upload_id])).get(upload_id)
    if upload is None or upload.room != room or upload.client_msg_id is None:
        raise missing
    if upload.deleted_at is not None:
        raise missing
    message: MessageState | None
    if upload.message_id is not None:
        message = await ctx.targets.current(room, upload.message_id)
    else:  # not stored yet: the recent window has it
        message = await ctx.targets.carrying(room, upload_id)
    if message is None or message.deleted:
        raise missing
    for attachment in message.attachments:
        if attachment.id == upload_id:
            return upload, attachment
    raise missing


def _media_type(given: str) -> str:
    declared = given.strip().lower()
    try:
        return msgspec.convert(declared, MediaType)
    except msgspec.ValidationError:
        raise ChatError(
            ErrorCode.BAD_REQUEST,
            f"type {given!r} is not a media type such as image/png (type/subtype, no"
            " parameters); a file of unknown type is application/octet-stream",
        ) from None


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


def _files(request: Request) -> AttachmentFiles:
    files: AttachmentFiles | None = request.app.state.files
    if files is None:
        raise ChatError(ErrorCode.NOT_FOUND, "this server does not take attachments")
    return files
