"""What sessions and the HTTP routes share, built once by the app factory (the composition root).

Every piece is given as the interface the domain uses (``Broker``, ``Presence``, ``RoomChecks``,
…), so a session runs as well on the Redis, Kafka and Postgres implementations the app factory
chooses as on the in-memory ones of the unit tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chat_common.tokens import AccessClaims
from chat_gateway.access import RoomChecks
from chat_gateway.admission import ConnectAdmission
from chat_gateway.broker import Broker
from chat_gateway.fanout import RoomFanout
from chat_gateway.history import MessageHistory
from chat_gateway.hub import Hub
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.presence import Presence
from chat_gateway.presence_announcer import PresenceAnnouncer
from chat_gateway.sending import MessageSender
from chat_gateway.settings import GatewaySettings

Claims = AccessClaims


# Verifies an access token; raises ChatError(UNAUTHORIZED) with a clear reason when it is not.
VerifyToken = Callable[[str], Awaitable[Claims]]
# Whether the login session of valid claims was ended since (logout, revocation).
IsRevoked = Callable[[Claims], Awaitable[bool]]


@dataclass
class GatewayContext:
    settings: GatewaySettings
    verify_token: VerifyToken
    is_revoked: IsRevoked
    broker: Broker
    sender: MessageSender
    history: MessageHistory
    fanout: RoomFanout
    hub: Hub
    presence: Presence
    presence_announcer: PresenceAnnouncer
    access: RoomChecks
    metrics: GatewayMetrics
    admission: ConnectAdmission
    draining: bool = field(default=False)
