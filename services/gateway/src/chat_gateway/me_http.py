"""The person's own HTTP routes: the rooms they belong to, and joining or leaving one for every
device (``/v1/me/rooms``).

``PUT /v1/me/rooms/{room}`` does what a WebSocket ``join`` does to the person's memberships, but
never creates a room: a public room is joined, a private room is answered for its members only,
a direct message is started for both people. ``DELETE`` ends a membership: of a public room
whatever its role (``docs/gateway.md`` says why), of a private room unless it is the owner's;
a direct message cannot be left. Each change is told on the person's channel.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.context import GatewayContext
from chat_gateway.room_events import RoomChange, announce
from chat_gateway.rooms_http import caller_of, json_response, room_of


def me_routes() -> list[Route]:
    return [
        Route("/v1/me/rooms", my_rooms, methods=["GET"]),
        Route("/v1/me/rooms/{room}", join_room, methods=["PUT"]),
        Route("/v1/me/rooms/{room}", leave_room, methods=["DELETE"]),
    ]


async def my_rooms(request: Request) -> Response:
    ctx, caller = _ctx(request), await caller_of(request)
    rooms = await ctx.my_rooms.listed(caller.user_id, ctx.settings.max_own_rooms_listed)
    return json_response({"rooms": rooms})


async def join_room(request: Request) -> Response:
    ctx, caller = _ctx(request), await caller_of(request)
    room = room_of(request)
    entry = await ctx.access.enter(caller, room, create=False)
    if entry.added:
        await ctx.person.rooms_added(room, entry.added)
    listed = await ctx.my_rooms.one(caller.user_id, room)
    if listed is None:  # a private room an admin may read without belonging to it
        raise ChatError(ErrorCode.FORBIDDEN, "a private room's members are added by its staff")
    return json_response(listed, 201 if caller.user_id in entry.added else 200)


async def leave_room(request: Request) -> Response:
    ctx, caller = _ctx(request), await caller_of(request)
    room = room_of(request)
    if await ctx.access.leave(caller, room, public_only=False):
        await announce(ctx.broker, RoomChange(room=room, action="leave", user_id=caller.user_id))
        await ctx.person.rooms_removed(room, caller.user_id)
    return Response(status_code=204)


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx
