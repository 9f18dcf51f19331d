from __future__ import annotations

import asyncio

from chat_gateway.outbound import Outbound


async def test_frames_are_written_in_order() -> None:
    written: list[str] = []

    async def send(text: str) -> None:
        written.append(text)

    outbound = Outbound(send, limit_bytes=100, on_overflow=lambda: None)
    writer = asyncio.create_task(outbound.run())
    for text in ("a", "b", "c"):
        assert outbound.push(text)
    await outbound.flush(1.0)
    outbound.close()
    await writer
    assert written == ["a", "b", "c"]


async def test_a_reader_that_does_not_keep_up_overflows_once_and_push_never_blocks() -> None:
    stuck = asyncio.Event()
    overflows: list[int] = []

    async def send(_: str) -> None:
        await stuck.wait()  # a peer that never reads

    outbound = Outbound(send, limit_bytes=10, on_overflow=lambda: overflows.append(1))
    writer = asyncio.create_task(outbound.run())
    await asyncio.sleep(0)
    results = [outbound.push("xxxx") for _ in range(5)]
    assert results[:2] == [True, True]
    assert False in results
    assert overflows == [1]
    assert outbound.push("x") is False  # closed: nothing more is queued
    writer.cancel()


async def test_one_frame_over_the_limit_passes_an_empty_queue_but_not_a_backlog() -> None:
    stuck = asyncio.Event()
    overflows: list[int] = []

    async def send(_: str) -> None:
        await stuck.wait()

    outbound = Outbound(send, limit_bytes=10, on_overflow=lambda: overflows.append(1))
    assert outbound.push("x" * 50)  # a big reply alone is no slow reader
    assert overflows == []
    assert outbound.push("x") is False  # behind it, the limit holds
    assert overflows == [1]
