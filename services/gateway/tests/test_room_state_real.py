"""A stateful test of the whole message path: generated runs of connect, join, leave, send,
edit, delete, react, a dropped connection, reconnect with ``since`` to either gateway and
resends of a used ``client_msg_id``, on the two gateways of the test system (real Redis, Kafka,
Postgres and persistence worker), checked against the model of the rooms (``room_model``).

After every step: each reply is what the rules say (accepted with the room's next seq, or the
refusal's code; a resend gets its first answer again and makes nothing new), and once the
expected seqs have arrived each connected client's fold of each room it joined equals the
model. At the end of a run Postgres holds exactly the model's log and each message's state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gateway_harness import ChatClient, ChatSystem
from room_model import Reader, RoomsModel, RoomView, Said

pytestmark = pytest.mark.asyncio(loop_scope="session")

T = TypeVar("T")
PEOPLE = ("ada", "bob")
ROOMS = ("north", "south")
GATEWAYS = (0, 1)
EMOJI = ("👍", "🎉", "❤️")
BODIES = st.from_regex(r"[a-z][a-z ]{0,11}", fullmatch=True)
# Bounds of the waits on the real system. None is a measure: each is far above what a step
# takes (milliseconds) so that only something lost, not a busy shared machine, runs into it.
STEP_LIMIT_S = 30.0  # one step's commands (each command has its own 15 s bound)
ARRIVAL_LIMIT_S = 10.0  # the events a step made reaching every connection joined to the room
STORED_LIMIT_S = 30.0  # the worker storing a run's log (it commits a batch every 200 ms)

SETTINGS = settings(max_examples=max(10, settings().max_examples // 20), stateful_step_count=15)


@dataclass(frozen=True)
class Command:
    """A command that carried a ``client_msg_id``, the message it acted on (an edit, delete or
    react) and the answer it got the first time."""

    person: str
    kind: str
    fields: dict[str, Any]
    target: Said | None
    answer: dict[str, Any]


class RealRoomsMachine(RuleBasedStateMachine):
    """Rules run in a worker thread (see the test below); everything that touches a client runs
    as a coroutine on the session loop through ``_run``, the only way in.

    Each person is in one of two bundles, ``online`` or ``offline``, and a rule draws the people
    it applies to from the bundle that fits, so no step of a run is spent on a person who cannot
    take it (every step of a run costs round trips to the real system)."""

    online = Bundle("online")
    offline = Bundle("offline")

    def __init__(self, system: ChatSystem, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.system = system
        self.loop = loop
        run = uuid.uuid4().hex[:12]  # fresh rooms and people: runs never see each other
        self.rooms = {name: f"fold-{name}-{run}" for name in ROOMS}
        self.model = RoomsModel(tuple(self.rooms.values()))
        self.people: dict[str, tuple[str, str]] = {}  # name → (user id, access token)
        for name in PEOPLE:
            user_id, _, token = self._run(system.person(name))
            self.people[name] = (user_id, token)
        self.readers: dict[str, Reader[ChatClient]] = {}
        self.commands: list[Command] = []
        self.ids = 0
        # True once the last step's checks passed. A run that already failed is not checked
        # against Postgres: its model stopped mid-step, and its first failure is the one to see.
        self.settled = False

    def _run(self, work: Coroutine[Any, Any, T], limit_s: float = STEP_LIMIT_S) -> T:
        self.settled = False
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result(limit_s)
        finally:
            future.cancel()  # nothing once it finished; else the work ends with its step

    def teardown(self) -> None:
        try:
            if self.settled:
                self._run(self._stored_as_modelled(), STORED_LIMIT_S + 10)
        finally:
            self._run(self._close_all())

    def _cmid(self) -> str:
        self.ids += 1
        return f"c{self.ids}"

    def _user(self, person: str) -> str:
        return self.people[person][0]

    # -- connections --------------------------------------------------------------------------

    @initialize(target=online)
    def everyone_joins_every_room(self) -> MultipleResults[str]:
        # One person on each gateway, so every step's events cross from one to the other.
        for person, gateway in zip(PEOPLE, GATEWAYS, strict=True):
            self.connect(person, gateway)
            for room in ROOMS:
                self.join(person, room)
        return multiple(*PEOPLE)

    @rule(target=online, person=consumes(offline), gateway=st.sampled_from(GATEWAYS))
    def connect(self, person: str, gateway: int) -> str:
        """A new device signs in: it holds nothing until it joins rooms."""
        self.readers[person] = self._run(self._connected(person, gateway))
        return person

    async def _connected(self, person: str, gateway: int) -> Reader[ChatClient]:
        user_id, token = self.people[person]
        client = await self.system.client(self.system.gateways[gateway], token)
        return Reader(user_id, client)

    @rule(target=offline, person=consumes(online))
    def drop(self, person: str) -> str:
        """The connection drops; the client keeps what it shows until it is back."""
        self._run(self._dropped(self.readers[person]))
        return person

    async def _dropped(self, reader: Reader[ChatClient]) -> None:
        reader.absorb()
        await reader.client.drop()
        reader.online = False

    @rule(target=online, person=consumes(offline), gateway=st.sampled_from(GATEWAYS))
    def reconnect_with_since(self, person: str, gateway: int) -> str:
        """A new connection, to either gateway, joins each room again from the last seq the
        client holds, and gets every entry after it, once, in order (G3)."""
        self.readers[person] = self._run(self._reconnected(person, gateway))
        return person

    async def _reconnected(self, person: str, gateway: int) -> Reader[ChatClient]:
        old = self.readers[person]
        reader = await self._connected(person, gateway)
        for room, view in old.rooms.items():
            joined = await self._command(reader, "join", room=room, since=view.last_seq)
            assert joined["type"] == "reply", joined
            assert joined["recovered"] is True, joined
            missed = range(view.last_seq + 1, self.model.last_seq(room) + 1)
            assert [entry["seq"] for entry in joined["messages"]] == list(missed), joined
            for entry in joined["messages"]:
                view.apply(entry)
            reader.rooms[room] = view
        reader.read_up_to = len(reader.client.arrivals)
        return reader

    async def _close_all(self) -> None:
        for reader in self.readers.values():
            await reader.client.close()

    # -- rooms --------------------------------------------------------------------------------

    @rule(person=online, room=st.sampled_from(ROOMS))
    def join(self, person: str, room: str) -> None:
        self._run(self._joined(self.readers[person], self.rooms[room]))

    async def _joined(self, reader: Reader[ChatClient], room: str) -> None:
        joined = await self._command(reader, "join", room=room)
        assert joined["type"] == "reply", joined
        assert joined["last_seq"] == self.model.last_seq(room), joined
        view = RoomView(reader.me, joined["last_seq"])
        page = await self._command(reader, "history", room=room, limit=100)
        assert page["type"] == "reply", page
        view.load(page["messages"])
        reader.rooms[room] = view
        reader.read_up_to = len(reader.client.arrivals)

    @rule(person=online, room=st.sampled_from(ROOMS))
    def leave(self, person: str, room: str) -> None:
        self._run(self._left(self.readers[person], self.rooms[room]))

    async def _left(self, reader: Reader[ChatClient], room: str) -> None:
        left = await self._command(reader, "leave", room=room)
        assert left["type"] == "reply", left
        reader.rooms.pop(room, None)

    # -- the log ------------------------------------------------------------------------------

    @rule(person=online, room=st.sampled_from(ROOMS), body=BODIES)
    def send(self, person: str, room: str, body: str) -> None:
        room_id = self.rooms[room]
        sent = self._once(person, "send", None, room=room_id, body=body)
        self._check_answer(sent, None, room_id)
        self.model.sent(self._user(person), body, sent["message"])

    @precondition(lambda self: self.model.has_messages())
    @rule(person=online, pick=st.integers(0, 99), body=BODIES)
    def edit(self, person: str, pick: int, body: str) -> None:
        room, said = self.model.pick(pick)
        refusal = self.model.refusal("edit", self._user(person), said)
        answer = self._act(person, "edit", room, said, body=body)
        self._check_answer(answer, refusal, room)
        if refusal is None:
            self.model.edited(self._user(person), said, body, answer["message"])

    @precondition(lambda self: self.model.has_messages())
    @rule(person=online, pick=st.integers(0, 99))
    def delete(self, person: str, pick: int) -> None:
        room, said = self.model.pick(pick)
        refusal = self.model.refusal("delete", self._user(person), said)
        answer = self._act(person, "delete", room, said)
        self._check_answer(answer, refusal, room)
        if refusal is None:
            self.model.deleted(self._user(person), said, answer["message"])

    @precondition(lambda self: self.model.has_messages())
    @rule(person=online, pick=st.integers(0, 99), emoji=st.sampled_from(EMOJI))
    def react(self, person: str, pick: int, emoji: str) -> None:
        room, said = self.model.pick(pick)
        refusal = self.model.refusal("react", self._user(person), said)
        answer = self._act(person, "react", room, said, emoji=emoji)
        self._check_answer(answer, refusal, room)
        if refusal is None:
            self.model.reacted(self._user(person), said, emoji, answer["message"])

    @precondition(lambda self: bool(self.commands))
    @rule(person=online, pick=st.integers(0, 99))
    def resend(self, person: str, pick: int) -> None:
        """A command ``person`` sent, sent again with its ``client_msg_id`` (a retry after a
        lost reply) from whichever gateway they are on now: the first answer again, and nothing
        new in the room (G4), whatever happened to its target since."""
        theirs = [command for command in self.commands if command.person == person]
        if not theirs:
            return
        first = theirs[pick % len(theirs)]
        reader = self.readers[person]
        again = self._run(self._command(reader, first.kind, **first.fields))
        if first.answer["type"] == "reply":
            assert again["type"] == "reply", (first, again)
            assert again["message"] == first.answer["message"], (first, again)
            return
        # A refused command made nothing, so it is checked again against its target as it is
        # now (docs/gateway.md): a delete since turns "forbidden" into "not_found". It stays
        # refused: a delete is final and a message's author never changes.
        assert first.target is not None, first
        refusal = self.model.refusal(first.kind, self._user(person), first.target)
        assert refusal is not None, first
        assert (again["type"], again["code"]) == ("error", refusal), (first, again)

    def _act(self, person: str, kind: str, room: str, said: Said, **fields: Any) -> dict[str, Any]:
        return self._once(person, kind, said, room=room, message_id=said.id, **fields)

    def _once(self, person: str, kind: str, target: Said | None, **fields: Any) -> dict[str, Any]:
        """``kind`` with a new ``client_msg_id``, kept for resending."""
        fields["client_msg_id"] = self._cmid()
        answer = self._run(self._command(self.readers[person], kind, **fields))
        self.commands.append(Command(person, kind, fields, target, answer))
        return answer

    def _check_answer(self, answer: dict[str, Any], refusal: str | None, room: str) -> None:
        if refusal is None:
            assert answer["type"] == "reply", answer
            # One order per room, no seq skipped or used twice (G2).
            assert answer["message"]["seq"] == self.model.last_seq(room) + 1, answer
        else:
            assert (answer["type"], answer["code"]) == ("error", refusal), answer

    async def _command(
        self, reader: Reader[ChatClient], kind: str, **fields: Any
    ) -> dict[str, Any]:
        reader.absorb()  # what came before this command is folded before what it brings
        return await reader.client.command(kind, **fields)

    # -- what must hold -----------------------------------------------------------------------

    @invariant()
    def every_client_shows_what_the_model_holds(self) -> None:
        online = [reader for reader in self.readers.values() if reader.online]
        self._run(self._arrived(online))
        for reader in online:
            for room, view in reader.rooms.items():
                shown = (view.last_seq, view.shown())
                expected = (self.model.last_seq(room), self.model.expected(reader.me, room))
                assert shown == expected, (reader.me, room)
        self.settled = True

    async def _arrived(self, readers: list[Reader[ChatClient]]) -> None:
        """Waits (bounded) until each reader received the room's newest seq of every room it
        joined; the assertions after it say what is missing when one did not."""
        for reader in readers:

            def caught_up(_: ChatClient, reader: Reader[ChatClient] = reader) -> bool:
                reader.absorb()
                last = self.model.last_seq
                return all(view.last_seq >= last(room) for room, view in reader.rooms.items())

            try:
                await reader.client.wait_for(caught_up, ARRIVAL_LIMIT_S)
            except TimeoutError:
                return

    async def _stored_as_modelled(self) -> None:
        """Once the worker stored every entry of the log (polled, bounded), Postgres holds
        the model's log and each message's state, nothing else."""
        deadline = self.loop.time() + STORED_LIMIT_S
        connection = await asyncpg.connect(self.system.database_url)
        try:
            for room in self.model.log:
                while (stored := await _entries(connection, room)) < self.model.last_seq(room):
                    assert self.loop.time() < deadline, f"{room}: {stored} entries stored"
                    await asyncio.sleep(0.1)
                assert await _stored(connection, room) == self._modelled(room), room
        finally:
            await connection.close()

    def _modelled(self, room: str) -> dict[str, list[tuple[Any, ...]]]:
        """What Postgres should hold of ``room`` (see ``_stored``)."""
        said = {message.id: message for message in self.model.said[room]}
        log = []
        for entry in self.model.log[room]:
            # A delete erases the words of the message and of its edits.
            erased = said[entry.target or entry.id].deleted and entry.kind in ("message", "edit")
            body = None if erased else entry.body
            logged = (entry.seq, entry.id, entry.kind, entry.author, entry.target, body)
            log.append((*logged, entry.emoji, entry.on))
        states = [
            (m.id, None if m.deleted else m.body, m.edited and not m.deleted, m.deleted)
            for m in said.values()
        ]
        reactions = sorted(
            (m.id, emoji, person)
            for m in said.values()
            if not m.deleted
            for emoji, people in m.reactions.items()
            for person in people
        )
        return {"log": log, "messages": states, "reactions": reactions}


async def _entries(connection: asyncpg.Connection, room: str) -> int:
    return int(await connection.fetchval("SELECT count(*) FROM messages WHERE room = $1", room))


async def _stored(connection: asyncpg.Connection, room: str) -> dict[str, list[tuple[Any, ...]]]:
    """``room`` as Postgres holds it: every row of its log (services/migrations 0003, 0008),
    each message's current state, and the reactions that count (``reaction_on``) together with
    every reaction row of a deleted message, of which there should be none."""
    log = await connection.fetch(
        "SELECT seq, id::text, kind, user_id, target::text, body, emoji, reaction_on"
        " FROM messages WHERE room = $1 ORDER BY seq",
        room,
    )
    states = await connection.fetch(
        "SELECT id::text, coalesce(edited_body, body), edited_at IS NOT NULL,"
        " deleted_at IS NOT NULL FROM messages WHERE room = $1 AND kind = 'message' ORDER BY seq",
        room,
    )
    reactions = await connection.fetch(
        "SELECT r.message_id::text, r.emoji, r.user_id FROM message_reactions r"
        " JOIN messages m ON m.id = r.message_id"
        " WHERE m.room = $1 AND (r.reaction_on OR m.deleted_at IS NOT NULL)"
        " ORDER BY 1, 2, 3",
        room,
    )
    return {
        "log": [tuple(row) for row in log],
        "messages": [tuple(row) for row in states],
        "reactions": [tuple(row) for row in reactions],
    }


async def test_rooms_on_real_gateways_fold_to_the_model_and_are_stored_as_modelled(
    system: ChatSystem,
) -> None:
    # The system and its clients belong to the session event loop, which runs this test.
    # Hypothesis drives a state machine synchronously, so the machine runs in a worker thread
    # while this coroutine awaits it, which leaves the loop free: each step hands its work to
    # the loop as a coroutine (``run_coroutine_threadsafe``) and blocks until it is done. One
    # side runs at a time, so the machine never reads a client's state while the loop changes
    # it, and every client is used on the loop it was made on.
    loop = asyncio.get_running_loop()

    class OnThisSystem(RealRoomsMachine):
        def __init__(self) -> None:
            super().__init__(system, loop)

    await asyncio.to_thread(run_state_machine_as_test, OnThisSystem, settings=SETTINGS)
