"""The consistency checker: the clients' journals held against what Postgres stored.

Run it when the traffic has settled (no command in flight, every acknowledged entry given time to
be stored). Each breach names the guarantee of docs/architecture.md it breaks:

- **G1 durable ack.** Every acknowledged entry is stored, once, as acknowledged (room, seq,
  author, kind, target). Every entry a client received is stored: nothing was fanned out that
  was not durable. Nothing is stored that no client sent.
- **G2 one order per room.** A seq names one entry, for every client and for Postgres. On one
  connection a room's entries arrive in increasing seq, none twice. The one exception the
  gateway documents (docs/gateway.md "Fan-out and order"): a message whose send was refused
  (`unavailable`) or went unanswered keeps its seq when it is sent again, and reaches the
  connections that were never sent it late, below seqs they already have. Such an arrival is
  counted as ``late``, and only an entry whose command had such an attempt may arrive so.
- **G3 no gaps after reconnect.** A client holds every stored entry of a room from where it
  first joined to the newest it received, once across all its connections (a join with `since`
  brings nothing it had), and every join's catch-up was whole (`recovered`).
- **G4 idempotent send.** Every answer to a command, first or resent, is the same entry; a
  `client_msg_id` is stored at most once; a command refused for good is not stored.
- **Fold.** The state Postgres holds for each message (text, deleted, reactions) is the fold of
  the room's stored log in seq order (docs/protocol.md "Applying room events"), and so is every
  client's view of each message it holds.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from chaos.journal import Entry, Journal

# Refusals that say the command was judged and will never be stored; `unavailable`,
# `rate_limited` and `internal` say nothing of the kind, and their commands are resent.
FINAL_REFUSALS = frozenset({"bad_request", "not_found", "forbidden", "too_large", "unauthorized"})
# Examples kept per kind of breach: enough to debug from, not a flood.
EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A row of ``messages``: the log entry and, for a message, its current state."""

    id: str
    room: str
    seq: int
    user: str
    client_msg_id: str
    kind: str
    target: str | None
    body: str | None  # as sent; NULL once a delete erased it
    emoji: str | None
    on: bool | None
    edited_body: str | None
    deleted: bool


@dataclass(frozen=True, slots=True)
class StoredReaction:
    """A row of ``message_reactions``."""

    message_id: str
    emoji: str
    user: str
    on: bool


@dataclass
class Shown:
    """A message's state: its text, whether deleted, and who reacted with what."""

    body: str | None
    deleted: bool = False
    reactions: dict[str, set[str]] = field(default_factory=dict)

    def key(self) -> tuple[str | None, bool, frozenset[tuple[str, frozenset[str]]]]:
        if self.deleted:  # a delete erases the text and the reactions shown with it
            return (None, True, frozenset())
        return (
            self.body,
            False,
            frozenset((emoji, frozenset(who)) for emoji, who in self.reactions.items() if who),
        )


def fold(entries: Iterable[Entry | StoredEntry]) -> dict[str, Shown]:
    """Messages by id after applying ``entries`` in the order given (seq order): an edit
    replaces the text, a delete is final, a reaction adds or takes back one person's emoji."""
    shown: dict[str, Shown] = {}
    for entry in entries:
        if entry.kind == "message":
            shown.setdefault(entry.id, Shown(entry.body))
            continue
        target = shown.get(entry.target or "")
        if target is None or target.deleted:
            continue
        if entry.kind == "edit":
            target.body = entry.body
        elif entry.kind == "delete":
            target.deleted, target.body, target.reactions = True, None, {}
        elif entry.kind == "reaction" and entry.emoji is not None:
            who = target.reactions.setdefault(entry.emoji, set())
            (who.add if entry.on else who.discard)(entry.user)
    return shown


@dataclass
class Verdict:
    """What the checker found: counts, and each kind of breach with a few examples."""

    commands: int = 0
    acknowledged: int = 0
    resent: int = 0
    stored: int = 0
    received: int = 0
    late: int = 0  # arrivals below the connection's newest, of a send refused before (see G2)
    breaches: dict[str, int] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def breach(self, kind: str, example: str) -> None:
        self.breaches[kind] += 1
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append(example)

    @property
    def holds(self) -> bool:
        return not self.breaches

    def summary(self) -> str:
        lines = [
            f"{self.commands} commands ({self.acknowledged} acknowledged, {self.resent} resent), "
            f"{self.stored} entries stored, {self.received} received ({self.late} late after "
            "a refused send, as documented)"
        ]
        for kind, count in sorted(self.breaches.items()):
            lines.append(f"  {kind}: {count}, e.g. {'; '.join(self.examples[kind])}")
        return "\n".join(lines)


