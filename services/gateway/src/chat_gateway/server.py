"""``chat-gateway``: runs the gateway on uvloop: the HTTP routes under uvicorn (httptools), the
WebSocket endpoint on picows (``websocket.py``), both in one event loop.

SIGTERM drains: the gateway stops taking connections, tells every client to reconnect
elsewhere, waits ``drain_grace_s``, closes the rest with 1012, then exits. A second signal
exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from types import FrameType

import uvicorn

from chat_common.logs import configure_logging, log_event_loop
from chat_common.object_store import ObjectStoreSettings
from chat_common.proxies import proxy_header_options
from chat_common.settings import SettingsError
from chat_gateway.app import create_app, drain
from chat_gateway.settings import GatewaySettings, load_gateway_settings, load_object_store_settings

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, settings: GatewaySettings) -> None:
        super().__init__(config)
        self._settings = settings
        self._draining: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        log_event_loop(log)
        await super().startup(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining is not None or self._loop is None or sig != signal.SIGTERM:
            super().handle_exit(sig, frame)
            return
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._draining = asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        app = self.config.loaded_app
        # uvicorn wraps the app in middleware; the Starlette app is at the bottom.
        while hasattr(app, "app"):
            app = app.app
        try:
            await drain(app, self._settings.drain_grace_s)
        finally:
            self.should_exit = True


def build_config(
    settings: GatewaySettings, object_store: ObjectStoreSettings | None = None
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, object_store),
        host=settings.host,
        port=settings.port,
        # uvloop and httptools: the C event loop and HTTP parser. WebSockets are not served here
        # but by picows on ws_port (no per-frame ASGI messages, no per-connection writer task).
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
        # The client's address (per-address limit) from X-Forwarded-For of trusted proxies only.
        **proxy_header_options(settings.trusted_proxies),
    )


def main() -> int:
    try:
        settings = load_gateway_settings()
        object_store = load_object_store_settings()
    except SettingsError as exc:
        print(f"chat-gateway: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if object_store is None:
        log.info("no CHAT_OBJECT_STORE_* settings: this gateway takes no attachments")
    server = DrainingServer(build_config(settings, object_store), settings)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
