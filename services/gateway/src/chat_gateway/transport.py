"""The WebSocket endpoint: handshake checks, the read loop, and nothing else (G5, G6).

Frame size and UTF-8 are enforced by the WebSocket server itself (uvicorn with the websockets
implementation closes with 1009 and 1007); this layer refuses foreign Origins at the handshake,
binary frames (1003) and surplus connections, has a new session's first commands wait for
their turn (``ConnectAdmission``; 1013 after too long a wait), then hands text to the session.

The client's address is the peer's, or the one a trusted proxy forwards (uvicorn applies
``trusted_proxies`` before this layer sees the connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.responses import PlainTextResponse
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
    origin = websocket.headers.get("origin")
    if origin is not None and origin not in ctx.settings.allowed_origins:
        await websocket.close(1008)  # before accept: uvicorn answers the upgrade with 403
        return
    if ctx.draining:
        await websocket.close(1012)
        return
    admission: ConnectAdmission = websocket.app.state.admission
    if not admission.arrive():
        ctx.metrics.upgrades_refused.inc()
        busy = PlainTextResponse(_BUSY, 503, headers={"Retry-After": _RETRY_AFTER_S})
        with contextlib.suppress(*_GONE):
            await websocket.send_denial_response(busy)
        return
    address = websocket.client.host if websocket.client else "unknown"
    setup = _Setup(admission)
    try:
        if ctx.hub.opened_from(address) > ctx.settings.max_connections_per_ip:
            await _refuse(websocket, ctx, CloseCode.POLICY_VIOLATION, _TOO_MANY)
            return
        try:
            await websocket.accept()
        except _GONE:
            return
        session = Session(ctx, StarletteTransport(websocket), address)
        await _serve(websocket, ctx, session, setup)
    finally:
        setup.done()
        ctx.hub.closed_from(address)


class _Setup:
    """A new connection counted in ``admission`` until set up (``done`` may repeat)."""

    def __init__(self, admission: ConnectAdmission) -> None:
        self.admission = admission
        self._done = False

    def done(self) -> None:
        if not self._done:
            self._done = True
            self.admission.settled()


_TOO_MANY = "too many connections from this address"
_BUSY = "server busy; try again later"
# A refused client backs off anyway; one second tells a native client not to come back at once.
_RETRY_AFTER_S = "1"


# A client may be gone before its handshake completes (it gave up in a storm); uvicorn's
# websockets implementation then fails accept or close with one of these.
_GONE = (RuntimeError, OSError, AttributeError)


async def _refuse(websocket: WebSocket, ctx: GatewayContext, code: int, reason: str) -> None:
    ctx.metrics.closes.labels(str(code)).inc()
    with contextlib.suppress(*_GONE):
        await websocket.accept()  # so the client sees the close code, not an HTTP status
        await websocket.close(code, reason)


async def _serve(
    websocket: WebSocket, ctx: GatewayContext, session: Session, setup: _Setup
) -> None:
    sessions: set[Session] = websocket.app.state.sessions
    sessions.add(session)
    ctx.metrics.connections.inc()
    writer = asyncio.create_task(session.outbound.run())
    loop = asyncio.get_running_loop()
    connect_timer = loop.call_later(
        ctx.settings.connect_timeout_s, _close_if_not_connected, session
    )
    # Connected or closed by then; a client idle after connect holds no place in setup.
    setup_timer = loop.call_later(ctx.settings.connect_timeout_s, setup.done)
    try:
        await _read_frames(websocket, session, setup)
    finally:
        connect_timer.cancel()
        setup_timer.cancel()
        writer.cancel()
        sessions.discard(session)
        ctx.metrics.connections.dec()
        try:
            async with websocket.app.state.admission.cleanups:
                await session.release()
        except Exception as exc:
            log.warning("session cleanup failed", extra={"error": repr(exc)})


async def _read_frames(websocket: WebSocket, session: Session, setup: _Setup) -> None:
    commands_after_connect = 0
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
            commands_after_connect += 1
        if commands_after_connect > 1:
            await session.handle_text(text)
            continue
        async with setup.admission.turn() as admitted:  # connect, and the command after it
            if admitted:
                await session.handle_text(text)
            else:
                session.close_soon(CloseCode.TRY_AGAIN_LATER, _BUSY)
        if commands_after_connect == 1:
            setup.done()


def _close_if_not_connected(session: Session) -> None:
    if session.claims is None:
        session.close_soon(CloseCode.CONNECT_TIMEOUT, "connect timeout")
