"""``GET /v1/search`` (docs/protocol.md): messages matching a query, only in rooms the caller may
read, newest first, a page at a time.

Without ``room``, the rooms the caller belongs to (``room_members``: public rooms joined, private
rooms, DMs; at most ``search_rooms_max``, the most recently active). With ``room``, that room
after the read check the WebSocket ``history`` makes (403 for a private room or DM of others, 404
for none), so a public room can be searched before joining it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat_common.envelope import RoomId
from chat_common.errors import ChatError, ErrorCode
from chat_gateway.access import Caller, RoomChecks
from chat_gateway.context import GatewayContext
from chat_gateway.rooms_http import caller_of, decode_query, json_response
from chat_gateway.search import MessageSearch, SearchCursor


class _SearchQuery(msgspec.Struct):
    q: str = ""
    room: RoomId | None = None
    # What an earlier page gave as next_cursor (a few dozen characters).
    before: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1)] | None = None


def search_routes() -> list[Route]:
    return [Route("/v1/search", search_messages, methods=["GET"])]


async def search_messages(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    search: MessageSearch = request.app.state.search
    caller = await caller_of(request)
    settings = ctx.settings
    query = decode_query(request, _SearchQuery)
    words = query.q.strip()
    if not words:
        raise ChatError(ErrorCode.BAD_REQUEST, "q is empty: give the words to search for")
    if len(words) > settings.search_query_max_chars:
        raise ChatError(
            ErrorCode.BAD_REQUEST, f"q is at most {settings.search_query_max_chars} characters"
        )
    limit = query.limit or settings.search_page_size
    if limit > settings.search_page_max:
        raise ChatError(ErrorCode.BAD_REQUEST, f"limit is at most {settings.search_page_max}")
    before = None if query.before is None else SearchCursor.decode(query.before)
    rooms = await _searched_rooms(ctx.access, search, caller, query.room, settings.search_rooms_max)
    if not await search.has_words(words):
        raise ChatError(ErrorCode.BAD_REQUEST, "q has no words to search for, only punctuation")
    hits = (
        await search.newest(rooms, words, before, limit + 1, viewer=caller.user_id) if rooms else []
    )
    more, hits = len(hits) > limit, hits[:limit]
    return json_response(
        {
            "hits": [{"message": hit.message, "excerpt": hit.excerpt} for hit in hits],
            "next_cursor": hits[-1].cursor.encode() if more else None,
        }
    )


async def _searched_rooms(
    access: RoomChecks, search: MessageSearch, caller: Caller, room: str | None, most: int
) -> list[str]:
    if room is None:
        return await search.rooms_of(caller.user_id, most)
    await access.for_read(caller, room)
    return [room]
