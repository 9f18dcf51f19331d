"""The gateway's HTTP routes about people (docs/protocol.md): the people directory, a room's
topic, and a room's members with their presence.

Each answer is bounded whatever the database holds: a page of people by the start of their
name, a page of a room's members by user id. A topic is changed like any moderation step
(owner or moderator of the room, or a global moderator/admin; written with its audit row), and
told to the room's joined members on every gateway as a ``room`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat_common.errors import ChatError, ErrorCode
from chat_common.text import PLAIN_LINE
from chat_gateway.access import Caller, RoomAccess
from chat_gateway.broker import Broker
from chat_gateway.context import GatewayContext
from chat_gateway.people import PeopleDirectory
from chat_gateway.presence import Presence
from chat_gateway.rooms_http import (
    UserId,
    caller_of,
    claims_of,
    decode_body,
    decode_query,
    json_response,
    room_of,
)
from chat_gateway.roster import RoomRoster
from chat_gateway.settings import GatewaySettings

# Shown under the room's name beside other people's words: one line of plain text, as a ban
# reason is, and short enough for a header (the column's CHECK says the same).
Topic = Annotated[str, msgspec.Meta(max_length=250, pattern=PLAIN_LINE)]
# The start of a username, in any case (usernames are lower-case): what a person types.
NamePrefix = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[A-Za-z0-9_.-]*$")]
PageLimit = Annotated[int, msgspec.Meta(ge=1)]


class RoomUpdate(msgspec.Struct, forbid_unknown_fields=True):
    topic: Topic | msgspec.UnsetType = msgspec.UNSET


class _PeopleQuery(msgspec.Struct):
    prefix: NamePrefix = ""
    limit: PageLimit | None = None


class _MembersQuery(msgspec.Struct):
    # What an earlier page gave as next_cursor: the last member's user id.
    cursor: UserId | None = None
    limit: PageLimit | None = None


@dataclass(frozen=True)
class RoomPeople:
    """What these routes use (``app.state.people``): who exists, who belongs where, the access
    policy, presence, and the broker that tells a room's members of a change."""

    people: PeopleDirectory
    roster: RoomRoster
    access: RoomAccess
    presence: Presence
    broker: Broker


def directory_routes() -> list[Route]:
    return [
        Route("/v1/users", list_people, methods=["GET"]),
        Route("/v1/rooms/{room}", update_room, methods=["PATCH"]),
        Route("/v1/rooms/{room}/members", list_members, methods=["GET"]),
    ]


async def list_people(request: Request) -> Response:
    """People whose username starts with ``prefix``, by name: for starting a DM or adding a
    member. Any signed-in user may look."""
    await caller_of(request)
    settings = _settings(request)
    query = decode_query(request, _PeopleQuery)
    limit = _limit(query.limit, settings.people_page_size, settings.people_page_max)
    found = await _people(request).people.named_from(query.prefix.lower(), limit)
    return json_response({"users": [{"id": person.id, "name": person.name} for person in found]})


async def update_room(request: Request) -> Response:
    rooms, claims = _people(request), await claims_of(request)
    caller = Caller(claims.sub, claims.roles)
    room = await rooms.access.for_moderation(caller, room_of(request))
    change = await decode_body(request, RoomUpdate)
    if change.topic is msgspec.UNSET:
        raise ChatError(ErrorCode.BAD_REQUEST, "nothing to change: give the room's topic")
    await rooms.roster.set_topic(room.id, change.topic, claims.sub)
    await rooms.broker.announce(
        room.id,
        {
            "type": "room",
            "room": room.id,
            "topic": change.topic,
            "user": {"id": claims.sub, "name": claims.name},
        },
    )
    return json_response(
        {
            "id": room.id,
            "name": room.id,
            "kind": room.kind,
            "read_only": room.read_only,
            "topic": change.topic,
        }
    )


async def list_members(request: Request) -> Response:
    """One page of the room's members, by user id, each with their role and whether they are
    online in the room. Whoever may read the room may list them: a private room's or a DM's
    members only (403 for anyone else); a public room's members are those who joined it."""
    rooms, caller = _people(request), await caller_of(request)
    room = room_of(request)
    settings = _settings(request)
    query = decode_query(request, _MembersQuery)
    limit = _limit(query.limit, settings.members_page_size, settings.members_page_size)
    await rooms.access.for_read(caller, room)
    page = await rooms.roster.members(room, after=query.cursor or "", limit=limit + 1)
    more, page = len(page) > limit, page[:limit]
    online = await rooms.presence.online_among(room, [member.id for member in page])
    return json_response(
        {
            "members": [
                {
                    "id": member.id,
                    "name": member.name,
                    "role": member.role,
                    "online": member.id in online,
                }
                for member in page
            ],
            "next_cursor": page[-1].id if more else None,
        }
    )


def _limit(asked: int | None, default: int, most: int) -> int:
    if asked is None:
        return default
    if asked > most:
        raise ChatError(ErrorCode.BAD_REQUEST, f"limit is at most {most}")
    return asked


def _people(request: Request) -> RoomPeople:
    people: RoomPeople = request.app.state.people
    return people


def _settings(request: Request) -> GatewaySettings:
    ctx: GatewayContext = request.app.state.ctx
    return ctx.settings
