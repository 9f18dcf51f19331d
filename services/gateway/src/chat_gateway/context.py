"""Everything a session needs, built once by the app factory (the composition root)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from chat_common.tokens import AccessClaims
from chat_gateway.access import RoomAccess
from chat_gateway.admission import ConnectAdmission
from chat_gateway.broker import RoomBroker
from chat_gateway.fanout import RoomFanout
from chat_gateway.history import MessageHistory
from chat_gateway.hub import Hub
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.presence import PresenceTracker
from chat_gateway.presence_announcer import PresenceAnnouncer
from chat_gateway.roster import RoomRoster
from chat_gateway.sending import MessageSender
from chat_gateway.settings import GatewaySettings

Claims = AccessClaims


# Verifies an access token; raises ChatError(UNAUTHORIZED) with a clear reason when it is not.
VerifyToken = Callable[[str], Awaitable[Claims]]


@dataclass
class GatewayContext:
    settings: GatewaySettings
    verify_token: VerifyToken
    broker: RoomBroker
    sender: MessageSender
    history: MessageHistory
    fanout: RoomFanout
    hub: Hub
    presence: PresenceTracker
    presence_announcer: PresenceAnnouncer
    access: RoomAccess
    roster: RoomRoster
    metrics: GatewayMetrics
    redis: Redis
    admission: ConnectAdmission
    draining: bool = field(default=False)
