"""The WebSocket endpoint on picows: handshake checks, frames in, frames out (G5, G6).

picows parses and builds frames in C and calls back without a task or an await per frame, so
a delivery costs one ``write`` per member. The handshake refuses a foreign Origin (403), a
draining gateway and a gateway with too many sessions in setup (503 with ``Retry-After``, which
the balancer retries on another gateway) before any WebSocket exists. After it: binary frames
close with 1003, invalid UTF-8 with 1007, a message over the size limit with 1009 (fragmented
messages are reassembled up to the same limit), a frame RFC 6455 forbids with 1002 (picows
refuses most; reserved bits, misplaced fragments and bad close codes are refused here), a peer
that stops answering pings is closed by picows (1001), and everything else goes to the
connection's ``Session``.

The client's address is the peer's, or the one a trusted proxy forwards (``chat_common.proxies``).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from typing import Any

import picows
from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
)

from chat_common.errors import CloseCode
from chat_common.proxies import client_address
from chat_gateway.context import GatewayContext
from chat_gateway.session import Session

log = logging.getLogger(__name__)

_BUSY = b"server busy; try again later"
# A refused client backs off anyway; one second tells a native client not to come back at once.
_RETRY_AFTER = {"Retry-After": "1"}
# After our close frame the peer has this long to answer with its own before the socket is cut.
_CLOSE_WAIT_S = 2.0
# Each connection starts with a read buffer this small: a command is a few hundred bytes, and
# picows grows the buffer for a larger frame (up to the frame limit) when one comes.
_READ_BUFFER_BYTES = 1024
_UTF8 = codecs.getincrementaldecoder("utf-8")
# Close codes below 3000 a peer may send (RFC 6455 7.4.1 and the IANA registry): 1004-1006 and
# 1015 are reserved, the rest is unassigned. 3000-4999 belong to libraries and applications.
_PEER_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})


class WebSocketServer:
    """Serves ``/ws`` on its own port, beside the HTTP routes, in the same event loop."""

    def __init__(self, ctx: GatewayContext, sessions: set[Session]) -> None:
        self._ctx = ctx
        self._sessions = sessions
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        settings = self._ctx.settings
        self._server = await picows.ws_create_server(
            self._upgrade,
            settings.host,
            settings.ws_port,
            websocket_handshake_timeout=settings.connect_timeout_s,
            enable_auto_ping=True,
            enable_auto_pong=False,  # pings are answered in on_ws_frame
            auto_ping_idle_timeout=settings.ping_interval_s,
            auto_ping_reply_timeout=settings.ping_timeout_s,
            auto_ping_strategy=WSAutoPingStrategy.PING_WHEN_IDLE,
            max_frame_size=settings.max_frame_bytes,
            read_buffer_init_size=_READ_BUFFER_BYTES,
            disconnect_on_exception=True,
            logger_name="gateway.ws",
            # uvloop's own transport, not aiofastnet's: 15 KiB per idle connection instead of
            # 19 at 10,000 connections, and no measurable difference in CPU per delivery
            # (docs/benchmarks.md).
            use_aiofastnet=False,
        )
        log.info("websocket endpoint listening", extra={"port": settings.ws_port})

    async def close(self) -> None:
        """Stop listening, and wait for the server's connections to be let go, for at most the
        close handshakes' time: the drain has closed them already. Unbounded, this wait once
        held a drained gateway in its shutdown for good (uvloop still counted a connection)."""
        if self._server is None:
            return
        self._server.close()
        try:
            async with asyncio.timeout(self._ctx.settings.drain_close_wait_s):
                await self._server.wait_closed()
        except TimeoutError:
            log.warning("websocket server still held connections at shutdown; going on")

    def _upgrade(
        self, request: WSUpgradeRequest
    ) -> WSListener | WSUpgradeResponseWithListener | None:
        ctx = self._ctx
        if request.path.split(b"?", 1)[0] != b"/ws":
            return None  # 404
        origin = request.headers.get("origin")
        if origin is not None and origin not in ctx.settings.allowed_origins:
            return _refusal(403, b"origin not allowed")
        if ctx.draining or ctx.admission.full:
            ctx.metrics.upgrades_refused.inc()
            return _refusal(503, _BUSY, _RETRY_AFTER)
        return Connection(ctx, self._sessions, request.headers.get("x-forwarded-for"))


def _refusal(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> WSUpgradeResponseWithListener:
    response = WSUpgradeResponse.create_error_response(status, body, headers)
    return WSUpgradeResponseWithListener(response, None)


def _close_reply(payload: bytes) -> tuple[WSCloseCode, bytes]:
    """The close frame that answers the peer's: its code and reason echoed (RFC 6455 5.5.1).
    picows has already refused a payload of one byte, a reason that is not UTF-8 and most codes
    below 3000 that no one may send; what it lets through that is not a code a peer may send
    (0, 1006, 5000 and above) is a protocol error. No code at all is answered with 1000."""
    if not payload:
        return WSCloseCode.OK, b""
    code = int.from_bytes(payload[:2], "big")
    if not (code in _PEER_CLOSE_CODES or 3000 <= code <= 4999):
        return WSCloseCode.PROTOCOL_ERROR, b"invalid close code"
    return WSCloseCode(code), payload[2:]


class Connection(WSListener):
    """One client socket: the session's ``Transport`` and the source of its frames."""

    def __init__(self, ctx: GatewayContext, sessions: set[Session], forwarded: str | None) -> None:
        super().__init__()
        self._ctx = ctx
        self._sessions = sessions
        self._forwarded = forwarded
        self._ws: WSTransport | None = None
        self._session: Session | None = None
        self._address = ""
        self._counted = False
        self._in_setup = True
        self._fragments: bytearray | None = None  # a fragmented message so far
        self._utf8: codecs.IncrementalDecoder | None = None  # and its UTF-8 check
        self._setup_deadline: asyncio.TimerHandle | None = None
        self._close_deadline: asyncio.TimerHandle | None = None

    # -- picows callbacks ---------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        ctx = self._ctx
        self._ws = transport
        peer: Any = transport.underlying_transport.get_extra_info("peername")
        self._address = client_address(
            peer[0] if peer else "unknown", self._forwarded, ctx.settings.trusted_proxies
        )
        self._counted = True
        ctx.admission.arrive()
        if ctx.hub.opened_from(self._address) > ctx.settings.max_connections_per_ip:
            ctx.metrics.closes.labels(str(CloseCode.POLICY_VIOLATION.value)).inc()
            self.close(CloseCode.POLICY_VIOLATION, "too many connections from this address")
            return
        session = Session(ctx, self, self._address, on_set_up=self._set_up)
        self._session = session
        self._sessions.add(session)
        ctx.metrics.connections.inc()
        self._setup_deadline = asyncio.get_running_loop().call_later(
            ctx.settings.connect_timeout_s, self._setup_ends
        )

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        session = self._session
        if session is None or transport.is_close_frame_sent:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
            return  # closing: what the peer still sends until its close arrives is dropped
        kind = frame.msg_type
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            # No extension is ever negotiated (the handshake answers none), so a reserved bit
            # means the peer speaks something else, a compressed frame say (RFC 6455 5.2).
            session.close_soon(CloseCode.PROTOCOL_ERROR, "reserved bits set")
        elif kind == WSMsgType.TEXT or kind == WSMsgType.CONTINUATION:
            self._text(session, frame)
        elif kind == WSMsgType.BINARY:
            if self._fragments is not None:
                session.close_soon(
                    CloseCode.PROTOCOL_ERROR, "a new message inside a fragmented one"
                )
            else:
                session.close_soon(CloseCode.UNSUPPORTED_DATA, "binary frames are not supported")
        elif kind == WSMsgType.PING:
            # Answered here rather than by picows, which would answer before the reserved
            # bits above are looked at.
            transport.send_pong(frame.get_payload_as_bytes())
        elif kind == WSMsgType.CLOSE:
            transport.send_close(*_close_reply(frame.get_payload_as_bytes()))
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self._close_deadline is not None:
            self._close_deadline.cancel()
            self._close_deadline = None
        self._set_up()
        if self._counted:
            self._ctx.hub.closed_from(self._address)
        session = self._session
        if session is None:
            return
        self._sessions.discard(session)
        self._ctx.metrics.connections.dec()
        asyncio.get_running_loop().create_task(self._release(session))

    # -- Transport ----------------------------------------------------------------------------

    def write(self, frame: bytes) -> None:
        if self._ws is not None and not self._ws.is_disconnected:
            self._ws.underlying_transport.write(frame)

    def buffered(self) -> int:
        if self._ws is None:
            return 0
        size: int = self._ws.underlying_transport.get_write_buffer_size()
        return size

    def close(self, code: int, reason: str) -> None:
        ws = self._ws
        if ws is None or ws.is_disconnected or ws.is_close_frame_sent:
            return
        ws.send_close(
            WSCloseCode(code), reason.encode()[:123]
        )  # a close reason is at most 123 bytes
        if self._close_deadline is None:
            self._close_deadline = asyncio.get_running_loop().call_later(
                _CLOSE_WAIT_S, ws.disconnect
            )

    def pause_reading(self) -> None:
        if self._ws is not None:
            self._ws.underlying_transport.pause_reading()

    def resume_reading(self) -> None:
        if self._ws is not None and not self._ws.is_disconnected:
            self._ws.underlying_transport.resume_reading()

    # -- inside -------------------------------------------------------------------------------

    def _text(self, session: Session, frame: WSFrame) -> None:
        text: str | None
        if frame.msg_type == WSMsgType.TEXT and frame.fin and self._fragments is None:
            try:
                text = frame.get_payload_as_bytes().decode()
            except UnicodeDecodeError:
                session.close_soon(CloseCode.INVALID_PAYLOAD, "frames must be valid UTF-8")
                return
        else:
            text = self._reassemble(session, frame)
        if text is not None:
            session.receive(text)

    def _reassemble(self, session: Session, frame: WSFrame) -> str | None:
        """A fragmented message, complete; None while parts are missing or it went wrong.

        The parts are kept in one buffer, not one object each (a message in one-byte fragments
        would cost some forty times its size), and checked as UTF-8 as they come: a message
        that is invalid from its first fragment is refused there, not at its end.
        """
        starts = frame.msg_type == WSMsgType.TEXT
        if starts == (self._fragments is not None):
            session.close_soon(CloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
            return None
        if starts:
            self._fragments = bytearray()
            self._utf8 = _UTF8()
        assert self._fragments is not None
        assert self._utf8 is not None
        if len(self._fragments) + frame.payload_size > self._ctx.settings.max_frame_bytes:
            session.close_soon(CloseCode.MESSAGE_TOO_BIG, "message too big")
            self._fragments = self._utf8 = None
            return None
        payload = frame.get_payload_as_memoryview()
        try:
            self._utf8.decode(payload, final=frame.fin)  # checked; the text is decoded once, whole
        except UnicodeDecodeError:
            session.close_soon(CloseCode.INVALID_PAYLOAD, "frames must be valid UTF-8")
            self._fragments = self._utf8 = None
            return None
        self._fragments += payload
        if not frame.fin:
            return None
        text = self._fragments.decode()
        self._fragments = self._utf8 = None
        return text

    def _set_up(self) -> None:
        """Set up (its first commands done) or gone: it leaves the sessions in setup."""
        if self._setup_deadline is not None:
            self._setup_deadline.cancel()
            self._setup_deadline = None
        if self._in_setup:
            self._in_setup = False
            self._ctx.admission.settled()

    def _setup_ends(self) -> None:
        """``connect_timeout_s`` after the upgrade: a session still without ``connect`` is
        closed, and one connected but idle since holds no place in setup any more."""
        self._setup_deadline = None
        if self._session is not None and self._session.claims is None:
            self._session.close_soon(CloseCode.CONNECT_TIMEOUT, "connect timeout")
        self._set_up()

    async def _release(self, session: Session) -> None:
        try:
            async with self._ctx.admission.cleanups:
                await session.release()
        except Exception as exc:
            log.warning("session cleanup failed", extra={"error": repr(exc)})
