"""In-memory stand-ins for the gateway's interfaces, for unit tests of pure session logic."""

from __future__ import annotations

from chat_gateway.frames import ws_text_frame


class FakeTransport:
    """A socket whose peer reads nothing until ``drain``: what was written stays buffered."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None
        self.reading = True

    def write(self, frame: bytes) -> None:
        self.frames.append(frame)

    def buffered(self) -> int:
        return sum(len(frame) for frame in self.frames)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def drain(self) -> None:
        """The peer reads everything written so far."""
        self.sent += self.frames
        self.frames = []


def payload_of(frame: bytes) -> bytes:
    """The payload of a frame ``ws_text_frame`` built."""
    size = frame[1] & 0x7F
    start = 2 if size < 126 else 4 if size == 126 else 10
    assert frame == ws_text_frame(frame[start:])
    return frame[start:]
