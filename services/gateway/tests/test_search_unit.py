"""The pure parts of message search: the excerpt's text and match offsets, and the cursor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chat_common.errors import ChatError
from chat_gateway.search import (
    Excerpt,
    SearchCursor,
    excerpt_of,
    like_containing,
    matched_words,
    words_every_hit_has,
)


def _marked(excerpt: Excerpt) -> list[str]:
    return [excerpt.text[start : start + size] for start, size in excerpt.matches]


def test_the_matched_words_are_what_the_headline_marked() -> None:
    assert matched_words("say \x02Hello\x03 to \x02world\x03 and \x02hello\x03") == {
        "Hello",
        "world",
        "hello",
    }
    assert matched_words("nothing marked") == set()


def test_a_short_body_is_its_own_excerpt_markup_and_all() -> None:
    body = '<b onclick="x()">hello</b> & <script>hello()</script> hellos'
    excerpt = excerpt_of(body, {"hello"})
    assert excerpt.text == body
    # Whole words only: "hellos" is another word.
    assert _marked(excerpt) == ["hello", "hello"]
    assert excerpt.matches[0] == (17, 5)


def test_offsets_count_code_points_past_characters_outside_the_basic_plane() -> None:
    excerpt = excerpt_of("🎉🎉 café", {"café"})
    assert excerpt.matches == [(3, 4)]


def test_a_long_body_is_cut_around_its_first_match_at_word_boundaries() -> None:
    before = " ".join(f"b{n:03d}" for n in range(100))
    after = " ".join(f"a{n:03d}" for n in range(100))
    excerpt = excerpt_of(f"{before} needle {after} needle", {"needle"}, most=100)
    assert excerpt.text.startswith("…b0")
    assert excerpt.text.endswith("…")
    assert len(excerpt.text) <= 102
    # The second needle lies past the cut: only the first is in the excerpt.
    assert _marked(excerpt) == ["needle"]
    words = excerpt.text.strip("…").split(" ")
    assert all(len(word) == 4 or word == "needle" for word in words)


def test_a_long_body_whose_match_is_near_its_start_is_cut_at_its_end_only() -> None:
    body = "needle " + "word " * 100
    excerpt = excerpt_of(body, {"needle"}, most=50)
    assert excerpt.text.startswith("needle word")
    assert excerpt.text.endswith("word…")
    assert excerpt.matches == [(0, 6)]


def test_a_cursor_comes_back_as_it_was_given_for_a_direct_message_too() -> None:
    at = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
    for room in ("general", "dm:aaa-1:bbb-2"):
        cursor = SearchCursor(at, room, 42)
        assert SearchCursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "text", ["not-a-cursor", "", "bm90OmE6Yg", "MTIzOjA6Z2VuZXJhbA", "MTIzOjE6R2VuZXJhbA"]
)
def test_a_cursor_this_server_did_not_give_is_refused(text: str) -> None:
    with pytest.raises(ChatError, match="not a cursor this server gave"):
        SearchCursor.decode(text)


@pytest.mark.parametrize(
    ("tsquery", "words"),
    [
        ("'cache' & 'monday'", ["cache", "monday"]),
        ("'release'", ["release"]),
        # A phrase needs each of its words; a negated word is needed by none.
        ("'big' <-> 'cache' & !'old'", ["big", "cache"]),
        ("'a' <2> 'b'", ["a", "b"]),
        # Postgres doubles a quote and a backslash inside a lexeme.
        ("'it''s' & 'a\\\\b'", ["it's", "a\\b"]),
        ("'relea':*", ["relea"]),
        # Either side of an OR may match alone; a group holds an OR or a negated phrase.
        ("'cache' & 'monday' | 'tuesday'", []),
        ("'x' & !( 'a' <-> 'b' )", []),
        ("!'cache'", []),
        # A query of punctuation alone is empty.
        ("", []),
    ],
)
def test_the_words_every_hit_has_are_those_its_query_needs_in_any_match(
    tsquery: str, words: list[str]
) -> None:
    assert words_every_hit_has(tsquery) == words


def test_a_word_is_looked_for_with_like_wildcards_taken_literally() -> None:
    assert like_containing("cache") == "%cache%"
    assert like_containing("100%_done\\x") == "%100\\%\\_done\\\\x%"
