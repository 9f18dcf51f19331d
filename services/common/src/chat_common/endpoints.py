"""The HTTP endpoints of a worker (probes and metrics) beside its consumer loop.

The port is bound before anything else starts, so a taken port stops the worker at once, and the
server is stopped last; SIGTERM belongs to the worker, which finishes what it holds before the
endpoints go (uvicorn would otherwise take the signal for itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    return listener


class _WorkerOwnsSignals(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve_endpoints(
    resources: contextlib.AsyncExitStack, app: Starlette, listener: socket.socket
) -> None:
    """Serves ``app`` on ``listener`` until ``resources`` closes."""
    endpoints = _WorkerOwnsSignals(
        uvicorn.Config(app, lifespan="off", access_log=False, log_config=None, log_level="warning")
    )
    serving = asyncio.create_task(endpoints.serve(sockets=[listener]))

    async def stop() -> None:
        endpoints.should_exit = True
        await serving

    resources.push_async_callback(stop)
