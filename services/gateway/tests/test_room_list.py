"""The directory cursor and the name prefix pattern of the room list (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.room_list import DirectoryCursor, name_prefix_pattern


def test_a_cursor_comes_back_as_the_exact_position_it_was_made_from() -> None:
    at = datetime(2026, 12, 2, 10, 11, 12, 345678, tzinfo=UTC)
    cursor = DirectoryCursor(at, "design_reviews-2")
    text = cursor.encode()
    assert text.isascii()
    assert "=" not in text
    assert DirectoryCursor.decode(text) == cursor
    early = DirectoryCursor(datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC), "moon")
    assert DirectoryCursor.decode(early.encode()) == early


# Empty, not base64, no position, a bad room name, a position that is no number, one past
# any date.
NOT_OURS = [
    "",
    "!!!",
    "bm90IGEgY3Vyc29y",
    "MTIzOkJhZCBSb29t",
    "eDpyb29t",
    "OTk5OTk5OTk5OTk5OTk5OTk5OTk5Om0",
]


@pytest.mark.parametrize("text", NOT_OURS)
def test_a_cursor_the_server_did_not_make_is_a_bad_request(text: str) -> None:
    with pytest.raises(ChatError) as refused:
        DirectoryCursor.decode(text)
    assert refused.value.code is ErrorCode.BAD_REQUEST


def test_an_underscore_in_a_name_prefix_is_itself_not_any_character() -> None:
    assert name_prefix_pattern("dev_ops") == "dev\\_ops%"
    assert name_prefix_pattern("a-b") == "a-b%"
