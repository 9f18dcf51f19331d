"""A stateful test of what a client shows: generated runs of join, send, edit, delete, react,
leave and reconnect-with-since over the in-memory gateway, checked after every step against a
model of the rooms. Each client folds what it receives as docs/protocol.md "Applying room
events" says; its view of every room it has joined must equal the model's: the messages in seq
order, none twice, with their edits, deletes and reactions."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
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

PEOPLE = ("ada", "bob")
ROOMS = ("north", "south")
EMOJI = ("👍", "🎉", "❤️")
BODIES = st.from_regex(r"[a-z][a-z ]{0,11}", fullmatch=True)
# What a reader shows of a message: (body or None, deleted, edited, {emoji: (count, me)}).
Shown = tuple[str | None, bool, bool, dict[str, tuple[int, bool]]]


@dataclass
class Said:
    """A message as the model holds it."""

    id: str
    seq: int
    author: str
    body: str
    deleted: bool = False
    edited: bool = False
    reactions: dict[str, set[str]] = field(default_factory=dict)

    def seen_by(self, person: str) -> Shown:
        if self.deleted:
            return (None, True, False, {})  # a delete erases the edits too
        counts = {e: (len(who), person in who) for e, who in self.reactions.items() if who}
        return (self.body, False, self.edited, counts)


@dataclass
class Folded:
    """A message as a client holds it after folding what it received."""

    seq: int
    body: str | None
    deleted: bool
    edited: bool
    reactions: dict[str, tuple[int, bool]]
    updated_seq: int = 0

    def shown(self) -> Shown:
        return (self.body, self.deleted, self.edited, dict(self.reactions))


class RoomView:
    def __init__(self, me: str, last_seq: int) -> None:
        self.me = me
        self.last_seq = last_seq
        self.messages: dict[str, Folded] = {}

    def load(self, history: list[dict[str, Any]]) -> None:
        """A history page: messages in their current state."""
        for m in history:
            reactions = {r["emoji"]: (r["count"], r["me"]) for r in m.get("reactions", [])}
            self.messages[m["id"]] = Folded(
                m["seq"],
                m.get("body"),
                bool(m.get("deleted")),
                m.get("edited_at") is not None,
                reactions,
                m.get("updated_seq", 0),
            )

    def apply(self, entry: dict[str, Any]) -> None:
        """One log entry (live or from a catch-up), folded as docs/protocol.md says."""
        seq = entry["seq"]
        assert seq > self.last_seq, f"seq {seq} after {self.last_seq}: out of order or twice"
        self.last_seq = seq
        kind = entry.get("kind")
        if kind is None:
            deleted = bool(entry.get("deleted"))
            body = None if deleted else entry["body"]
            self.messages[entry["id"]] = Folded(seq, body, deleted, False, {})
            return
        target = self.messages.get(entry["target"])
        if target is None or seq <= target.updated_seq:
            return
        target.updated_seq = seq
        if target.deleted:
            return
        if kind == "edit" and not entry.get("deleted"):
            target.body, target.edited = entry["body"], True
        elif kind == "delete":
            target.body, target.deleted, target.edited, target.reactions = None, True, False, {}
        elif kind == "reaction":
            count, me = target.reactions.get(entry["emoji"], (0, False))
            mine = entry["user"]["id"] == self.me
            count += 1 if entry["on"] else -1
            me = entry["on"] if mine else me
            if count:
                target.reactions[entry["emoji"]] = (count, me)
            else:
                target.reactions.pop(entry["emoji"], None)

    def shown(self) -> list[tuple[int, Shown]]:
        return [(m.seq, m.shown()) for m in self.messages.values()]


class Reader:
    """One person's connection and the rooms it has joined, as a client folds them."""

    def __init__(self, me: str, client: Client) -> None:
        self.me = me
        self.client = client
        self.rooms: dict[str, RoomView] = {}
        self.read_up_to = 0
        self.online = True

    def absorb(self) -> None:
        arrivals = self.client.arrivals
        for frame in arrivals[self.read_up_to :]:
            if frame["type"] == "message" and frame["message"]["room"] in self.rooms:
                self.rooms[frame["message"]["room"]].apply(frame["message"])
        self.read_up_to = len(arrivals)


class RoomsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.gateway = MemoryGateway(Chat())
        self.run(self.gateway.__aenter__())
        self.readers = {p: Reader(p, self.run(self.gateway.connect(p))) for p in PEOPLE}
        self.said: dict[str, list[Said]] = {room: [] for room in ROOMS}
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

    def _message(self, pick: int) -> tuple[str, Said]:
        every = [(room, said) for room in ROOMS for said in self.said[room]]
        return every[pick % len(every)]

    def _has_messages(self) -> bool:
        return any(self.said.values())

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
        message = sent["message"]
        self.said[room].append(Said(message["id"], message["seq"], person, body))

    @precondition(_has_messages)
    @rule(person=st.sampled_from(PEOPLE), pick=st.integers(0, 99), body=BODIES)
    def edit(self, person: str, pick: int, body: str) -> None:
        if not self.readers[person].online:
            return
        room, said = self._message(pick)
        answer = self._act(person, "edit", room, said, body=body)
        allowed = said.author == person and not said.deleted
        assert answer["type"] == ("reply" if allowed else "error"), answer
        if allowed:
            said.body, said.edited = body, True

    @precondition(_has_messages)
    @rule(person=st.sampled_from(PEOPLE), pick=st.integers(0, 99))
    def delete(self, person: str, pick: int) -> None:
        if not self.readers[person].online:
            return
        room, said = self._message(pick)
        answer = self._act(person, "delete", room, said)
        allowed = said.author == person and not said.deleted
        assert answer["type"] == ("reply" if allowed else "error"), answer
        if allowed:
            said.deleted = True

    @precondition(_has_messages)
    @rule(person=st.sampled_from(PEOPLE), pick=st.integers(0, 99), emoji=st.sampled_from(EMOJI))
    def react(self, person: str, pick: int, emoji: str) -> None:
        if not self.readers[person].online:
            return
        room, said = self._message(pick)
        answer = self._act(person, "react", room, said, emoji=emoji)
        assert answer["type"] == ("error" if said.deleted else "reply"), answer
        if not said.deleted:
            who = said.reactions.setdefault(emoji, set())
            who.symmetric_difference_update({person})
            assert answer["message"]["on"] is (person in who)

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
                assert view.shown() == self._expected(reader.me, room), (reader.me, room)

    def _agree(self) -> bool:
        for reader in self._online():
            reader.absorb()
            for room, view in reader.rooms.items():
                if view.shown() != self._expected(reader.me, room):
                    return False
        return True

    def _online(self) -> list[Reader]:
        return [reader for reader in self.readers.values() if reader.online]

    def _expected(self, person: str, room: str) -> list[tuple[int, Shown]]:
        return [(said.seq, said.seen_by(person)) for said in self.said[room]]


RoomsMachine.TestCase.settings = settings(
    max_examples=max(5, settings().max_examples // 4), stateful_step_count=20
)
test_rooms_fold_to_the_model = RoomsMachine.TestCase
