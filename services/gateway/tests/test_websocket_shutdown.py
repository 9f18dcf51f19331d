"""A gateway's WebSocket server always lets its shutdown go on: once a drained gateway hung in
``Server.wait_closed`` for good, because its event loop still counted a connection that was
gone, and the process never exited."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from chat_gateway.websocket import WebSocketServer
from memory_gateway import Chat, MemoryGateway


class _ServerThatNeverLetsGo:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        await asyncio.Event().wait()  # a connection counted forever


async def test_closing_is_bounded_by_the_close_handshakes_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with MemoryGateway(Chat(), drain_close_wait_s=0.2) as gateway:
        server = WebSocketServer(gateway.ctx, set())
        stuck = _ServerThatNeverLetsGo()
        server._server = stuck  # type: ignore[assignment]  # the one way in without a socket
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="chat_gateway.websocket"):
            await asyncio.wait_for(server.close(), 5)
    assert stuck.closed
    assert time.monotonic() - started < 5
    assert "still held connections" in caplog.text
