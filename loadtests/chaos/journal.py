"""What each client did and saw, as the checker reads it.

A command is written down when it is first sent and keeps every answer it got: a resend (the
outbox after a reconnect, or a deliberate duplicate) is the same command with the same
``client_msg_id``. Entries received are written down per connection, so "in seq order" is
judged where the protocol promises it: on one connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["message", "edit", "delete", "reaction"]


@dataclass(slots=True)
class Entry:
    """A room log entry as the wire carries it (a `message` event, a reply, or a catch-up)."""

    id: str
    room: str
    seq: int
    user: str
    client_msg_id: str
    kind: Kind = "message"
    body: str | None = None
    target: str | None = None
    emoji: str | None = None
    on: bool | None = None
    deleted: bool = False

    @classmethod
    def of(cls, message: dict[str, Any]) -> Entry:
        return cls(
            id=message["id"],
            room=message["room"],
            seq=message["seq"],
            user=message["user"]["id"],
            client_msg_id=message["client_msg_id"],
            kind=message.get("kind", "message"),
            body=message.get("body"),
            target=message.get("target"),
            emoji=message.get("emoji"),
            on=message.get("on"),
            deleted=bool(message.get("deleted", False)),
        )


@dataclass(slots=True)
class Command:
    """One send, edit, delete or react, with every answer to it in the order they came."""

    user: str
    room: str
    kind: Kind
    client_msg_id: str
    sent_at: float
    target: str | None = None
    body: str | None = None
    emoji: str | None = None
    # The entries the command was acknowledged with (one per acknowledged attempt).
    acks: list[Entry] = field(default_factory=list)
    # Error codes it was refused with, and attempts whose connection ended before an answer.
    refusals: list[str] = field(default_factory=list)
    unanswered: int = 0
    acked_at: float | None = None


@dataclass(slots=True)
class Received:
    """An entry as one connection received it: live, or in a join's catch-up."""

    connection: int
    entry: Entry
    at: float
    live: bool


@dataclass(slots=True)
class Joined:
    """A join's reply on one connection: where catch-up started and whether it was whole."""

    connection: int
    room: str
    since: int | None
    last_seq: int
    recovered: bool


@dataclass
class Journal:
    """One person's client: what it sent and what it received, across its connections."""

    user: str
    commands: list[Command] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    joins: list[Joined] = field(default_factory=list)
    connections: int = 0
    # Connected and joined when the journal was read: it must hold each room to its newest.
    connected: bool = False
    # When each connection was joined in every room, and when it ended (None: it has not).
    sessions: list[list[float | None]] = field(default_factory=list)
