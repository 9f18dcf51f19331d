"""What the stateful tests of rooms check a gateway against: a model of the rooms (every
message with its edits, deletes and reactions, and the log of entries that made them) and the
fold a client makes of what it receives, as docs/protocol.md "Applying room events" says.

The model is keyed by user ids and room ids, so the in-memory gateway's tests and those of the
real gateways (whose people and rooms are fresh per run) share it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

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


@dataclass(frozen=True)
class Logged:
    """One entry of a room's log as the gateway acknowledged it: a message or an event."""

    seq: int
    id: str
    kind: str  # message, edit, delete, reaction
    author: str
    target: str | None = None
    body: str | None = None  # a message's or an edit's words as sent
    emoji: str | None = None
    on: bool | None = None


class RoomsModel:
    """The rooms as every client should come to show them, and what the rules answer."""

    def __init__(self, rooms: tuple[str, ...]) -> None:
        self.said: dict[str, list[Said]] = {room: [] for room in rooms}
        self.log: dict[str, list[Logged]] = {room: [] for room in rooms}

    def has_messages(self) -> bool:
        return any(self.said.values())

    def pick(self, pick: int) -> tuple[str, Said]:
        """A message of any room, by a generated number."""
        every = [(room, said) for room, messages in self.said.items() for said in messages]
        return every[pick % len(every)]

    def last_seq(self, room: str) -> int:
        return self.log[room][-1].seq if self.log[room] else 0

    def expected(self, person: str, room: str) -> list[tuple[int, Shown]]:
        """What ``person`` should be shown of ``room``: its messages in seq order."""
        return [(said.seq, said.seen_by(person)) for said in self.said[room]]

    def refusal(self, kind: str, person: str, said: Said) -> str | None:
        """The error code the gateway answers ``kind`` (edit, delete, react) of ``person`` on
        ``said`` with; None when it is accepted. Nobody here owns or moderates a room."""
        if said.deleted:
            return "not_found"
        if kind in ("edit", "delete") and said.author != person:
            return "forbidden"
        return None

    def sent(self, person: str, body: str, message: dict[str, Any]) -> None:
        """An acknowledged ``send``: ``message`` is its reply's message."""
        room = message["room"]
        self.said[room].append(Said(message["id"], message["seq"], person, body))
        self.log[room].append(Logged(message["seq"], message["id"], "message", person, body=body))

    def edited(self, person: str, said: Said, body: str, event: dict[str, Any]) -> None:
        """An accepted ``edit`` of ``said`` to ``body``; ``event`` is its reply's message."""
        said.body, said.edited = body, True
        self._logged(event, person, said, body=body)

    def deleted(self, person: str, said: Said, event: dict[str, Any]) -> None:
        said.deleted = True
        self._logged(event, person, said)

    def reacted(self, person: str, said: Said, emoji: str, event: dict[str, Any]) -> None:
        """An accepted ``react``: it toggles ``person``'s ``emoji`` on ``said``."""
        who = said.reactions.setdefault(emoji, set())
        who.symmetric_difference_update({person})
        assert event["on"] is (person in who), event
        self._logged(event, person, said, emoji=emoji, on=event["on"])

    def _logged(self, event: dict[str, Any], person: str, said: Said, **fields: Any) -> None:
        logged = Logged(event["seq"], event["id"], event["kind"], person, said.id, **fields)
        self.log[event["room"]].append(logged)


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
    """One room as a client shows it: the fold of a history page and the log entries after it."""

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


class Receiving(Protocol):
    """A client connection as a reader sees it: every frame that arrived, in order."""

    @property
    def arrivals(self) -> list[dict[str, Any]]: ...


C = TypeVar("C", bound=Receiving)


class Reader(Generic[C]):
    """One person's connection and the rooms it has joined, as a client folds them."""

    def __init__(self, me: str, client: C) -> None:
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
