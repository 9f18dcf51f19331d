"""Message frames, encoded once per message and shared by every connection that receives it.

What travels through Redis (pub/sub and the recent window) is ``<seq>\\n<frame>``: a receiving
gateway reads the seq from the prefix and forwards the frame without decoding the JSON. A
``void`` frame marks a seq that was allocated but never made durable, so receivers stop
waiting for it.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from chat_common.envelope import Envelope, encode_envelope

_FRAME_HEAD = b'{"type":"message","message":'
_FRAME_TAIL = b"}"
VOID = b"void"


class RoomFrame(msgspec.Struct, frozen=True):
    seq: int
    frame: bytes  # a complete ``message`` event, or VOID

    @property
    def is_void(self) -> bool:
        return self.frame == VOID

    @property
    def message_json(self) -> bytes:
        """The ``message`` object alone, for replies that list messages."""
        return self.frame[len(_FRAME_HEAD) : -len(_FRAME_TAIL)]


def frame_of(envelope: Envelope) -> RoomFrame:
    return RoomFrame(envelope.seq, _FRAME_HEAD + encode_envelope(envelope) + _FRAME_TAIL)


def frame_of_json(seq: int, message: bytes) -> RoomFrame:
    """The frame of an encoded ``message`` object (a message of history, a stored entry)."""
    return RoomFrame(seq, _FRAME_HEAD + message + _FRAME_TAIL)


def void_frame(seq: int) -> RoomFrame:
    return RoomFrame(seq, VOID)


def ws_text_frame(payload: bytes) -> bytes:
    """``payload`` as one final, unmasked WebSocket text frame (RFC 6455 5.2), as a server sends
    it: built once for a message and written as it is to every connection that gets it."""
    size = len(payload)
    if size < 126:
        return b"\x81" + bytes((size,)) + payload
    if size < 65_536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload


def to_payload(frame: RoomFrame) -> bytes:
    return b"%d\n" % frame.seq + frame.frame


def from_payload(payload: bytes) -> RoomFrame:
    head, sep, frame = payload.partition(b"\n")
    if not sep or not head.isdigit():
        raise ValueError("not a room frame payload")
    return RoomFrame(int(head), frame)


def one_per_seq(frames: Iterable[RoomFrame]) -> list[RoomFrame]:
    """``frames`` ascending, one per seq. A seq voided after a failed produce and later sent on
    retry has two entries: the message wins over the void."""
    by_seq: dict[int, RoomFrame] = {}
    for frame in frames:
        known = by_seq.get(frame.seq)
        if known is None or known.is_void:
            by_seq[frame.seq] = frame
    return [by_seq[seq] for seq in sorted(by_seq)]
