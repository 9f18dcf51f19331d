"""The locust users' tally: what counts as lost, duplicated or missing."""

from __future__ import annotations

from chat_ledger import Ledger


def _joined(last_seq: int = 10) -> Ledger:
    ledger = Ledger()
    ledger.joined("lobby", last_seq)
    return ledger


def test_an_acknowledged_message_that_comes_back_is_delivered() -> None:
    ledger = _joined()
    ledger.sending("a", 1.0)
    ledger.acknowledged("a")
    assert ledger.delivered("lobby", 11, "a") == 1.0
    assert (ledger.acked, ledger.own_delivered, ledger.lost()) == (1, 1, 0)


def test_the_echo_may_overtake_the_acknowledgement() -> None:
    ledger = _joined()
    ledger.sending("a", 1.0)
    assert ledger.delivered("lobby", 11, "a") == 1.0
    ledger.acknowledged("a")
    assert (ledger.acked, ledger.own_delivered, ledger.lost()) == (1, 1, 0)


def test_an_acknowledged_message_that_never_comes_back_is_lost() -> None:
    ledger = _joined()
    ledger.sending("a", 1.0)
    ledger.acknowledged("a")
    assert ledger.lost() == 1


def test_a_refused_message_is_owed_to_no_one() -> None:
    ledger = _joined()
    ledger.sending("a", 1.0)
    ledger.refused("a")
    assert (ledger.acked, ledger.lost()) == (0, 0)


def test_a_seq_received_twice_is_a_duplicate() -> None:
    ledger = _joined()
    ledger.delivered("lobby", 11, "x")
    ledger.delivered("lobby", 11, "x")
    assert ledger.duplicates == 1


def test_holes_after_the_first_join_are_gaps_and_older_seqs_do_not_count() -> None:
    ledger = _joined(last_seq=10)
    for seq in (3, 11, 12, 15):
        ledger.delivered("lobby", seq, f"m{seq}")
    assert ledger.gaps() == 2
    assert ledger.since("lobby") == 15
    ledger.delivered("lobby", 13, "m13")
    ledger.delivered("lobby", 14, "m14")
    assert ledger.gaps() == 0


def test_a_rejoin_keeps_where_the_room_started() -> None:
    ledger = _joined(last_seq=10)
    ledger.joined("lobby", 40)
    ledger.delivered("lobby", 11, "m11")
    assert ledger.rooms["lobby"].start == 10
    assert ledger.since("unknown") is None
