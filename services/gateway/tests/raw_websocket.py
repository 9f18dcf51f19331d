"""A WebSocket client that sends any frame RFC 6455 allows and any it forbids: reserved bits,
reserved opcodes, unmasked frames, control frames too long or fragmented, lengths that lie. It
reads what the server sends back frame by frame, so a test sees the close code itself."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
from dataclasses import dataclass

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(frozen=True)
class Frame:
    opcode: int
    fin: bool
    payload: bytes

    @property
    def close_code(self) -> int | None:
        assert self.opcode == CLOSE
        return int.from_bytes(self.payload[:2], "big") if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]


def encode_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    claimed_length: int | None = None,
) -> bytes:
    """One client frame. ``rsv`` is the three reserved bits, 0 to 7; ``claimed_length`` is the
    length the header states when it is not the payload's (a header that promises more)."""
    length = len(payload) if claimed_length is None else claimed_length
    head = bytes(((0x80 if fin else 0) | (rsv & 7) << 4 | opcode,))
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head += bytes((mask_bit | length,))
    elif length < 65_536:
        head += bytes((mask_bit | 126,)) + length.to_bytes(2, "big")
    else:
        head += bytes((mask_bit | 127,)) + length.to_bytes(8, "big")
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


class RawWebSocket:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        response_headers: dict[str, str],
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.response_headers = response_headers

    @classmethod
    async def open(
        cls, host: str, port: int, *, path: str = "/ws", headers: dict[str, str] | None = None
    ) -> RawWebSocket:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16))
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key.decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status, *fields = head.decode("latin-1").split("\r\n")
        assert status.startswith("HTTP/1.1 101"), status
        response = {}
        for field in fields:
            if field:
                name, _, value = field.partition(":")
                response[name.strip().lower()] = value.strip()
        accept = base64.b64encode(
            hashlib.sha1(key + _ACCEPT_GUID, usedforsecurity=False).digest()
        ).decode()
        assert response["sec-websocket-accept"] == accept
        return cls(reader, writer, response)

    async def send(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        fin: bool = True,
        rsv: int = 0,
        masked: bool = True,
        claimed_length: int | None = None,
    ) -> None:
        frame = encode_frame(
            opcode, payload, fin=fin, rsv=rsv, masked=masked, claimed_length=claimed_length
        )
        await self.send_bytes(frame)

    async def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, limit_s: float = 5.0) -> Frame | None:
        """The next frame from the server; None when it closed the socket."""
        async with asyncio.timeout(limit_s):
            try:
                first, second = await self.reader.readexactly(2)
            except asyncio.IncompleteReadError:
                return None
            assert second & 0x80 == 0, "a server must not mask its frames"
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(length)
        assert first & 0x70 == 0, "no extension was negotiated, so no reserved bit may be set"
        return Frame(first & 0x0F, bool(first & 0x80), payload)

    async def next_data(self, limit_s: float = 5.0) -> Frame:
        """The next text or close frame, past pings and pongs."""
        while True:
            frame = await self.receive(limit_s)
            assert frame is not None, "the server closed the socket without a close frame"
            if frame.opcode not in (PING, PONG):
                return frame

    async def closed_with(self, limit_s: float = 5.0) -> Frame:
        """The server's close frame, after whatever text it sent before it, and the end of the
        socket: a server closes the TCP connection once the close handshake is done."""
        while True:
            frame = await self.next_data(limit_s)
            if frame.opcode == CLOSE:
                break
        with contextlib.suppress(ConnectionError):
            await self.send(CLOSE, frame.payload[:2])
        try:
            async with asyncio.timeout(limit_s):
                rest = await self.reader.read()
        except ConnectionError:
            rest = b""  # cut instead of closed: ended all the same
        assert rest == b"", f"bytes after the close frame: {rest[:60]!r}"
        return frame

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
