"""One WebSocket of the chat protocol for locust users, on websocket-client (gevent-friendly).

Commands wait for the reply with their id; a reader greenlet hands every event to a callback and
runs a command's reply hook before it reads the next frame, so what a reply establishes (the
`last_seq` of a join) is known before the room's next event is looked at.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import gevent
import websocket
from gevent.event import AsyncResult

Frame = dict[str, Any]


class CommandFailedError(Exception):
    """A command answered with an error frame, or not answered in time."""


class SocketClosedError(CommandFailedError):
    pass


class ChatSocket:
    def __init__(
        self,
        url: str,
        *,
        origin: str,
        sslopt: dict[str, Any],
        on_event: Callable[[Frame], None],
        reply_timeout_s: float,
    ) -> None:
        self._url = url
        self._origin = origin
        self._sslopt = sslopt
        self._on_event = on_event
        self._reply_timeout_s = reply_timeout_s
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[AsyncResult[Frame], Callable[[Frame], None] | None]] = {}
        self._ws: websocket.WebSocket | None = None
        self._reader: gevent.Greenlet[[websocket.WebSocket], None] | None = None
        self.close_reason = ""

    @property
    def open(self) -> bool:
        return self._ws is not None and self._ws.connected and not self.close_reason

    def connect(self) -> None:
        self._ws = websocket.create_connection(
            self._url, origin=self._origin, sslopt=self._sslopt, timeout=self._reply_timeout_s
        )
        # Reads wait as long as the socket lives; the server pings and websocket-client pongs.
        self._ws.settimeout(None)
        self.close_reason = ""
        self._reader = gevent.spawn(self._read, self._ws)

    def command(
        self, kind: str, on_reply: Callable[[Frame], None] | None = None, **fields: Any
    ) -> Frame:
        """Sends a command; returns its reply, or raises ``CommandFailedError``."""
        if self._ws is None or not self.open:
            raise SocketClosedError(f"{kind}: the socket is closed ({self.close_reason})")
        command_id = next(self._ids)
        result: AsyncResult[Frame] = AsyncResult()
        self._pending[command_id] = (result, on_reply)
        try:
            self._ws.send(json.dumps({"type": kind, "id": command_id, **fields}))
            frame = result.get(timeout=self._reply_timeout_s)
        except gevent.Timeout as exc:
            raise CommandFailedError(f"{kind}: no reply in {self._reply_timeout_s}s") from exc
        except websocket.WebSocketException as exc:
            raise SocketClosedError(f"{kind}: {exc}") from exc
        finally:
            self._pending.pop(command_id, None)
        if frame is None:  # only set_exception or set(frame) ever complete it
            raise CommandFailedError(f"{kind}: no reply")
        if frame["type"] != "reply":
            raise CommandFailedError(f"{kind}: {frame.get('code')}: {frame.get('message')}")
        return frame

    def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()
        if self._reader is not None:
            self._reader.kill()
            self._reader = None
        self._fail_pending("closed by the client")

    def _read(self, ws: websocket.WebSocket) -> None:
        try:
            while True:
                raw = ws.recv()
                if not raw:  # a close frame
                    break
                self._dispatch(json.loads(raw))
        except (websocket.WebSocketException, OSError) as exc:
            self.close_reason = f"{type(exc).__name__}: {exc}"
        if not self.close_reason:
            self.close_reason = f"closed by the server ({ws.status})"
        self._fail_pending(self.close_reason)

    def _dispatch(self, frame: Frame) -> None:
        waiting = (
            self._pending.get(frame.get("id", -1)) if frame["type"] in ("reply", "error") else None
        )
        if waiting is None:
            self._on_event(frame)
            return
        result, on_reply = waiting
        if on_reply is not None and frame["type"] == "reply":
            on_reply(frame)
        result.set(frame)

    def _fail_pending(self, reason: str) -> None:
        for result, _ in list(self._pending.values()):
            if not result.ready():
                result.set_exception(SocketClosedError(reason))
