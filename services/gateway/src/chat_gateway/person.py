"""The person's channel: events about one user (their room list, read markers, mentions) for
every connection of theirs, on every gateway, within a second.

A gateway follows the broker's channel of each user it holds a connection of, from their first
connection here to their last (the hub's index by user says when). What travels is a hint: the
facts behind it (memberships, read markers, messages) are in Postgres first, and a client that
missed an event converges through ``GET /v1/me/rooms``.

Between gateways a message is ``<room>\\n<event>``: the event as the client gets it, encoded
once, and the room whose joined connections skip it (empty: none do). A ``mention`` names its
room, since a connection joined there gets the message itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from chat_gateway import protocol
from chat_gateway.broker import Broker
from chat_gateway.hub import Hub
from chat_gateway.my_rooms import PersonalRooms
from chat_gateway.sending import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)

# A subscription that is slow or fails: the connection goes ahead without its events meanwhile.
_FOLLOW_FAILURES: tuple[type[Exception], ...] = (TimeoutError, *DEPENDENCY_ERRORS)


class PersonChannel:
    def __init__(
        self, broker: Broker, hub: Hub, rooms: PersonalRooms, *, follow_timeout_s: float
    ) -> None:
        self._broker = broker
        self._hub = hub
        self._rooms = rooms
        self._follow_timeout_s = follow_timeout_s

    # -- following ----------------------------------------------------------------------------

    async def follow(self, user_id: str) -> None:
        """The user's first connection here: follow their channel. Never refuses the
        connection: should the subscription be slow or Redis down, it stays wanted and the
        broker makes it when it is back (events meanwhile are lost, as any pub/sub message
        may be)."""
        try:
            async with asyncio.timeout(self._follow_timeout_s):
                await self._broker.subscribe_person(user_id)
        except _FOLLOW_FAILURES as exc:
            log.warning("person channel not followed yet", extra={"error": repr(exc)})

    async def unfollow(self, user_id: str) -> None:
        """The user's last connection here is gone. Call it at once (no await before it), so
        that a connection of theirs arriving meanwhile follows afresh."""
        await self._broker.unsubscribe_person(user_id)

    # -- telling ------------------------------------------------------------------------------

    async def tell(self, user_id: str, event: dict[str, Any], *, unless_joined: str = "") -> None:
        """``event`` to every connection of ``user_id`` on every gateway (but those joined to
        ``unless_joined``, when given)."""
        await self._broker.tell_person(
            user_id, unless_joined.encode() + b"\n" + protocol.encode(event)
        )

    async def tell_mention(self, user_id: str, room: str, message: Any) -> None:
        """``user_id`` was mentioned in ``message`` (the message object) of ``room``: told to
        their connections not joined to ``room``, which get the message itself."""
        await self.tell(
            user_id, {"type": "mention", "room": room, "message": message}, unless_joined=room
        )

    async def rooms_added(self, room: str, user_ids: Iterable[str]) -> None:
        """Each of ``user_ids`` now belongs to ``room`` (or holds another role there): told
        with the room as their ``GET /v1/me/rooms`` lists it."""
        for user_id in user_ids:
            listed = await self._rooms.one(user_id, room)
            if listed is not None:
                await self.tell(user_id, {"type": "rooms", "added": [listed], "removed": []})

    async def rooms_removed(self, room: str, user_id: str) -> None:
        await self.tell(user_id, {"type": "rooms", "added": [], "removed": [room]})

    # -- what the broker hands over -----------------------------------------------------------

    def on_person(self, user_id: str, data: bytes) -> None:
        head, sep, event = data.partition(b"\n")
        if not sep:
            log.warning("dropped a malformed person message", extra={"user": user_id})
            return
        self._hub.tell(user_id, event, unless_joined=head.decode(errors="replace"))