def check(
    journals: Sequence[Journal], stored: Sequence[StoredEntry], reactions: Sequence[StoredReaction]
) -> Verdict:
    """Every breach of G1 to G4 and of the fold found in ``journals`` against ``stored``: the
    rows of every room the journals' clients used, and their reactions."""
    verdict = Verdict(stored=len(stored))
    by_id = {row.id: row for row in stored}
    _check_commands(verdict, journals, stored, by_id)
    _check_log(verdict, stored, reactions)
    # Entries whose seq may have been given up on by the gateways: a send of theirs failed.
    retried = {
        command.acks[0].id
        for journal in journals
        for command in journal.commands
        if command.acks and (command.refusals or command.unanswered)
    }
    # Read once for every journal: each room's log and newest seq, and the fold of the whole log.
    rooms: dict[str, list[StoredEntry]] = defaultdict(list)
    for row in sorted(stored, key=lambda row: (row.room, row.seq)):
        rooms[row.room].append(row)
    newest = {room: rows[-1].seq for room, rows in rooms.items()}
    expected = fold(row for rows in rooms.values() for row in rows)
    for journal in journals:
        _check_receiver(verdict, journal, rooms, by_id, retried, newest, expected)
    return verdict


def _same(entry: Entry, row: StoredEntry) -> bool:
    return (entry.room, entry.seq, entry.user, entry.client_msg_id, entry.kind, entry.target) == (
        row.room,
        row.seq,
        row.user,
        row.client_msg_id,
        row.kind,
        row.target,
    )


def _check_commands(
    verdict: Verdict,
    journals: Sequence[Journal],
    stored: Sequence[StoredEntry],
    by_id: dict[str, StoredEntry],
) -> None:
    copies = Counter((row.user, row.client_msg_id) for row in stored)
    sent = set()
    for journal in journals:
        for command in journal.commands:
            key = (command.user, command.client_msg_id)
            sent.add(key)
            verdict.commands += 1
            verdict.resent += len(command.acks) + len(command.refusals) + command.unanswered > 1
            if copies[key] > 1:
                verdict.breach("G4 stored twice", f"{command.client_msg_id} x {copies[key]}")
            if not command.acks:
                if copies[key] and FINAL_REFUSALS.intersection(command.refusals):
                    verdict.breach(
                        "G4 refused, yet stored", f"{command.client_msg_id} {command.refusals}"
                    )
                continue
            verdict.acknowledged += 1
            first = command.acks[0]
            if any((ack.id, ack.seq) != (first.id, first.seq) for ack in command.acks[1:]):
                answers = sorted({(ack.id, ack.seq) for ack in command.acks})
                verdict.breach(
                    "G4 resend answered differently", f"{command.client_msg_id} {answers}"
                )
            row = by_id.get(first.id)
            if row is None:
                verdict.breach(
                    "G1 acknowledged, not stored", f"{first.room}#{first.seq} {first.id}"
                )
            elif not _same(first, row):
                verdict.breach(
                    "G1 stored unlike its acknowledgement",
                    f"{first.room}#{first.seq} acked, stored as #{row.seq} {row.kind}",
                )
    for row in stored:
        if (row.user, row.client_msg_id) not in sent:
            verdict.breach("G1 stored, never sent", f"{row.room}#{row.seq} {row.client_msg_id}")


def _check_log(
    verdict: Verdict, stored: Sequence[StoredEntry], reactions: Sequence[StoredReaction]
) -> None:
    """The current state the worker keeps is the fold of the log it stored."""
    rooms: dict[str, list[StoredEntry]] = defaultdict(list)
    for row in stored:
        rooms[row.room].append(row)
    held: dict[str, dict[str, set[str]]] = defaultdict(dict)
    for reaction in reactions:
        if reaction.on:
            held[reaction.message_id].setdefault(reaction.emoji, set()).add(reaction.user)
    for room, rows in rooms.items():
        rows.sort(key=lambda row: row.seq)
        for previous, row in itertools.pairwise(rows):
            if previous.seq == row.seq:
                verdict.breach("G2 one seq, two entries", f"{room}#{row.seq}")
        expected = fold(rows)
        for row in rows:
            if row.kind != "message":
                continue
            actual = Shown(
                None
                if row.deleted
                else (row.edited_body if row.edited_body is not None else row.body),
                row.deleted,
                held.get(row.id, {}),
            )
            if actual.key() != expected[row.id].key():
                verdict.breach(
                    "fold: stored state is not the fold of the stored log",
                    f"{room}#{row.seq}: {actual.key()} != {expected[row.id].key()}",
                )


