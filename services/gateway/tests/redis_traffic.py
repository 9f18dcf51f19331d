"""What the broker tests and the tests that fail Redis under real gateways share: room frames
to publish, and senders that resend each message until it is acknowledged."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
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


async def assert_delivered_once_in_order(
    database_url: str, senders: list[ResendingSender], receivers: list[tuple[str, ChatClient]]
) -> None:
    """After a Redis fault under traffic: every message was acknowledged, no seq was given twice
    in a room, each sender's seqs kept increasing, Postgres holds each acknowledged message once
    and nothing else, and every receiver got its room's messages in seq order."""
    acked = [message for sender in senders for message in sender.messages]
    assert len(acked) == sum(sender.sends for sender in senders)
    rooms = sorted({sender.room for sender in senders})
    for room in rooms:  # no seq given twice
        seqs = [m["seq"] for m in acked if m["room"] == room]
        assert len(seqs) == len(set(seqs)), f"{room}: a seq given twice"
    for sender in senders:  # one sender's messages, sent one after another, keep increasing
        own = [m["seq"] for m in sender.messages]
        assert own == sorted(own), f"{sender.name}: a seq went back: {own}"

    connection = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(30):
            while True:
                rows = await connection.fetch(
                    "SELECT id::text, room, seq FROM messages WHERE room = ANY($1::text[])", rooms
                )
                if len(rows) >= len(acked):
                    break
                await asyncio.sleep(0.25)
    finally:
        await connection.close()
    stored = {(row["id"], row["room"], row["seq"]) for row in rows}
    assert len(rows) == len(stored) == len(acked)  # once each, nothing else
    assert stored == {(m["id"], m["room"], m["seq"]) for m in acked}

    for room, receiver in receivers:
        expected = sorted(m["seq"] for m in acked if m["room"] == room)

        def caught_up(client: ChatClient, room: str = room, count: int = len(expected)) -> bool:
            return len(client.messages(room)) >= count

        await receiver.wait_for(caught_up, limit_s=30)
        got = [m["seq"] for m in receiver.messages(room)]
        assert got == expected, f"{room}: received {got}"
