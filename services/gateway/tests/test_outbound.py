from __future__ import annotations

from chat_gateway.outbound import Outbound
from fakes import FakeTransport, payload_of


def test_frames_are_written_in_order_at_once() -> None:
    transport = FakeTransport()
    outbound = Outbound(transport, limit_bytes=100, on_overflow=lambda: None)
    for payload in (b"a", b"b", b"c"):
        assert outbound.push(payload)
    assert [payload_of(frame) for frame in transport.frames] == [b"a", b"b", b"c"]


def test_a_reader_that_does_not_keep_up_overflows_once_and_push_never_blocks() -> None:
    transport = FakeTransport()  # a peer that never reads
    overflows: list[int] = []
    outbound = Outbound(transport, limit_bytes=20, on_overflow=lambda: overflows.append(1))
    results = [outbound.push(b"xxxx") for _ in range(6)]
    assert results[:3] == [True, True, True]
    assert False in results
    assert overflows == [1]
    assert outbound.push(b"x") is False  # closed: nothing more is written


def test_a_reader_that_keeps_up_never_overflows() -> None:
    transport = FakeTransport()
    overflows: list[int] = []
    outbound = Outbound(transport, limit_bytes=20, on_overflow=lambda: overflows.append(1))
    for _ in range(100):
        assert outbound.push(b"xxxx")
        transport.drain()
    assert overflows == []
    assert len(transport.sent) == 100


def test_one_frame_over_the_limit_passes_an_empty_buffer_but_not_a_backlog() -> None:
    transport = FakeTransport()
    overflows: list[int] = []
    outbound = Outbound(transport, limit_bytes=10, on_overflow=lambda: overflows.append(1))
    assert outbound.push(b"x" * 50)  # a big reply alone is no slow reader
    assert overflows == []
    assert outbound.push(b"x") is False  # behind it, the limit holds
    assert overflows == [1]


def test_frames_of_every_size_are_framed_as_rfc_6455_says() -> None:
    transport = FakeTransport()
    outbound = Outbound(transport, limit_bytes=1 << 20, on_overflow=lambda: None)
    for size in (0, 125, 126, 65_535, 65_536):
        outbound.push(b"y" * size)
        transport.drain()
    heads = [frame[:2] for frame in transport.sent]
    assert heads == [b"\x81\x00", b"\x81\x7d", b"\x81\x7e", b"\x81\x7e", b"\x81\x7f"]
    assert [len(payload_of(frame)) for frame in transport.sent] == [0, 125, 126, 65_535, 65_536]
