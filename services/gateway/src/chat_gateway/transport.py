"""What a session needs of its socket (``Transport``), whatever WebSocket library serves it.

Frames are handed over complete (header and payload), so a room message is framed once and
written as it is to every member. Writes never wait: the transport buffers what the peer has not
read yet, and the session bounds that buffer (``Outbound``).
"""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    def write(self, frame: bytes) -> None:
        """Send one complete WebSocket frame; nothing when the socket is gone."""

    def buffered(self) -> int:
        """Bytes written and not yet taken by the peer's socket."""

    def close(self, code: int, reason: str) -> None:
        """Send a close frame after everything written so far, then end the connection."""

    def pause_reading(self) -> None:
        """Stop reading frames from the peer (its commands are queued up)."""

    def resume_reading(self) -> None: ...
