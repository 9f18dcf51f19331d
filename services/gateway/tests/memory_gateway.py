"""A gateway wired as app.py wires it (``build_context``), on in-memory implementations, and
clients that speak to its ``Session``s through a ``FakeTransport``: the unit tests' stack."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.context import Claims, GatewayContext, build_context
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.session import Session
from chat_gateway.settings import GatewaySettings
from chat_gateway.supervisor import TaskSupervisor
from fakes import (
    FakeTransport,
    MemoryLog,
    MemoryMarkers,
    MemoryMyRooms,
    MemoryStore,
    OpenRooms,
    RoomMembersByName,
    payload_of,
)
from memory_broker import MemoryBackend, MemoryBroker
from memory_presence import MemoryPresence

T = TypeVar("T")

# Holes are looked up after 10 ms and given up after 300 ms, so a test waits milliseconds.
FAST_HOLES = {"hole_retry_s": 0.01, "hole_deadline_s": 0.3}


class Chat:
    """What every gateway of a test shares: the backend (as Redis), presence, the store and
    log (as Postgres and Kafka), the access rules, the rooms' members and the signed-in users."""

    def __init__(self, backend: MemoryBackend | None = None) -> None:
        self.backend = backend or MemoryBackend()
        self.presence = MemoryPresence()
        self.store = MemoryStore()
        self.log = MemoryLog(self.store)
        self.rooms = OpenRooms()
        self.markers = MemoryMarkers()
        self.my_rooms = MemoryMyRooms(self.rooms, self.markers)
        self.members = RoomMembersByName()
        self.revoked: set[str] = set()
        self._sids = itertools.count(1)

    def token(self, user_id: str, name: str = "", roles: tuple[str, ...] = ()) -> str:
        """A token ``verify`` takes: the claims themselves, as JSON."""
        now = int(time.time())
        claims = Claims(
            sub=user_id,
            name=name or user_id.title(),
            roles=roles,
            sid=f"sid-{next(self._sids)}",
            jti=f"jti-{user_id}",
            iat=now,
            nbf=now,
            exp=now + 3600,
        )
        return msgspec.json.encode(claims).decode()

    async def verify(self, token: str) -> Claims:
        try:
            return msgspec.json.decode(token, type=Claims)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ChatError(ErrorCode.UNAUTHORIZED, "invalid token") from exc

    async def is_revoked(self, claims: Claims) -> bool:
        return claims.sid in self.revoked


class MemoryGateway:
    def __init__(self, chat: Chat, name: str = "gw-a", **settings: Any) -> None:
        self.chat = chat
        self.settings = msgspec.convert(
            {"node_id": name, **FAST_HOLES, **settings}, GatewaySettings
        )
        self.broker: MemoryBroker = chat.backend.broker()
        metrics = GatewayMetrics()
        self.tasks = TaskSupervisor(metrics.task_failures)
        self.ctx: GatewayContext = build_context(
            self.settings,
            broker=self.broker,
            presence=chat.presence,
            store=chat.store,
            message_log=chat.log,
            persistence=chat.log,
            access=chat.rooms,
            markers=chat.markers,
            my_rooms=chat.my_rooms,
            members=chat.members,
            verify_token=chat.verify,
            is_revoked=chat.is_revoked,
            metrics=metrics,
            tasks=self.tasks,
        )
        self.clients: list[Client] = []

    async def __aenter__(self) -> MemoryGateway:
        await self.ctx.fanout.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        for client in self.clients:
            await client.gone()
        self.ctx.presence_announcer.close()
        await self.ctx.fanout.stop()
        await self.tasks.stop()

    async def connect(self, user_id: str, *, reading: bool = True, **claims: Any) -> Client:
        """A client signed in as ``user_id`` (``reading``: its peer reads all that comes)."""
        client = self.open(reading=reading)
        await client.request("connect", token=self.chat.token(user_id, **claims))
        return client

    def open(self, *, reading: bool = True) -> Client:
        client = Client(self.ctx, FakeTransport(reading_peer=reading))
        self.clients.append(client)
        return client


class Client:
    """One connection: commands in through ``Session.receive``, frames out of its transport."""

    def __init__(self, ctx: GatewayContext, transport: FakeTransport) -> None:
        self.transport = transport
        self.session = Session(ctx, transport, "10.0.0.1")
        self._ids = itertools.count(1)
        self._gone = False

    def submit(self, kind: str, **fields: Any) -> int:
        """Hand a command in without waiting for its reply; returns its id."""
        command_id = next(self._ids)
        self.session.receive(
            msgspec.json.encode({"type": kind, "id": command_id, **fields}).decode()
        )
        return command_id

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The reply (or error) to a command."""
        return await self.answer(self.submit(kind, **fields))

    async def answer(self, command_id: int) -> dict[str, Any]:
        def answered() -> dict[str, Any] | None:
            for frame in self.arrivals:
                if frame.get("id") == command_id and frame["type"] in ("reply", "error"):
                    return frame
            return None

        return await eventually(answered)

    @property
    def arrivals(self) -> list[dict[str, Any]]:
        """Every frame written to the socket, in order (read by the peer or not)."""
        written = self.transport.sent + self.transport.frames
        return [msgspec.json.decode(payload_of(frame)) for frame in written]

    def messages(self, room: str) -> list[dict[str, Any]]:
        """Live ``message`` events of ``room``, in arrival order."""
        return [
            frame["message"]
            for frame in self.arrivals
            if frame["type"] == "message" and frame["message"]["room"] == room
        ]

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in self.arrivals if frame["type"] == kind]

    async def gone(self) -> None:
        """The socket closed: what the transport does once it is."""
        if not self._gone:
            self._gone = True
            await self.session.release()


async def eventually(check: Callable[[], T | None], limit_s: float = 2.0) -> T:
    """The first non-None answer of ``check``, asked as the event loop turns."""
    async with asyncio.timeout(limit_s):
        while (answer := check()) is None:
            await asyncio.sleep(0.001)
    return answer
