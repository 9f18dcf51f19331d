"""How the benchmark's one client speaks to each server: handshake, joining a room, publishing,
and reading every message a frame carries (Centrifugo puts several in one frame, one per line).

A dialect never decides what a delivery means; it hands the body and its position in the room
(for catch-up after a reconnect) to the ``Link`` it serves.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import jwt
import msgspec


class Link(Protocol):
    """One client connection, as a dialect sees it (implemented by ``crowd.Member``)."""

    rooms: list[str]
    token: str
    positions: dict[str, Any]

    def write(self, payload: bytes) -> None: ...
    def next_id(self) -> int: ...
    def request(self, command_id: int, payload: bytes | None) -> asyncio.Future[Any]: ...
    def answer(self, command_id: int, ok: bool, result: Any) -> None: ...
    def delivered(self, body: str, *, recovered: bool) -> None: ...


class HandshakeError(Exception):
    pass


# -- the chat's protocol (PROTOCOL.md), and the peers that speak its join/send subset ----------


class ChatMessage(msgspec.Struct):
    room: str = ""
    body: str = ""
    seq: int = 0


class ChatFrame(msgspec.Struct):
    type: str
    id: int | None = None
    message: ChatMessage | str | None = None  # an error's text, or a message event's message
    messages: list[ChatMessage] = []
    last_seq: int = 0
    recovered: bool = True
    code: str = ""


_chat_frame = msgspec.json.Decoder(ChatFrame)
_encode = msgspec.json.Encoder().encode


class ChatDialect:
    """`connect` with the access token, then `join` (with `since` after a reconnect)."""

    def __init__(self, *, authenticate: bool = True) -> None:
        self._authenticate = authenticate

    async def handshake(self, link: Link, resume: bool) -> None:
        if self._authenticate:
            await self._command(link, {"type": "connect", "token": link.token})
        for room in link.rooms:
            join: dict[str, Any] = {"type": "join", "room": room}
            if resume and room in link.positions:
                join["since"] = link.positions[room]
            reply = await self._command(link, join)
            for message in reply.messages:
                self._position(link, message)
                link.delivered(message.body, recovered=True)
            if self._authenticate and room not in link.positions:
                link.positions[room] = reply.last_seq

    def publish(self, link: Link, room: str, body: str, command_id: int) -> bytes:
        # The body starts with the message's index and send time, unique in every run.
        client_msg_id = body.rsplit(":", 1)[0]
        frame = {"type": "send", "id": command_id, "room": room, "body": body}
        return _encode({**frame, "client_msg_id": client_msg_id})

    def on_text(self, link: Link, data: bytes) -> None:
        frame = _chat_frame.decode(data)
        if frame.type == "message" and isinstance(frame.message, ChatMessage):
            self._position(link, frame.message)
            link.delivered(frame.message.body, recovered=False)
        elif frame.id is not None:
            ok = frame.type == "reply"
            link.answer(frame.id, ok, frame if ok else f"{frame.code}: {frame.message}")

    def _position(self, link: Link, message: ChatMessage) -> None:
        if message.seq > link.positions.get(message.room, 0):
            link.positions[message.room] = message.seq

    async def _command(self, link: Link, fields: dict[str, Any]) -> ChatFrame:
        command_id = link.next_id()
        reply: ChatFrame = await link.request(command_id, _encode({**fields, "id": command_id}))
        return reply


# -- Centrifugo's JSON protocol ---------------------------------------------------------------


class CentrifugoData(msgspec.Struct):
    b: str = ""


class CentrifugoPub(msgspec.Struct):
    data: CentrifugoData
    offset: int = 0


class CentrifugoPush(msgspec.Struct):
    channel: str = ""
    pub: CentrifugoPub | None = None


class CentrifugoError(msgspec.Struct):
    code: int = 0
    message: str = ""


class CentrifugoSubscribed(msgspec.Struct):
    epoch: str = ""
    offset: int = 0
    recovered: bool = False
    publications: list[CentrifugoPub] = []


class CentrifugoReply(msgspec.Struct):
    id: int = 0
    push: CentrifugoPush | None = None
    error: CentrifugoError | None = None
    subscribe: CentrifugoSubscribed | None = None


_centrifugo_reply = msgspec.json.Decoder(CentrifugoReply)


def centrifugo_token(secret: str, user: str, lifetime_s: int = 3600) -> str:
    """A connection JWT as an application backend would sign it (HS256, `sub`, `exp`)."""
    return jwt.encode({"sub": user, "exp": int(time.time()) + lifetime_s}, secret, "HS256")


class CentrifugoDialect:
    """`connect` with a JWT, `subscribe` with recovery from the last offset after a reconnect."""

    async def handshake(self, link: Link, resume: bool) -> None:
        await self._command(link, {"connect": {"token": link.token, "name": "bench"}})
        for room in link.rooms:
            subscribe: dict[str, Any] = {"channel": room}
            if resume and room in link.positions:
                epoch, offset = link.positions[room]
                subscribe.update(recover=True, epoch=epoch, offset=offset)
            reply = await self._command(link, {"subscribe": subscribe})
            result = reply.subscribe or CentrifugoSubscribed()
            for publication in result.publications:
                link.delivered(publication.data.b, recovered=True)
            link.positions[room] = (result.epoch, max(result.offset, self._offset(link, room)))

    def publish(self, link: Link, room: str, body: str, command_id: int) -> bytes:
        return _encode({"id": command_id, "publish": {"channel": room, "data": {"b": body}}})

    def on_text(self, link: Link, data: bytes) -> None:
        for line in data.split(b"\n"):
            if line == b"{}":  # the server's ping
                link.write(b"{}")
                continue
            if not line:
                continue
            reply = _centrifugo_reply.decode(line)
            push = reply.push
            if push is not None and push.pub is not None:
                epoch, _ = link.positions.get(push.channel, ("", 0))
                link.positions[push.channel] = (epoch, push.pub.offset)
                link.delivered(push.pub.data.b, recovered=False)
            elif reply.id:
                failure = reply.error
                link.answer(
                    reply.id, failure is None, reply if failure is None else failure.message
                )

    def _offset(self, link: Link, room: str) -> int:
        position: tuple[str, int] = link.positions.get(room, ("", 0))
        return position[1]

    async def _command(self, link: Link, fields: dict[str, Any]) -> CentrifugoReply:
        command_id = link.next_id()
        reply: CentrifugoReply = await link.request(
            command_id, _encode({"id": command_id, **fields})
        )
        return reply


# -- Socket.IO (Engine.IO 4 over a WebSocket) -------------------------------------------------


class SocketIODialect:
    """Engine.IO open, namespace connect, then `join` events with acknowledgements.

    Packets are text: `0` open, `2` ping (answered `3`), `40` connect, `42[...]` event,
    `42<id>[...]` event that wants an ack, `43<id>[...]` the ack.
    """

    async def handshake(self, link: Link, resume: bool) -> None:
        await link.request(0, None)  # the server's open packet answers id 0
        await link.request(-1, b"40")  # the namespace connect answers id -1
        for room in link.rooms:
            command_id = link.next_id()
            payload = b"42%d" % command_id + _encode(["join", {"room": room}])
            await link.request(command_id, payload)

    def publish(self, link: Link, room: str, body: str, command_id: int) -> bytes:
        return b"42%d" % command_id + _encode(["send", {"room": room, "body": body}])

    def on_text(self, link: Link, data: bytes) -> None:
        kind = data[:2]
        if kind == b"42":
            event = msgspec.json.decode(data[2:])
            if event[0] == "message":
                link.delivered(event[1]["body"], recovered=False)
        elif kind == b"43":
            bracket = data.index(b"[")
            link.answer(int(data[2:bracket]), True, None)
        elif data == b"2":
            link.write(b"3")
        elif kind == b"40":
            link.answer(-1, True, None)
        elif kind == b"44":
            link.answer(-1, False, data.decode())
        elif data[:1] == b"0":
            link.answer(0, True, None)


Dialect = ChatDialect | CentrifugoDialect | SocketIODialect


def dialect(name: str) -> Dialect:
    if name == "chat":
        return ChatDialect()
    if name == "chat-lite":  # the peers that speak join/send without connect
        return ChatDialect(authenticate=False)
    if name == "centrifugo":
        return CentrifugoDialect()
    if name == "socketio":
        return SocketIODialect()
    raise ValueError(f"no dialect {name}")
