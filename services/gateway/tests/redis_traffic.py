"""What the broker tests and the tests that fail Redis under real gateways share: room frames
to publish, and senders that resend each message until it is acknowledged."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import msgspec

from chat_common.envelope import Author, Envelope
from chat_gateway.frames import RoomFrame, frame_of
from gateway_harness import ChatClient


def envelope_of(room: str, user: str, seq: int, client_msg_id: str) -> bytes:
    """A message's envelope as the gateway records and publishes it."""
    envelope = Envelope(
        id=str(uuid.uuid4()),
        room=room,
        seq=seq,
        user=Author(id=user, name="Ada"),
        body=f"message {seq}",
        ts="2026-01-01T00:00:00.000Z",
        client_msg_id=client_msg_id,
    )
    return msgspec.json.encode(envelope)


def frame_at(room: str, seq: int) -> RoomFrame:
    return frame_of(msgspec.json.decode(envelope_of(room, "u", seq, f"c{seq}"), type=Envelope))


class ResendingSender:
    """Sends ``sends`` messages one at a time, each until acknowledged (resent with the same
    client_msg_id after ``unavailable``), and notes each acknowledgement's time."""

    def __init__(
        self, client: ChatClient, room: str, name: str, *, sends: int, interval_s: float
    ) -> None:
        self.client, self.room, self.name = client, room, name
        self.sends, self.interval_s = sends, interval_s
        self.acked: list[tuple[float, dict[str, Any]]] = []
        self.refused = 0

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [message for _, message in self.acked]

    async def run(self) -> None:
        for n in range(self.sends):
            cmid = f"{self.name}-{n}"
            while True:
                reply = await self.client.command(
                    "send", room=self.room, body=f"{self.name} {n}", client_msg_id=cmid
                )
                if reply["type"] == "reply":
                    self.acked.append((time.monotonic(), reply["message"]))
                    break
                assert reply["code"] == "unavailable", reply
                self.refused += 1
                await asyncio.sleep(0.1)
            await asyncio.sleep(self.interval_s)
