"""The WebSocket endpoint: handshake checks, the read loop, and nothing else (G5, G6).

Frame size and UTF-8 are enforced by the WebSocket server itself (uvicorn with the websockets
implementation closes with 1009 and 1007); this layer refuses foreign Origins at the handshake,
binary frames (1003) and surplus connections, queues frames before ``connect`` for their turn
(``ConnectAdmission``; 1013 after too long a wait), then hands text to the session.

The client's address is the peer's, or the one a trusted proxy forwards (uvicorn applies
``trusted_proxies`` before this layer sees the connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketState

from chat_common.errors import CloseCode
from chat_gateway.admission import ConnectAdmission
from chat_gateway.context import GatewayContext
from chat_gateway.session import Session

log = logging.getLogger(__name__)


class StarletteTransport:
    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def send_text(self, text: str) -> None:
        # The peer may be gone; the read loop sees the disconnect and cleans up.
        with contextlib.suppress(RuntimeError, OSError):
            await self._websocket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        if self._websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, OSError):
                await self._websocket.close(code, reason)


async def serve_websocket(websocket: WebSocket) -> None:
    ctx: GatewayContext = websocket.app.state.ctx
    sessions: set[Session] = websocket.app.state.sessions
    origin = websocket.headers.get("origin")
    if origin is not None and origin not in ctx.settings.allowed_origins:
        await websocket.close(1008)  # before accept: uvicorn answers the upgrade with 403
        return
    if ctx.draining:
        await websocket.close(1012)
        return
    address = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()
    session = Session(ctx, StarletteTransport(websocket), address)
    if ctx.hub.opened_from(address) > ctx.settings.max_connections_per_ip:
        ctx.hub.closed_from(address)
        ctx.metrics.closes.labels(str(CloseCode.POLICY_VIOLATION.value)).inc()
        await websocket.close(CloseCode.POLICY_VIOLATION, "too many connections from this address")
        return
    sessions.add(session)
    ctx.metrics.connections.inc()
    writer = asyncio.create_task(session.outbound.run())
    connect_timer = asyncio.get_running_loop().call_later(
        ctx.settings.connect_timeout_s, _close_if_not_connected, session
    )
    try:
        await _read_frames(websocket, session, websocket.app.state.admission)
    finally:
        connect_timer.cancel()
        writer.cancel()
        sessions.discard(session)
        ctx.hub.closed_from(address)
        ctx.metrics.connections.dec()
        try:
            await session.release()
        except Exception as exc:
            log.warning("session cleanup failed", extra={"error": repr(exc)})


async def _read_frames(websocket: WebSocket, session: Session, admission: ConnectAdmission) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if session.closed.is_set():
            continue  # closing: drain what the peer still sends until its close arrives
        if text is None:
            session.close_soon(CloseCode.UNSUPPORTED_DATA, "binary frames are not supported")
            continue
        if session.claims is not None:
            await session.handle_text(text)
            continue
        async with admission.turn() as admitted:
            if admitted:
                await session.handle_text(text)
            else:
                session.close_soon(CloseCode.TRY_AGAIN_LATER, "server busy; try again later")


def _close_if_not_connected(session: Session) -> None:
    if session.claims is None:
        session.close_soon(CloseCode.CONNECT_TIMEOUT, "connect timeout")
