"""A stateful test of what a client shows: generated runs of join, send, edit, delete, react,
leave and reconnect-with-since over the in-memory gateway, checked after every step against a
model of the rooms. Each client folds what it receives as docs/protocol.md "Applying room
events" says; its view of every room it has joined must equal the model's: the messages in seq
order, none twice, with their edits, deletes and reactions."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from memory_gateway import Chat, Client, MemoryGateway
from room_model import Reader, RoomsModel, RoomView, Said

PEOPLE = ("ada", "bob")
ROOMS = ("north", "south")
EMOJI = ("👍", "🎉", "❤️")
BODIES = st.from_regex(r"[a-z][a-z ]{0,11}", fullmatch=True)


class RoomsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.gateway = MemoryGateway(Chat())
        self.run(self.gateway.__aenter__())
        self.readers: dict[str, Reader[Client]] = {
            p: Reader(p, self.run(self.gateway.connect(p))) for p in PEOPLE
        }
        self.model = RoomsModel(ROOMS)
        self.ids = 0

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        try:
            self.run(self.gateway.__aexit__(None, None, None))
        finally:
            self.loop.close()

    def _cmid(self) -> str:
        self.ids += 1
        return f"c{self.ids}"

    def _request(self, person: str, kind: str, **fields: Any) -> dict[str, Any]:
        reader = self.readers[person]
        assert reader.online
        reader.absorb()
        answer: dict[str, Any] = self.run(reader.client.request(kind, **fields))
        return answer

    def _has_messages(self) -> bool:
        return self.model.has_messages()

    @initialize()
    def everyone_joins_every_room(self) -> None:
        # Runs start with rooms to watch, so short runs reach catch-ups and live events.
        for person in PEOPLE:
            for room in ROOMS:
                self.join(person, room)

    @rule(person=st.sampled_from(PEOPLE), room=st.sampled_from(ROOMS))
    def join(self, person: str, room: str) -> None:
        if not self.readers[person].online:
            return
        reader = self.readers[person]
        joined = self._request(person, "join", room=room)
        assert joined["type"] == "reply", joined
        view = RoomView(person, joined["last_seq"])
        page = self._request(person, "history", room=room, limit=100)
        view.load(page["messages"])
        reader.rooms[room] = view
        reader.read_up_to = len(reader.client.arrivals)

    @rule(person=st.sampled_from(PEOPLE), room=st.sampled_from(ROOMS))
    def leave(self, person: str, room: str) -> None:
        if not self.readers[person].online:
            return
        assert self._request(person, "leave", room=room)["type"] == "reply"
        self.readers[person].rooms.pop(room, None)

    @rule(person=st.sampled_from(PEOPLE))
    def drop(self, person: str) -> None:
        """The connection drops; the client keeps what it shows until it is back."""
        reader = self.readers[person]
        if reader.online:
            reader.absorb()
            self.run(reader.client.gone())
            reader.online = False

    @rule(person=st.sampled_from(PEOPLE))
    def reconnect_with_since(self, person: str) -> None:
        """A new connection joins each room again from the last seq the client holds."""
        old = self.readers[person]
        if old.online:
            return
        reader = Reader(person, self.run(self.gateway.connect(person)))
        self.readers[person] = reader
        for room, view in old.rooms.items():
            joined = self._request(person, "join", room=room, since=view.last_seq)
            assert joined["type"] == "reply", joined
            assert joined["recovered"] is True
            for entry in joined["messages"]:
                view.apply(entry)
            reader.rooms[room] = view
        reader.read_up_to = len(reader.client.arrivals)

    @rule(person=st.sampled_from(PEOPLE), room=st.sampled_from(ROOMS), body=BODIES)
    def send(self, person: str, room: str, body: str) -> None:
        if not self.readers[person].online:
            return
        sent = self._request(person, "send", room=room, body=body, client_msg_id=self._cmid())
        assert sent["type"] == "reply", sent
        self.model.sent(person, body, sent["message"])

    @precondition(_has_messages)
    @rule(person=st.sampled_from(PEOPLE), pick=st.integers(0, 99), body=BODIES)
    def edit(self, person: str, pick: int, body: str) -> None:
        if not self.readers[person].online:
            return
        room, said = self.model.pick(pick)
        answer = self._act(person, "edit", room, said, body=body)
        allowed = self.model.refusal("edit", person, said) is None
        assert answer["type"] == ("reply" if allowed else "error"), answer
        if allowed:
            self.model.edited(person, said, body, answer["message"])

    @precondition(_has_messages)
    @rule(person=st.sampled_from(PEOPLE), pick=st.integers(0, 99))
    def delete(self, person: str, pick: int) -> None:
        if not self.readers[person].online:
            return
        room, said = self.model.pick(pick)
        answer = self._act(person, "delete", room, said)
        allowed = self.model.refusal("delete", person, said) is None
        assert answer["type"] == ("reply" if allowed else "error"), answer
        if allowed:
            self.model.deleted(person, said, answer["message"])

    @precondition(_has_messages)
    @rule(person=st.sampled_from(PEOPLE), pick=st.integers(0, 99), emoji=st.sampled_from(EMOJI))
    def react(self, person: str, pick: int, emoji: str) -> None:
        if not self.readers[person].online:
            return
        room, said = self.model.pick(pick)
        answer = self._act(person, "react", room, said, emoji=emoji)
        allowed = self.model.refusal("react", person, said) is None
        assert answer["type"] == ("reply" if allowed else "error"), answer
        if allowed:
            self.model.reacted(person, said, emoji, answer["message"])

    def _act(self, person: str, kind: str, room: str, said: Said, **fields: Any) -> dict[str, Any]:
        return self._request(
            person, kind, room=room, message_id=said.id, client_msg_id=self._cmid(), **fields
        )

    @invariant()
    def every_client_shows_what_the_model_holds(self) -> None:
        async def settled() -> None:
            # Live events reach the other connections a moment after the reply.
            async with asyncio.timeout(0.5):
                while not self._agree():
                    await asyncio.sleep(0.001)

        with contextlib.suppress(TimeoutError):  # then the assertion below says what differs
            self.run(settled())
        for reader in self._online():
            for room, view in reader.rooms.items():
                assert view.shown() == self.model.expected(reader.me, room), (reader.me, room)

    def _agree(self) -> bool:
        for reader in self._online():
            reader.absorb()
            for room, view in reader.rooms.items():
                if view.shown() != self.model.expected(reader.me, room):
                    return False
        return True

    def _online(self) -> list[Reader[Client]]:
        return [reader for reader in self.readers.values() if reader.online]


RoomsMachine.TestCase.settings = settings(
    max_examples=max(5, settings().max_examples // 4), stateful_step_count=20
)
test_rooms_fold_to_the_model = RoomsMachine.TestCase
