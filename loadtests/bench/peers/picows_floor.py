"""A bare broadcast server on picows and uvloop: the floor of what Python does on this machine.
No auth, no storage, no queues: each payload is built once and written to every member of the
room from one plain call. It speaks the chat's `join` and `send` frames.

    python loadtests/bench/peers/picows_floor.py PORT
"""

from __future__ import annotations

import sys

import msgspec
import uvloop
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    ws_create_server,
)

# picows writes the frame header into the spare bytes in front of a reused payload.
HEADER_ROOM = 14


class Command(msgspec.Struct):
    type: str
    id: int
    room: str
    body: str = ""


class Rooms:
    def __init__(self) -> None:
        self.members: dict[str, set[Member]] = {}
        self._decoder = msgspec.json.Decoder(Command)
        self._encoder = msgspec.json.Encoder()

    def command(self, member: Member, payload: bytes) -> None:
        command = self._decoder.decode(payload)
        if command.type == "join":
            self.members.setdefault(command.room, set()).add(member)
            member.rooms.append(command.room)
        elif command.type == "send":
            message = {"type": "message", "message": {"room": command.room, "body": command.body}}
            frame = bytearray(HEADER_ROOM) + self._encoder.encode(message)
            for other in self.members.get(command.room, ()):
                other.transport.send_reuse_external_bytearray(WSMsgType.TEXT, frame, HEADER_ROOM)
        reply = self._encoder.encode({"type": "reply", "id": command.id})
        member.transport.send(WSMsgType.TEXT, reply)

    def leave(self, member: Member) -> None:
        for room in member.rooms:
            self.members.get(room, set()).discard(member)


class Member(WSListener):
    def __init__(self, rooms: Rooms) -> None:
        self._rooms = rooms
        self.rooms: list[str] = []

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self._rooms.command(self, frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._rooms.leave(self)


async def serve(port: int) -> None:
    rooms = Rooms()

    def listener(request: WSUpgradeRequest) -> Member:
        return Member(rooms)

    server = await ws_create_server(listener, "127.0.0.1", port, enable_auto_ping=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
