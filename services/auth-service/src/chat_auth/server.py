"""``chat-auth``: runs the auth service under uvicorn with settings from ``CHAT_AUTH_*``."""

from __future__ import annotations

import sys

import uvicorn

from chat_auth.app import create_app
from chat_auth.settings import AuthSettings, load_auth_settings
from chat_auth.signing import KeyFileError
from chat_common.logs import configure_logging
from chat_common.proxies import proxy_header_options
from chat_common.settings import SettingsError


def build_config(settings: AuthSettings) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        # uvloop and httptools: the C event loop and HTTP parser (the start-up log names the loop).
        loop="uvloop",
        http="httptools",
        lifespan="on",
        ws="none",
        access_log=False,
        log_config=None,
        # X-Forwarded-For names the client (for login throttling) only from trusted proxies.
        **proxy_header_options(settings.forwarded_allow_ips),
        server_header=False,
        timeout_graceful_shutdown=5,
    )


def main() -> int:
    try:
        settings = load_auth_settings()
        configure_logging(settings.log_level, settings.log_format)
        config = build_config(settings)
    except (SettingsError, KeyFileError) as exc:
        print(f"chat-auth: {exc}", file=sys.stderr)
        return 2
    uvicorn.Server(config).run()
    return 0
