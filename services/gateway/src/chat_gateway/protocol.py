"""The WebSocket wire format (docs/protocol.md): command decoding and frame encoding.

Commands are a tagged union on ``type``; a frame that is not one gets ``bad_request`` with a
message naming the problem, and never closes the connection by itself.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from chat_common.envelope import ClientMsgId, RoomId
from chat_common.errors import ChatError, ErrorCode

CommandId = str | int
Seq = Annotated[int, msgspec.Meta(ge=0)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]
# Message ids are the UUIDs the gateway gives them, in their canonical form.
MessageId = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]


class Command(msgspec.Struct, tag_field="type", forbid_unknown_fields=False, kw_only=True):
    id: CommandId | None = None


class Connect(Command, tag="connect"):
    token: str


class Refresh(Command, tag="refresh"):
    token: str


class Join(Command, tag="join"):
    room: RoomId
    since: Seq | None = None


class Leave(Command, tag="leave"):
    room: RoomId


class UploadRef(msgspec.Struct, frozen=True):
    """A file to attach: an upload made with POST /v1/rooms/{room}/uploads and PUT to the store."""

    upload_id: MessageId


class Send(Command, tag="send"):
    room: RoomId
    client_msg_id: ClientMsgId
    # Required without attachments (checked by the sender, which says so); with them it may be
    # left out.
    body: str | None = None
    reply_to: MessageId | None = None
    # The count is checked by the sender against the deployment's setting; this bounds decoding.
    attachments: Annotated[tuple[UploadRef, ...], msgspec.Meta(max_length=100)] | None = None


class Edit(Command, tag="edit"):
    room: RoomId
    message_id: MessageId
    body: str
    client_msg_id: ClientMsgId


class Delete(Command, tag="delete"):
    room: RoomId
    message_id: MessageId
    client_msg_id: ClientMsgId


class React(Command, tag="react"):
    room: RoomId
    message_id: MessageId
    # Checked by the gateway (reactions.emoji_problem), which explains what is wrong.
    emoji: str
    client_msg_id: ClientMsgId


# An edit, a delete or a reaction: a command that adds an event to the room's log.
Action = Edit | Delete | React


class History(Command, tag="history"):
    room: RoomId
    before: Seq | None = None
    limit: Limit = 50


class Typing(Command, tag="typing"):
    room: RoomId


class Presence(Command, tag="presence"):
    room: RoomId


class Ping(Command, tag="ping"):
    pass


class Read(Command, tag="read"):
    room: RoomId
    seq: Seq


AnyCommand = (
    Connect
    | Refresh
    | Join
    | Leave
    | Send
    | Edit
    | Delete
    | React
    | History
    | Typing
    | Presence
    | Ping
    | Read
)

# msgspec decodes nested containers recursively and raises RecursionError past the
# interpreter's limit (about 1,000 levels): a bad frame like any other, not a crash.
TOO_DEEP = "frame is nested too deeply"
# A str holding a lone surrogate has no UTF-8 form; the socket's strict decoding never makes
# one, but the decoder is handed text, and any text is a bad frame or a command.
NOT_UTF8 = "frame is not valid UTF-8"

_decoder = msgspec.json.Decoder(AnyCommand)
_encoder = msgspec.json.Encoder()
_any_decoder = msgspec.json.Decoder()


def decode_command(text: str) -> AnyCommand:
    try:
        command: AnyCommand = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, _explain(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, f"frame is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, TOO_DEEP) from exc
    except UnicodeEncodeError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, NOT_UTF8) from exc
    return command


def command_id_of(text: str) -> CommandId | None:
    """The ``id`` of a frame that failed to decode, so its error can still be matched."""
    try:
        value = _any_decoder.decode(text)
    except (msgspec.DecodeError, RecursionError, UnicodeEncodeError):
        return None
    if isinstance(value, dict):
        found = value.get("id")
        if isinstance(found, str | int) and not isinstance(found, bool):
            return found
    return None


def _explain(message: str) -> str:
    if "Invalid value" in message and "$.type" in message:
        return "unknown command type"
    if " - at `$" not in message:
        return f"frame must be a JSON object with a type: {message}"
    return message.replace("`$.", "`")


def encode(frame: dict[str, Any]) -> bytes:
    return _encoder.encode(frame)


def reply(command_id: CommandId | None, **fields: Any) -> bytes:
    return encode({"type": "reply", "id": command_id, **fields})


def error(command_id: CommandId | None, failure: ChatError) -> bytes:
    frame: dict[str, Any] = {"type": "error"}
    if command_id is not None:
        frame["id"] = command_id
    frame["code"] = failure.code.value
    frame["message"] = failure.message
    if failure.retry_after_ms is not None:
        frame["retry_after_ms"] = failure.retry_after_ms
    return encode(frame)


def event(kind: str, **fields: Any) -> bytes:
    return encode({"type": kind, **fields})
