"""Changes every gateway must act on at once: memberships, mutes and bans (``chat:room-events``)
and session revocations from the auth service (``chat:revocations``).

Each gateway receives them on its broker's control channels, drops what its access cache knew,
and moves the affected local sockets: a kicked or banned user leaves the room (``kicked``
event), a revoked session is closed with 4001.
"""

from __future__ import annotations

import logging

import msgspec

from chat_common.errors import CloseCode
from chat_common.revocation import REVOCATION_CHANNEL, decode_revocation
from chat_gateway.access import RoomChecks
from chat_gateway.broker import Broker
from chat_gateway.hub import Hub

log = logging.getLogger(__name__)

ROOM_EVENTS_CHANNEL = "chat:room-events"
CONTROL_CHANNELS = (ROOM_EVENTS_CHANNEL, REVOCATION_CHANNEL)
# Actions after which the user may no longer be in the room.
_REMOVALS = {"kick": "removed from the room", "ban": "banned from the room"}


class RoomChange(msgspec.Struct, frozen=True, kw_only=True):
    room: str
    action: str  # kick, ban, unban, mute, unmute, member, room, leave
    user_id: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(RoomChange)


async def announce(broker: Broker, change: RoomChange) -> None:
    await broker.publish_control(ROOM_EVENTS_CHANNEL, _encoder.encode(change))


class ControlHandler:
    def __init__(self, hub: Hub, access: RoomChecks) -> None:
        self._hub = hub
        self._access = access

    def __call__(self, channel: str, data: bytes) -> None:
        try:
            if channel == ROOM_EVENTS_CHANNEL:
                self._room_change(_decoder.decode(data))
            elif channel == REVOCATION_CHANNEL:
                self._revocation(data)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            log.warning(
                "dropped a malformed control message", extra={"channel": channel, "error": str(exc)}
            )

    def _room_change(self, change: RoomChange) -> None:
        self._access.forget(change.room, change.user_id)
        reason = _REMOVALS.get(change.action)
        if reason is None or change.user_id is None:
            return
        for listener in self._hub.of_user(change.user_id):
            listener.kick(change.room, reason)

    def _revocation(self, data: bytes) -> None:
        revocation = decode_revocation(data)
        for listener in self._hub.of_user(revocation.user_id):
            claims = listener.claims
            if claims is not None and revocation.covers(claims):
                listener.close_soon(CloseCode.UNAUTHORIZED, "session revoked")
