"""What sessions share, wired once from the interfaces the domain uses (``build_context``).

The app factory chooses the implementations (Redis, Kafka, Postgres) and hands them in; the unit
tests hand in in-memory ones, so they run the very wiring a gateway runs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chat_common.envelope import parse_ts
from chat_common.tokens import AccessClaims
from chat_gateway.access import RoomChecks
from chat_gateway.admission import ConnectAdmission
from chat_gateway.broker import Broker
from chat_gateway.fanout import Deliver, RoomFanout
from chat_gateway.frames import RoomFrame
from chat_gateway.history import MessageHistory, StoredMessages
from chat_gateway.hub import Hub
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.my_rooms import PersonalRooms
from chat_gateway.person import PersonChannel
from chat_gateway.presence import Presence
from chat_gateway.presence_announcer import PresenceAnnouncer
from chat_gateway.read_markers import Markers
from chat_gateway.room_events import ControlHandler
from chat_gateway.sending import ActionLimits, DurableLog, Files, MemberNames, MessageSender
from chat_gateway.sequencer import PersistenceProgress, Sequencer
from chat_gateway.settings import GatewaySettings
from chat_gateway.supervisor import TaskSupervisor
from chat_gateway.targets import CurrentTargets

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
    targets: CurrentTargets
    history: MessageHistory
    fanout: RoomFanout
    hub: Hub
    presence: Presence
    presence_announcer: PresenceAnnouncer
    access: RoomChecks
    person: PersonChannel
    markers: Markers
    my_rooms: PersonalRooms
    metrics: GatewayMetrics
    admission: ConnectAdmission
    draining: bool = field(default=False)


def build_context(
    settings: GatewaySettings,
    *,
    broker: Broker,
    presence: Presence,
    store: StoredMessages,
    message_log: DurableLog,
    persistence: PersistenceProgress,
    access: RoomChecks,
    markers: Markers,
    my_rooms: PersonalRooms,
    members: MemberNames,
    verify_token: VerifyToken,
    is_revoked: IsRevoked,
    metrics: GatewayMetrics,
    tasks: TaskSupervisor,
    files: Files | None = None,
) -> GatewayContext:
    """The gateway's domain, wired; its fan-out is started by the caller (``fanout.start``).
    Without ``files`` (no object store) a send with attachments is refused."""
    history = MessageHistory(broker, store)
    hub = Hub()
    person = PersonChannel(broker, hub, my_rooms, follow_timeout_s=settings.join_follow_timeout_s)
    fanout = RoomFanout(
        broker,
        history,
        _deliverer(hub, metrics),
        hub.broadcast,
        metrics,
        tasks,
        on_control=ControlHandler(hub, access),
        on_person=person.on_person,
        hole_retry_s=settings.hole_retry_s,
        hole_deadline_s=settings.hole_deadline_s,
        batch_s=settings.fanout_batch_s,
    )
    targets = CurrentTargets(broker, store, persistence, settings.seed_wait_s)
    sender = MessageSender(
        broker=broker,
        sequencer=Sequencer(broker, history, persistence, settings.seed_wait_s),
        message_log=message_log,
        access=access,
        members=members,
        targets=targets,
        metrics=metrics,
        max_body_chars=settings.max_body_chars,
        max_mentions=settings.max_mentions_per_message,
        limits=ActionLimits(
            edit_window_s=settings.edit_window_s,
            max_emoji=settings.max_emoji_per_message,
            max_reactions_per_person=settings.max_reactions_per_person,
        ),
        duplicate_wait_s=settings.duplicate_wait_s,
        on_started=person.rooms_added,
        files=files,
        max_attachments=settings.upload_max_per_message,
    )
    return GatewayContext(
        settings=settings,
        verify_token=verify_token,
        is_revoked=is_revoked,
        broker=broker,
        sender=sender,
        targets=targets,
        history=history,
        fanout=fanout,
        hub=hub,
        presence=presence,
        presence_announcer=PresenceAnnouncer(
            presence, broker.announce, interval_s=settings.presence_announce_interval_s
        ),
        access=access,
        person=person,
        markers=markers,
        my_rooms=my_rooms,
        metrics=metrics,
        admission=ConnectAdmission(
            settings.max_concurrent_connects, settings.connect_wait_s, settings.max_pending_connects
        ),
    )


def _deliverer(hub: Hub, metrics: GatewayMetrics) -> Deliver:
    def deliver(room: str, frames: list[RoomFrame]) -> None:
        sent = hub.deliver(room, frames)
        if sent:
            metrics.messages_delivered.inc(sent)
            now = time.time()
            for frame in frames:
                sent_at = _timestamp_of(frame)
                if sent_at is not None:
                    metrics.deliver_latency.observe(max(0.0, now - sent_at))

    return deliver


def _timestamp_of(frame: RoomFrame) -> float | None:
    # The envelope's own ts, found without decoding the JSON: once per message per gateway.
    at = frame.frame.find(b'"ts":"')
    if at < 0:
        return None
    try:
        return parse_ts(frame.frame[at + 6 : at + 30].decode()).timestamp()
    except ValueError:
        return None
