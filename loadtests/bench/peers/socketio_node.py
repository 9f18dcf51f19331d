"""One python-socketio node behind uvicorn; nodes share rooms through AsyncRedisManager, as its
documentation shows for running more than one process. No auth, no storage.

    python loadtests/bench/peers/socketio_node.py PORT REDIS_URL
"""

from __future__ import annotations

import sys
from typing import Any

import socketio
import uvicorn


def create_app(redis_url: str) -> socketio.ASGIApp:
    server = socketio.AsyncServer(
        async_mode="asgi", client_manager=socketio.AsyncRedisManager(redis_url)
    )

    @server.event  # type: ignore[untyped-decorator]
    async def join(sid: str, data: dict[str, Any]) -> dict[str, bool]:
        await server.enter_room(sid, data["room"])
        return {"ok": True}

    @server.event  # type: ignore[untyped-decorator]
    async def send(sid: str, data: dict[str, Any]) -> dict[str, bool]:
        await server.emit("message", data, room=data["room"])
        return {"ok": True}

    return socketio.ASGIApp(server)


if __name__ == "__main__":
    uvicorn.run(
        create_app(sys.argv[2]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        ws="websockets",
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
    )
