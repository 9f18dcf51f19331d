"""The consistency checker finds each breach it promises to find, and nothing in a clean history.

Each test builds a small history that holds (two people in one room, a message, an edit, a
reaction, a delete, a resend, a reconnect with catch-up), breaks one thing, and expects exactly
the breach that names it.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from chaos.checker import StoredEntry, StoredReaction, Verdict, check, fold
from chaos.journal import Command, Entry, Joined, Journal, Kind, Received

ROOM = "north"
ADA, BOB = "ada-0000-user", "bob-0000-user"


class History:
    """A history that holds: what Postgres stored and what both clients sent and received."""

    def __init__(self) -> None:
        self.stored: list[StoredEntry] = []
        self.reactions: list[StoredReaction] = []
        self.journals = {ADA: Journal(ADA), BOB: Journal(BOB)}
        for journal in self.journals.values():
            journal.connections = 1
            journal.connected = True
            journal.joins.append(Joined(1, ROOM, None, 0, True))
        hello = self.say(ADA, "message", body="hello")
        self.say(BOB, "message", body="hi ada")
        self.say(ADA, "edit", target=hello.id, body="hello, bob")
        self.say(BOB, "reaction", target=hello.id, emoji="👍", on=True)
        bye = self.say(BOB, "message", body="bye")
        self.say(BOB, "delete", target=bye.id)
        # Bob's connection drops; he comes back with since = 6 and catches up on Ada's 7.
        self.journals[BOB].connections = 2
        self.journals[BOB].joins.append(Joined(2, ROOM, 6, 6, True))
        self.say(ADA, "message", body="are you there?", bob_live=False)
        # Ada sends her first message again: the same answer, nothing new.
        first = self.journals[ADA].commands[0]
        first.acks.append(first.acks[0])
        # The worker's state: the edit applied, bye deleted, the reaction on.
        self.stored = [
            dataclasses.replace(row, edited_body="hello, bob") if row.id == hello.id else row
            for row in self.stored
        ]
        self.stored = [
            dataclasses.replace(row, deleted=True, body=None) if row.id == bye.id else row
            for row in self.stored
        ]
        self.reactions.append(StoredReaction(hello.id, "👍", BOB, True))

    def say(
        self,
        user: str,
        kind: Kind,
        *,
        body: str | None = None,
        target: str | None = None,
        emoji: str | None = None,
        on: bool | None = None,
        bob_live: bool = True,
    ) -> Entry:
        seq = len(self.stored) + 1
        cmid = f"{user[:3]}-{seq}"
        entry = Entry(str(uuid.uuid4()), ROOM, seq, user, cmid, kind, body, target, emoji, on)
        command = Command(user, ROOM, kind, cmid, float(seq), target, body, emoji)
        command.acks.append(entry)
        self.journals[user].commands.append(command)
        self.stored.append(
            StoredEntry(entry.id, ROOM, seq, user, cmid, kind, target, body, emoji, on, None, False)
        )
        for journal in self.journals.values():
            live = journal.user == ADA or bob_live
            connection = journal.connections if journal.user == BOB else 1
            journal.received.append(Received(connection, entry, float(seq), live))
        return entry

    def check(self) -> Verdict:
        return check(list(self.journals.values()), self.stored, self.reactions)

    def row(self, seq: int) -> StoredEntry:
        return next(row for row in self.stored if row.seq == seq)

    def replace_row(self, at: int, **changes: object) -> None:
        self.stored = [
            dataclasses.replace(row, **changes) if row.seq == at else row  # type: ignore[arg-type]
            for row in self.stored
        ]


def breaches(verdict: Verdict) -> set[str]:
    return set(verdict.breaches)


def test_a_history_that_keeps_every_guarantee_holds() -> None:
    verdict = History().check()
    assert verdict.holds, verdict.summary()
    assert (verdict.commands, verdict.acknowledged, verdict.resent, verdict.stored) == (7, 7, 1, 7)


def test_an_acknowledged_entry_missing_from_postgres_is_lost() -> None:
    history = History()
    history.stored = [row for row in history.stored if row.seq != 7]
    assert breaches(history.check()) == {"G1 acknowledged, not stored", "G1 received, not stored"}


def test_an_entry_stored_under_another_seq_than_acknowledged_is_named() -> None:
    history = History()
    history.replace_row(7, seq=8)
    assert "G1 stored unlike its acknowledgement" in breaches(history.check())


def test_a_row_no_client_sent_is_named() -> None:
    history = History()
    ghost = dataclasses.replace(history.row(2), id=str(uuid.uuid4()), seq=9, client_msg_id="x")
    history.stored.append(ghost)
    # Nobody received it either: the clients stop short of the room's newest entry.
    assert breaches(history.check()) == {"G1 stored, never sent", "G3 stopped receiving"}


def test_an_entry_received_but_never_stored_is_named() -> None:
    history = History()
    stray = dataclasses.replace(history.journals[BOB].received[0].entry, id=str(uuid.uuid4()))
    history.journals[BOB].received.insert(1, Received(1, stray, 1.5, True))
    assert "G1 received, not stored" in breaches(history.check())


def test_entries_out_of_order_on_one_connection_are_named() -> None:
    history = History()
    received = history.journals[ADA].received
    received[1], received[2] = received[2], received[1]
    assert breaches(history.check()) == {"G2 out of order on one connection"}


def test_only_a_send_refused_before_may_arrive_late() -> None:
    history = History()
    received = history.journals[ADA].received
    received[1], received[2] = received[2], received[1]  # bob's "hi ada" (seq 2) comes late
    history.journals[BOB].commands[0].refusals.append("unavailable")
    verdict = history.check()
    assert verdict.holds, verdict.summary()
    assert verdict.late == 1


def test_an_entry_twice_on_one_connection_is_named() -> None:
    history = History()
    received = history.journals[ADA].received
    received.append(Received(1, received[3].entry, 9.0, True))
    assert breaches(history.check()) == {"G2 twice on one connection"}


def test_an_entry_received_under_another_seq_is_named() -> None:
    history = History()
    received = history.journals[ADA].received[6]
    received.entry = dataclasses.replace(received.entry, seq=8)
    assert "G2 one entry, two seqs" in breaches(history.check())


def test_a_hole_a_client_never_filled_is_named() -> None:
    history = History()
    del history.journals[BOB].received[2]  # the edit of seq 3
    assert "G3 hole" in breaches(history.check())


def test_a_connected_client_that_stopped_receiving_is_named() -> None:
    history = History()
    del history.journals[BOB].received[-1]  # Ada's 7, never caught up
    assert breaches(history.check()) == {"G3 stopped receiving"}
    history.journals[BOB].connected = False  # still reconnecting: nothing to judge yet
    assert history.check().holds


def test_an_entry_received_again_after_a_reconnect_is_named() -> None:
    history = History()
    again = history.journals[BOB].received[5]
    history.journals[BOB].received.insert(6, Received(2, again.entry, 6.5, False))
    assert breaches(history.check()) == {"G3 received again after a reconnect"}


def test_a_catch_up_that_was_not_whole_is_named() -> None:
    history = History()
    history.journals[BOB].joins[-1].recovered = False
    assert breaches(history.check()) == {"G3 catch-up not whole"}


def test_a_resend_answered_with_another_entry_is_named() -> None:
    history = History()
    command = history.journals[ADA].commands[0]
    command.acks[1] = dataclasses.replace(command.acks[1], id=str(uuid.uuid4()), seq=9)
    assert breaches(history.check()) == {"G4 resend answered differently"}


def test_a_client_msg_id_stored_twice_is_named() -> None:
    history = History()
    twice = dataclasses.replace(history.row(1), id=str(uuid.uuid4()), seq=8)
    history.stored.append(twice)
    assert "G4 stored twice" in breaches(history.check())


def test_a_command_refused_for_good_that_was_stored_anyway_is_named() -> None:
    history = History()
    command = history.journals[ADA].commands[-1]
    command.acks.clear()
    command.refusals.append("forbidden")
    assert breaches(history.check()) == {"G4 refused, yet stored"}
    command.refusals[-1] = "unavailable"  # maybe stored: a resend may still be answered
    assert history.check().holds


def test_a_stored_state_that_is_not_the_fold_of_the_log_is_named() -> None:
    history = History()
    history.replace_row(1, edited_body=None)  # the worker lost the edit
    assert breaches(history.check()) == {"fold: stored state is not the fold of the stored log"}
    history = History()
    history.reactions.clear()  # the worker lost the reaction
    assert breaches(history.check()) == {"fold: stored state is not the fold of the stored log"}


def test_a_client_whose_view_differs_from_the_log_is_named() -> None:
    history = History()
    edit = history.journals[BOB].received[2]
    edit.entry = dataclasses.replace(edit.entry, body="something else")
    assert breaches(history.check()) == {"fold: a client's view is not the fold of the stored log"}


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["msg", "edit:a", "edit:b"], ("b", False, frozenset())),
        (["msg", "delete", "edit:late"], (None, True, frozenset())),
        (["msg", "react:on", "react:off"], ("hello", False, frozenset())),
        (["msg", "react:on"], ("hello", False, frozenset({("👍", frozenset({BOB}))}))),
        (["msg", "react:on", "delete"], (None, True, frozenset())),
    ],
)
def test_the_fold_applies_the_protocol_s_rules(entries: list[str], expected: object) -> None:
    log = []
    for seq, what in enumerate(entries, start=1):
        kind, _, detail = what.partition(":")
        entry = Entry("m", ROOM, seq, BOB, str(seq))
        if kind != "msg":
            entry = dataclasses.replace(entry, id=f"e{seq}", target="m")
        if kind == "msg":
            entry = dataclasses.replace(entry, body="hello")
        elif kind == "edit":
            entry = dataclasses.replace(entry, kind="edit", body=detail)
        elif kind == "delete":
            entry = dataclasses.replace(entry, kind="delete")
        else:
            entry = dataclasses.replace(entry, kind="reaction", emoji="👍", on=detail == "on")
        log.append(entry)
    assert fold(log)["m"].key() == expected
