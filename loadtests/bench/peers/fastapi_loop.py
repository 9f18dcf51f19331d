"""The broadcast loop that FastAPI's WebSocket tutorial shows, with rooms: one process, every
member of a room awaited in turn, no auth, no storage. It speaks the chat's own `join` and `send`
frames so the benchmark's chat client drives it unchanged.

    python loadtests/bench/peers/fastapi_loop.py PORT
"""

from __future__ import annotations

import json
import sys

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, list[WebSocket]] = {}

    def join(self, room: str, websocket: WebSocket) -> None:
        self.rooms.setdefault(room, []).append(websocket)

    def leave(self, websocket: WebSocket) -> None:
        for members in self.rooms.values():
            if websocket in members:
                members.remove(websocket)

    async def broadcast(self, room: str, text: str) -> None:
        for connection in list(self.rooms.get(room, [])):
            await connection.send_text(text)


def create_app() -> FastAPI:
    app = FastAPI()
    manager = ConnectionManager()

    @app.websocket("/ws")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                frame = json.loads(await websocket.receive_text())
                room = frame["room"]
                if frame["type"] == "join":
                    manager.join(room, websocket)
                elif frame["type"] == "send":
                    message = {"room": room, "body": frame["body"]}
                    await manager.broadcast(
                        room, json.dumps({"type": "message", "message": message})
                    )
                await websocket.send_text(json.dumps({"type": "reply", "id": frame["id"]}))
        except WebSocketDisconnect:
            manager.leave(websocket)

    return app


if __name__ == "__main__":
    # The same server settings as the chat's gateways: legacy websockets, no deflate.
    uvicorn.run(
        create_app(),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        ws="websockets",
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
    )
