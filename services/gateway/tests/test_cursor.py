from __future__ import annotations

from chat_gateway.cursor import RoomCursor


def test_each_seq_passes_once_in_order() -> None:
    cursor = RoomCursor(after=4)
    assert [cursor.admit(seq) for seq in (5, 6, 6, 4, 7)] == [True, True, False, False, True]


def test_a_seq_skipped_over_still_passes_once_when_it_arrives_late() -> None:
    cursor = RoomCursor(after=0)
    assert cursor.admit(1)
    assert cursor.admit(4)  # 2 and 3 never sent
    assert cursor.admit(3)
    assert not cursor.admit(3)
    assert cursor.admit(2)
    assert not cursor.admit(1)


def test_what_a_catch_up_sent_is_not_sent_again_live() -> None:
    cursor = RoomCursor(after=10)
    for seq in (11, 12, 14):  # 13 was given up on by the gateway
        cursor.admit(seq)
    assert not cursor.admit(12)
    assert cursor.admit(13)


def test_only_the_newest_holes_are_remembered() -> None:
    cursor = RoomCursor(after=0)
    cursor.admit(1_000_000)  # a client that joined a long room without catching up
    assert not cursor.admit(1)
    assert cursor.admit(999_999)