def _check_receiver(
    verdict: Verdict,
    journal: Journal,
    rooms: dict[str, list[StoredEntry]],
    by_id: dict[str, StoredEntry],
    retried: set[str],
    newest_stored: dict[str, int],
    expected: dict[str, Shown],
) -> None:
    who = journal.user[:8]
    newest: dict[tuple[int, str], int] = {}
    got: set[tuple[int, str, int]] = set()
    held: dict[str, dict[int, Entry]] = defaultdict(dict)
    for received in journal.received:
        entry = received.entry
        verdict.received += 1
        row = by_id.get(entry.id)
        if row is None:
            verdict.breach(
                "G1 received, not stored", f"{who} got {entry.room}#{entry.seq} {entry.id}"
            )
        elif (row.room, row.seq) != (entry.room, entry.seq):
            verdict.breach(
                "G2 one entry, two seqs",
                f"{entry.id} is {entry.room}#{entry.seq} to {who}, #{row.seq} stored",
            )
        line = (received.connection, entry.room)
        if (received.connection, entry.room, entry.seq) in got:
            verdict.breach(
                "G2 twice on one connection",
                f"{who} conn {received.connection}: {entry.room}#{entry.seq}",
            )
        elif entry.seq <= newest.get(line, 0):
            if entry.id in retried:
                verdict.late += 1
            else:
                verdict.breach(
                    "G2 out of order on one connection",
                    f"{who} conn {received.connection}: {entry.room}#{entry.seq} after "
                    f"#{newest[line]}",
                )
        got.add((received.connection, entry.room, entry.seq))
        newest[line] = max(entry.seq, newest.get(line, 0))
        held[entry.room].setdefault(entry.seq, entry)
    _check_holes(verdict, journal, rooms, held, newest_stored)
    _check_views(verdict, journal, held, expected)


def _check_holes(
    verdict: Verdict,
    journal: Journal,
    rooms: dict[str, list[StoredEntry]],
    held: dict[str, dict[int, Entry]],
    last: dict[str, int],
) -> None:
    who = journal.user[:8]
    starts: dict[str, int] = {}
    for joined in journal.joins:
        starts.setdefault(joined.room, joined.last_seq)
        if not joined.recovered:
            verdict.breach(
                "G3 catch-up not whole", f"{who} joined {joined.room} since {joined.since}"
            )
    # The same entry on two connections: a join whose `since` brought back what was held.
    seen: dict[tuple[str, int], int] = {}
    for received in journal.received:
        line = (received.entry.room, received.entry.seq)
        if seen.setdefault(line, received.connection) != received.connection:
            verdict.breach(
                "G3 received again after a reconnect",
                f"{who} {line[0]}#{line[1]} on conn {seen[line]} and {received.connection}",
            )
    for room, start in starts.items():
        have = held.get(room, {})
        newest = max(have, default=0)
        for row in rooms.get(room, ()):
            if start < row.seq < newest and row.seq not in have:
                verdict.breach("G3 hole", f"{who} lacks {room}#{row.seq} ({row.kind})")
    if journal.connected:
        for room, start in starts.items():
            newest = max(held.get(room, {}), default=start)
            if newest < last.get(room, 0):
                verdict.breach(
                    "G3 stopped receiving", f"{who} has {room} to #{newest} of #{last[room]}"
                )


def _check_views(
    verdict: Verdict,
    journal: Journal,
    held: dict[str, dict[int, Entry]],
    expected: dict[str, Shown],
) -> None:
    """A client's fold of what it holds equals the fold of the stored log, message by message."""
    who = journal.user[:8]
    for room, entries in held.items():
        view = fold(entries[seq] for seq in sorted(entries))
        for message_id, shown in view.items():
            truth = expected.get(message_id)
            if truth is not None and truth.key() != shown.key():
                verdict.breach(
                    "fold: a client's view is not the fold of the stored log",
                    f"{who} {room} {message_id[:8]}: {shown.key()} != {truth.key()}",
                )
