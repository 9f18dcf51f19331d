"""A client that talks steadily and comes back after every fault, as the web app does.

It keeps one connection to a gateway, joins its rooms (with `since` = the newest seq it holds
after the first time), and sends one command at a time: messages mostly, edits and deletes of
its own messages, reactions to anyone's, and now and then the same command again. A command
without an answer stays in its outbox and is sent again, with the same `client_msg_id`, until
it is acknowledged or refused for good (the web app's outbox, docs/protocol.md). When the
connection ends, it reconnects, to the next gateway in its list, with a short backoff.
Everything it sends and receives goes into its ``Journal``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from chaos.checker import FINAL_REFUSALS
from chaos.journal import Command, Entry, Joined, Journal, Kind, Received

EMOJI = ("👍", "🎉", "❤️", ":tada:")
# How long a command waits for its answer before the connection is presumed broken.
ANSWER_S = 10.0
# Backoff between reconnects, doubled per failed attempt up to the cap, with jitter.
BACKOFF_S, BACKOFF_CAP_S = 0.2, 2.0
# A command refused as retryable (`unavailable`, `rate_limited`) is sent again after this.
RETRY_S = 0.5


class Gone(Exception):
    """The connection ended (closed, reset, drained or no answer in time)."""


class Speaker:
    def __init__(
        self,
        journal: Journal,
        token: Callable[[bool], Awaitable[str]],
        urls: list[str],
        rooms: list[str],
        *,
        origin: str,
        rate_per_s: float,
        seed: int,
        first: int = 0,
        body_chars: int = 40,
    ) -> None:
        self.journal = journal
        self._token = token  # token(renew): the person's access token, a new one if renew
        self.urls = urls
        self.rooms = rooms
        self.origin = origin
        self.rate_per_s = rate_per_s
        self.body_chars = body_chars
        self._random = random.Random(seed)
        self._next_url = first
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._joining: dict[int, tuple[str, int | None]] = {}  # join command id -> (room, since)
        self._outbox: deque[Command] = deque()
        self._mine: dict[str, deque[str]] = {room: deque(maxlen=20) for room in rooms}
        self._recent: dict[str, deque[str]] = {room: deque(maxlen=20) for room in rooms}
        self._newest: dict[str, int] = {}
        self._connection: ClientConnection | None = None
        self._joined = asyncio.Event()
        self.paused = False
        self.acks: list[float] = []  # when each acknowledgement arrived

    # --- what the runner asks -------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """Joined everywhere with nothing in flight."""
        return self._joined.is_set() and not self._outbox

    def newest(self, room: str) -> int:
        return self._newest.get(room, 0)

    def drop(self) -> None:
        """End the connection abruptly (a network drop); the speaker reconnects at once."""
        if self._connection is not None:
            self._connection.transport.abort()

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        renew = False
        while not stop.is_set():
            url = self.urls[self._next_url % len(self.urls)]
            try:
                renew = await self._session(url, stop, renew)
                failures = 0
            except (Gone, OSError, InvalidHandshake, ConnectionClosed, TimeoutError):
                failures += 1
            finally:
                self._joined.clear()
                if self.journal.connected:
                    self.journal.sessions[-1][1] = time.monotonic()
                self.journal.connected = False
            if stop.is_set():
                return
            self._next_url += 1
            if failures:
                delay = min(BACKOFF_CAP_S, BACKOFF_S * 2 ** (failures - 1))
                await asyncio.sleep(delay * (0.5 + self._random.random() / 2))

    # --- one connection -------------------------------------------------------------------

    async def _session(self, url: str, stop: asyncio.Event, renew: bool) -> bool:
        """One connection from connect to its end; True when the token must be renewed."""
        async with asyncio.timeout(10):
            connection = await connect(
                url,
                additional_headers={"Origin": self.origin},
                compression=None,
                max_size=None,
                open_timeout=5,
                close_timeout=1,
            )
        self._connection = connection
        self.journal.connections += 1
        number = self.journal.connections
        reader = asyncio.create_task(self._read(connection, number))
        try:
            reply = await self._ask(connection, "connect", token=await self._token(renew))
            if reply["type"] == "error":
                if reply.get("code") == "unauthorized":
                    return True  # connect again at once, with a new token
                raise Gone()  # unavailable: back off, then try the next gateway
            for room in self.rooms:
                await self._join(connection, number, room)
            self._joined.set()
            self.journal.connected = True
            self.journal.sessions.append([time.monotonic(), None])
            await self._talk(connection, reader, stop)
            return False
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 1)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            for waiter in self._replies.values():
                if not waiter.done():
                    waiter.set_exception(Gone())
            self._replies.clear()
            self._connection = None

    async def _join(self, connection: ClientConnection, number: int, room: str) -> None:
        while True:
            since = self._newest.get(room)
            fields: dict[str, Any] = {"room": room}
            if since is not None:
                fields["since"] = since
            reply = await self._ask(connection, "join", joining=(room, since), **fields)
            if reply["type"] == "reply":
                return
            if reply.get("code") in FINAL_REFUSALS:
                raise RuntimeError(f"join {room} refused: {reply}")
            await asyncio.sleep(RETRY_S)  # unavailable while a dependency is down

    def _take_join(self, number: int, room: str, since: int | None, reply: dict[str, Any]) -> None:
        """A join's reply, taken in as it arrives: its catch-up comes before any live entry
        read after it."""
        self.journal.joins.append(
            Joined(number, room, since, reply["last_seq"], bool(reply.get("recovered", True)))
        )
        now = time.monotonic()
        for message in reply.get("messages", []):
            self._receive(Entry.of(message), number, now, live=False)
        if since is None:  # the first join: the room starts for this person here
            self._newest[room] = max(self._newest.get(room, 0), reply["last_seq"])

    async def _read(self, connection: ClientConnection, number: int) -> None:
        try:
            async for raw in connection:
                frame = msgspec.json.decode(raw)
                kind = frame.get("type")
                if kind in ("reply", "error") and frame.get("id") in self._replies:
                    joining = self._joining.pop(frame["id"], None)
                    if joining is not None and kind == "reply":
                        self._take_join(number, *joining, frame)
                    waiter = self._replies.pop(frame["id"])
                    if not waiter.done():
                        waiter.set_result(frame)
                elif kind == "message":
                    self._receive(Entry.of(frame["message"]), number, time.monotonic(), live=True)
                elif kind == "reconnect":  # draining: go elsewhere now, as the web app does
                    connection.transport.abort()
                    return
        finally:
            # The connection is gone: a command waiting for its answer learns it now, not
            # when its answer's time is up.
            for waiter in self._replies.values():
                if not waiter.done():
                    waiter.set_exception(Gone())

    def _receive(self, entry: Entry, number: int, at: float, *, live: bool) -> None:
        self.journal.received.append(Received(number, entry, at, live))
        if entry.room not in self._recent:
            return
        self._newest[entry.room] = max(entry.seq, self._newest.get(entry.room, 0))
        if entry.kind == "message":
            self._recent[entry.room].append(entry.id)
            if entry.user == self.journal.user:
                self._mine[entry.room].append(entry.id)

    async def _ask(
        self,
        connection: ClientConnection,
        kind: str,
        joining: tuple[str, int | None] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        number = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[number] = waiter
        if joining is not None:
            self._joining[number] = joining
        try:
            await connection.send(
                msgspec.json.encode({"type": kind, "id": number, **fields}).decode()
            )
            async with asyncio.timeout(ANSWER_S):
                return await waiter
        except (ConnectionClosed, TimeoutError) as ended:
            raise Gone() from ended
        finally:
            self._replies.pop(number, None)
            self._joining.pop(number, None)

    # --- talking --------------------------------------------------------------------------

    async def _talk(
        self, connection: ClientConnection, reader: asyncio.Task[None], stop: asyncio.Event
    ) -> None:
        async def wait(seconds: float) -> None:
            """Sleep, unless the connection ends first: then it is gone."""
            await asyncio.wait({reader}, timeout=seconds)
            if reader.done():
                raise Gone()

        while not stop.is_set():
            if not self._outbox:
                if self.paused or self.rate_per_s <= 0:
                    await wait(0.1)
                    continue
                await wait(self._random.expovariate(self.rate_per_s))
                if stop.is_set() or self.paused:
                    continue
                self._outbox.append(self._compose())
            command = self._outbox[0]
            answer = await self._attempt(connection, command)
            if answer == "done":
                self._outbox.popleft()
                if not self.paused and self._random.random() < 0.05:
                    self._outbox.append(command)  # the same command again: G4
            elif answer == "retry":
                await wait(RETRY_S)

    async def _attempt(self, connection: ClientConnection, command: Command) -> str:
        fields: dict[str, Any] = {"room": command.room, "client_msg_id": command.client_msg_id}
        if command.target is not None:
            fields["message_id"] = command.target
        if command.body is not None:
            fields["body"] = command.body
        if command.emoji is not None:
            fields["emoji"] = command.emoji
        kind = {"message": "send", "reaction": "react"}.get(command.kind, command.kind)
        try:
            reply = await self._ask(connection, kind, **fields)
        except Gone:
            command.unanswered += 1
            raise
        if reply["type"] == "reply":
            now = time.monotonic()
            command.acks.append(Entry.of(reply["message"]))
            command.acked_at = command.acked_at or now
            self.acks.append(now)
            return "done"
        code = str(reply.get("code"))
        command.refusals.append(code)
        return "done" if code in FINAL_REFUSALS else "retry"

    def _compose(self) -> Command:
        room = self._random.choice(self.rooms)
        user, now = self.journal.user, time.monotonic()
        cmid = f"{user[:8]}-{len(self.journal.commands)}-{self._random.getrandbits(32):08x}"
        roll = self._random.random()
        kind: Kind = "message"
        target = body = emoji = None
        if roll < 0.10 and self._mine[room]:
            kind, target = "edit", self._random.choice(self._mine[room])
            body = f"edited {cmid}"
        elif roll < 0.15 and self._mine[room]:
            kind, target = "delete", self._mine[room].popleft()
        elif roll < 0.30 and self._recent[room]:
            kind, target = "reaction", self._random.choice(self._recent[room])
            emoji = self._random.choice(EMOJI)
        else:
            body = f"{cmid} " + "x" * max(0, self.body_chars - len(cmid) - 1)
        command = Command(user, room, kind, cmid, now, target=target, body=body, emoji=emoji)
        self.journal.commands.append(command)
        return command
