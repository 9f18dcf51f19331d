from __future__ import annotations

import uuid
from datetime import UTC, datetime

from chat_worker.author_marks import AuthorMarks, newest_by_author
from chat_worker.rows import MessageRow


def _row(user_id: str, room: str, seq: int) -> MessageRow:
    return MessageRow(
        id=uuid.uuid4(),
        room=room,
        seq=seq,
        user_id=user_id,
        user_name=user_id,
        body="hi",
        client_msg_id=f"c-{seq}",
        created_at=datetime(2026, 11, 25, 21, 0, tzinfo=UTC),
    )


def test_each_author_s_newest_seq_per_room_whatever_the_order_of_the_rows() -> None:
    rows = [_row("ann", "a", 3), _row("bob", "a", 2), _row("ann", "a", 1), _row("ann", "b", 7)]
    assert newest_by_author(rows) == {("ann", "a"): 3, ("bob", "a"): 2, ("ann", "b"): 7}


def test_a_mark_only_moves_forward_and_one_author_and_room_is_one_entry() -> None:
    marks = AuthorMarks(max_entries=10)
    for seq in (4, 9, 2):
        marks.merge({("ann", "a"): seq})
    assert len(marks) == 1
    assert marks.take() == {("ann", "a"): 9}
    assert len(marks) == 0
    assert marks.take() == {}


def test_beyond_the_bound_new_marks_are_dropped_and_known_ones_still_move() -> None:
    marks = AuthorMarks(max_entries=2)
    assert (marks.merge({("ann", "a"): 1}), marks.full) == (0, False)
    assert (marks.merge({("bob", "a"): 1, ("cleo", "a"): 1, ("dan", "a"): 1}), marks.full) == (
        2,
        True,
    )
    assert marks.merge({("ann", "a"): 5, ("eve", "a"): 5}) == 1
    assert marks.take() == {("ann", "a"): 5, ("bob", "a"): 1}
    assert (len(marks), marks.full) == (0, False)
