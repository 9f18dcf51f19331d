from __future__ import annotations

from chat_gateway.fanout import first_unknown
from chat_gateway.frames import RoomFrame, void_frame
from chat_gateway.ordering import RoomOrder


def _frame(seq: int) -> RoomFrame:
    return RoomFrame(seq, b"m%d" % seq)


def _seqs(frames: list[RoomFrame]) -> list[int]:
    return [frame.seq for frame in frames]


def test_frames_in_order_are_delivered_at_once() -> None:
    order = RoomOrder(last=0)
    assert _seqs(order.accept(_frame(1))) == [1]
    assert _seqs(order.accept(_frame(2))) == [2]
    assert order.missing is None


def test_an_early_frame_waits_for_the_hole_before_it() -> None:
    order = RoomOrder(last=4)
    assert order.accept(_frame(7)) == []
    assert order.missing == (4, 6)
    assert _seqs(order.accept(_frame(5))) == [5]
    assert order.missing == (5, 6)
    assert _seqs(order.accept(_frame(6))) == [6, 7]
    assert order.missing is None


def test_duplicates_and_old_frames_are_dropped() -> None:
    order = RoomOrder(last=0)
    order.accept(_frame(1))
    assert order.accept(_frame(1)) == []
    order.accept(_frame(3))
    assert order.accept(_frame(3)) == []
    assert _seqs(order.accept(_frame(2))) == [2, 3]


def test_a_void_seq_is_skipped_without_delivering_anything() -> None:
    order = RoomOrder(last=0)
    assert order.accept(_frame(2)) == []
    assert _seqs(order.accept(void_frame(1))) == [2]


def test_giving_up_on_a_hole_releases_what_waited_behind_it() -> None:
    order = RoomOrder(last=10)
    order.accept(_frame(13))
    order.accept(_frame(14))
    assert _seqs(order.give_up_until(12)) == [13, 14]
    assert order.last == 14


def test_a_seq_given_up_on_is_still_delivered_if_it_arrives_late() -> None:
    order = RoomOrder(last=10)
    order.accept(_frame(12))
    order.give_up_until(11)
    assert _seqs(order.accept(_frame(11))) == [11]
    assert order.accept(_frame(11)) == []  # but only once


def test_a_new_subscription_starts_before_its_first_seq_in_flight() -> None:
    assert first_unknown(10, 14, {11, 12, 14}) == 13  # 13 taken, not yet published
    assert first_unknown(10, 14, {11, 12, 13, 14}) == 15  # none in flight
    assert first_unknown(0, 0, set()) == 1  # a new room


def test_a_message_wins_over_a_void_for_the_same_seq() -> None:
    order = RoomOrder(last=0)
    order.accept(_frame(3))
    order.accept(void_frame(2))
    assert order.missing == (0, 1)
    order.accept(_frame(2))
    assert _seqs(order.accept(_frame(1))) == [1, 2, 3]


def test_a_voided_seq_sent_again_on_retry_is_delivered_late() -> None:
    order = RoomOrder(last=0)
    assert order.accept(void_frame(1)) == []
    assert _seqs(order.accept(_frame(2))) == [2]
    assert _seqs(order.accept(_frame(1))) == [1]
