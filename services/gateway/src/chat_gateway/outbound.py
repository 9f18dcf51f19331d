"""A connection's way out, bounded in bytes (G5).

Frames go straight to the transport, with no queue or task of their own: the transport's buffer
holds what the peer has not read yet. A reader too slow to keep up lets that buffer grow; past
the limit the connection is closed (4008 slow consumer) instead of growing memory or making the
fan-out wait: ``push`` never blocks. An empty buffer takes any one frame, so a reply, bounded
where it is built, is never a slow reader by itself.
"""

from __future__ import annotations

from collections.abc import Callable

from chat_gateway.frames import ws_text_frame
from chat_gateway.transport import Transport


class Outbound:
    __slots__ = ("_closed", "_limit", "_on_overflow", "_transport")

    def __init__(
        self, transport: Transport, *, limit_bytes: int, on_overflow: Callable[[], None]
    ) -> None:
        self._transport = transport
        self._limit = limit_bytes
        self._on_overflow = on_overflow
        self._closed = False

    def push(self, payload: bytes) -> bool:
        """Send one JSON frame (a reply, an error or an event of this connection)."""
        return self.push_frame(ws_text_frame(payload))

    def push_frame(self, frame: bytes) -> bool:
        """Send a frame already framed (a room's message, framed once for every member)."""
        if self._closed:
            return False
        waiting = self._transport.buffered()
        if waiting and waiting + len(frame) > self._limit:
            self._closed = True
            self._on_overflow()
            return False
        self._transport.write(frame)
        return True

    def close(self) -> None:
        self._closed = True
