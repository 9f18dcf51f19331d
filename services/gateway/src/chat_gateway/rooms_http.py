"""The gateway's HTTP routes (docs/protocol.md): the room list, history pages, managing who is in
a room.

Every change is checked (owner or moderator of the room, or a global moderator/admin), written
with its audit row, and announced to every gateway, which applies it to its sockets at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat_common.envelope import RoomId, format_ts
from chat_common.errors import ChatError, ErrorCode
from chat_common.text import PLAIN_LINE
from chat_common.tokens import AccessClaims
from chat_gateway import protocol
from chat_gateway.access import Caller, RoomAccess
from chat_gateway.broker import Broker
from chat_gateway.context import GatewayContext
from chat_gateway.room_events import RoomChange, announce
from chat_gateway.room_list import DirectoryCursor, ListedRoom, RoomCatalog
from chat_gateway.roster import RoomRoster

NamedRoomId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,64}$")]
# User ids are UUIDs; the pattern is the one direct-message room ids use for their parts.
UserId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,64}$")]
BodyT = TypeVar("BodyT")
QueryT = TypeVar("QueryT")


class NewRoom(msgspec.Struct, forbid_unknown_fields=True):
    name: NamedRoomId
    kind: Literal["public", "private"] = "public"
    read_only: bool = False


class NewMember(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UserId
    role: Literal["member", "moderator"] = "member"


class NewMute(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UserId
    until: datetime


class NewBan(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UserId
    # Shown to moderators in the audit trail: plain text, no control or direction characters.
    reason: Annotated[str, msgspec.Meta(max_length=500, pattern=PLAIN_LINE)] = ""


@dataclass(frozen=True)
class RoomAdministration:
    """What the room routes use beside the sessions' context (``app.state.rooms``): the whole
    access policy, the roster, the room list's reads, and the broker that tells every gateway
    of a change."""

    access: RoomAccess
    roster: RoomRoster
    catalog: RoomCatalog
    broker: Broker

    async def announce(self, change: RoomChange) -> None:
        await announce(self.broker, change)


def room_routes() -> list[Route]:

    async def create_room(request: Request) -> Response:
        rooms, caller = _rooms(request), await caller_of(request)
        body = await decode_body(request, NewRoom)
        room = await rooms.roster.create(body.name, body.kind, body.read_only, caller.user_id)
        if room is None:
            return json_response(
                {
                    "code": ErrorCode.BAD_REQUEST.value,
                    "message": f"room {body.name} already exists",
                },
                409,
            )
        await rooms.announce(RoomChange(room=room.id, action="room"))
        await _ctx(request).person.rooms_added(room.id, (caller.user_id,))
        return json_response(
            {
                "id": room.id,
                "name": room.id,
                "kind": room.kind,
                "read_only": room.read_only,
                "topic": "",
                "last_seq": 0,
            },
            201,
        )

    async def add_member(request: Request) -> Response:
        rooms, caller, room = await _moderated(request)
        body = await decode_body(request, NewMember)
        await rooms.access.for_acting_on(caller, room, body.user_id, grant=body.role)
        await rooms.roster.add_member(room, body.user_id, body.role, caller.user_id)
        await rooms.announce(RoomChange(room=room, action="member", user_id=body.user_id))
        await _ctx(request).person.rooms_added(room, (body.user_id,))
        return json_response({"room": room, "user_id": body.user_id, "role": body.role}, 201)

    async def remove_member(request: Request) -> Response:
        user_id = _user_of(request)
        rooms, caller, room = await _moderated(request)
        await rooms.access.for_acting_on(caller, room, user_id)
        await rooms.roster.remove_member(room, user_id, caller.user_id)
        await rooms.announce(RoomChange(room=room, action="kick", user_id=user_id))
        await _ctx(request).person.rooms_removed(room, user_id)
        return Response(status_code=204)

    async def mute(request: Request) -> Response:
        rooms, caller, room = await _moderated(request)
        body = await decode_body(request, NewMute)
        await rooms.access.for_acting_on(caller, room, body.user_id)
        until = body.until if body.until.tzinfo else body.until.replace(tzinfo=UTC)
        await rooms.roster.mute(room, body.user_id, until, caller.user_id)
        await rooms.announce(RoomChange(room=room, action="mute", user_id=body.user_id))
        return json_response(
            {"room": room, "user_id": body.user_id, "until": until.isoformat()}, 201
        )

    async def unmute(request: Request) -> Response:
        user_id = _user_of(request)
        rooms, caller, room = await _moderated(request)
        await rooms.access.for_acting_on(caller, room, user_id)
        await rooms.roster.unmute(room, user_id, caller.user_id)
        await rooms.announce(RoomChange(room=room, action="unmute", user_id=user_id))
        return Response(status_code=204)

    async def ban(request: Request) -> Response:
        rooms, caller, room = await _moderated(request)
        body = await decode_body(request, NewBan)
        await rooms.access.for_acting_on(caller, room, body.user_id)
        await rooms.roster.ban(room, body.user_id, body.reason, caller.user_id)
        await rooms.announce(RoomChange(room=room, action="ban", user_id=body.user_id))
        await _ctx(request).person.rooms_removed(room, body.user_id)
        return json_response({"room": room, "user_id": body.user_id, "reason": body.reason}, 201)

    async def unban(request: Request) -> Response:
        user_id = _user_of(request)
        rooms, caller, room = await _moderated(request)
        await rooms.access.for_acting_on(caller, room, user_id)
        await rooms.roster.unban(room, user_id, caller.user_id)
        await rooms.announce(RoomChange(room=room, action="unban", user_id=user_id))
        return Response(status_code=204)

    async def audit(request: Request) -> Response:
        rooms, _, room = await _moderated(request)
        entries = await rooms.roster.audit_trail(room)
        return json_response({"entries": entries})

    return [
        Route("/v1/rooms", list_rooms, methods=["GET"]),
        Route("/v1/rooms/{room}/messages", room_messages, methods=["GET"]),
        Route("/v1/rooms", create_room, methods=["POST"]),
        Route("/v1/rooms/{room}/members", add_member, methods=["POST"]),
        Route("/v1/rooms/{room}/members/{user_id}", remove_member, methods=["DELETE"]),
        Route("/v1/rooms/{room}/mutes", mute, methods=["POST"]),
        Route("/v1/rooms/{room}/mutes/{user_id}", unmute, methods=["DELETE"]),
        Route("/v1/rooms/{room}/bans", ban, methods=["POST"]),
        Route("/v1/rooms/{room}/bans/{user_id}", unban, methods=["DELETE"]),
        Route("/v1/rooms/{room}/audit", audit, methods=["GET"]),
    ]


async def caller_of(request: Request) -> Caller:
    claims = await claims_of(request)
    return Caller(claims.sub, claims.roles)


async def claims_of(request: Request) -> AccessClaims:
    """The claims of the request's access token, refused (401) when absent, invalid or of a
    login session that was ended."""
    ctx: GatewayContext = request.app.state.ctx
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ChatError(ErrorCode.UNAUTHORIZED, "a Bearer access token is required")
    claims = await ctx.verify_token(token.strip())
    if await ctx.is_revoked(claims):
        raise ChatError(ErrorCode.UNAUTHORIZED, "this session was revoked")
    return claims


async def list_rooms(request: Request) -> Response:
    """The caller's own rooms and the first page of the directory; with ``query`` or
    ``cursor``, a page of the directory alone."""
    ctx, caller = _ctx(request), await caller_of(request)
    settings, catalog = ctx.settings, _rooms(request).catalog
    query = _decode_rooms_query(request, settings.directory_page_size)
    after = None if query.cursor is None else DirectoryCursor.decode(query.cursor)
    rooms: list[ListedRoom] = []
    if query.query is None and after is None:
        rooms = await catalog.own(caller.user_id, settings.max_own_rooms_listed)
    directory, next_page = await catalog.directory(
        caller.user_id,
        query.limit or settings.directory_page_size,
        prefix=query.query,
        after=after,
    )
    rooms += directory
    seqs = await ctx.broker.current_seqs([room.id for room in rooms])
    return json_response(
        {
            "rooms": [
                {
                    "id": room.id,
                    "name": room.id,
                    "kind": room.kind,
                    "read_only": room.read_only,
                    "last_seq": seq,
                    "member": room.member,
                    "last_active_at": format_ts(room.last_active_at),
                    "topic": room.topic,
                }
                for room, seq in zip(rooms, seqs, strict=True)
            ],
            "next_cursor": None if next_page is None else next_page.encode(),
        }
    )


async def room_messages(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    caller = await caller_of(request)
    room = room_of(request)
    query = _decode_query(request)
    await ctx.access.for_read(caller, room)
    frames, has_more = await ctx.history.before(room, query.before, query.limit, caller.user_id)
    return json_response(
        {"messages": [msgspec.Raw(frame.message_json) for frame in frames], "has_more": has_more}
    )


class _PageQuery(msgspec.Struct):
    before: protocol.Seq | None = None
    limit: protocol.Limit = 50


class _RoomsQuery(msgspec.Struct):
    # The start of a room name, so the characters a room name may have.
    query: NamedRoomId | None = None
    # What an earlier page gave as next_cursor (a few dozen characters).
    cursor: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1)] | None = None


def _decode_query(request: Request) -> _PageQuery:
    return decode_query(request, _PageQuery)


def _decode_rooms_query(request: Request, page_size: int) -> _RoomsQuery:
    query = decode_query(request, _RoomsQuery)
    if query.limit is not None and query.limit > page_size:
        raise ChatError(ErrorCode.BAD_REQUEST, f"limit is at most {page_size}")
    return query


_ABSENT = object()


def decode_query(request: Request, kind: type[QueryT]) -> QueryT:
    """The query string as ``kind`` (checked by its types); ``bad_request`` saying what is wrong."""
    given = dict(request.query_params)
    try:
        query = msgspec.convert(given, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, str(exc).replace("`$.", "`")) from exc
    # Lax conversion (query values are text) reads the text "null" as None, the value of a
    # parameter left out: a `?limit=null` would quietly mean the default page instead of the
    # bad_request its documented type calls for.
    for name in given:
        if getattr(query, name, _ABSENT) is None:
            raise ChatError(ErrorCode.BAD_REQUEST, f"`{name}` must have a value, not null")
    return query


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


def _rooms(request: Request) -> RoomAdministration:
    rooms: RoomAdministration = request.app.state.rooms
    return rooms


async def _moderated(request: Request) -> tuple[RoomAdministration, Caller, str]:
    rooms, caller = _rooms(request), await caller_of(request)
    room = room_of(request)
    await rooms.access.for_moderation(caller, room)
    return rooms, caller, room


async def decode_body(request: Request, kind: type[BodyT], max_bytes: int | None = None) -> BodyT:
    """The JSON body as ``kind``, bounded in size (``max_bytes``, else the setting);
    ``bad_request`` saying what is wrong."""
    raw = await request.body()
    if len(raw) > (max_bytes or _ctx(request).settings.http_body_max_bytes):
        raise ChatError(ErrorCode.TOO_LARGE, "request body too large")
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, str(exc).replace("`$.", "`")) from exc
    except msgspec.DecodeError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, protocol.TOO_DEEP) from exc


def room_of(request: Request) -> str:
    return path_param(request, "room", RoomId)


def _user_of(request: Request) -> str:
    return path_param(request, "user_id", UserId)


def path_param(request: Request, name: str, kind: Any) -> str:
    """A path parameter checked like the same field of a WebSocket command."""
    value: str = request.path_params[name]
    try:
        checked: str = msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        raise ChatError(ErrorCode.BAD_REQUEST, f"invalid {name} {value!r}: {exc}") from exc
    return checked


_encoder = msgspec.json.Encoder()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(_encoder.encode(body), status_code=status, media_type="application/json")
