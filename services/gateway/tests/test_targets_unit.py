"""The fold of a room's events onto a message (targets.apply), what history shows of the
result (targets.render), and which reactions are one emoji (reactions.emoji_problem)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from chat_common.envelope import EVENT_SCHEMA_VERSION, Author, Envelope, ReplyTo
from chat_gateway.reactions import emoji_problem
from chat_gateway.targets import MessageState, apply, excerpt_of, fold, render, state_of

ADA, BOB = Author(id="ada", name="Ada"), Author(id="bob", name="Bob")
TS = "2026-11-30T10:00:00.000Z"


def _message(body: str = "hello", *, reply_to: ReplyTo | None = None) -> MessageState:
    return state_of(
        Envelope(
            id="m1",
            room="lobby",
            seq=1,
            user=ADA,
            body=body,
            ts=TS,
            client_msg_id="c1",
            mentions=("bob",),
            reply_to=reply_to or msgspec.UNSET,
        )
    )


def _event(seq: int, kind: str, user: Author = ADA, **fields: Any) -> Envelope:
    return Envelope(
        v=EVENT_SCHEMA_VERSION,
        id=f"e{seq}",
        room="lobby",
        seq=seq,
        user=user,
        ts=f"2026-11-30T10:00:{seq:02d}.000Z",
        client_msg_id=f"c{seq}",
        kind=kind,  # type: ignore[arg-type]
        target=fields.pop("target", "m1"),
        **fields,
    )


def _edit(seq: int, body: str) -> Envelope:
    return _event(seq, "edit", body=body, edited_at=f"2026-11-30T10:00:{seq:02d}.000Z")


def _react(seq: int, emoji: str, user: Author, on: bool = True) -> Envelope:
    return _event(seq, "reaction", user, emoji=emoji, on=on)


def _shown(state: MessageState, viewer: str = "ada", **options: bool) -> dict[str, Any]:
    shown: dict[str, Any] = msgspec.json.decode(render(state, viewer, **options))
    return shown


def test_an_edit_replaces_the_text_and_keeps_the_mentions() -> None:
    state = fold(_message(), [_edit(2, "hello there"), _edit(3, "hello again")])
    assert (state.body, state.edited_at, state.updated_seq) == (
        "hello again",
        "2026-11-30T10:00:03.000Z",
        3,
    )
    assert state.mentions == ("bob",)


def test_an_event_the_state_holds_already_changes_nothing() -> None:
    edited = fold(_message(), [_edit(2, "new"), _edit(3, "newer")])
    assert apply(edited, _edit(2, "new")) == edited  # a replay of an older event
    assert apply(edited, _edit(3, "newer")) == edited  # the same event again
    reacted = apply(_message(), _react(2, "👍", BOB))
    assert apply(reacted, _react(2, "👍", BOB, on=True)) == reacted


def test_a_delete_is_terminal_and_erases_text_mentions_and_reactions() -> None:
    state = fold(_message(), [_react(2, "👍", BOB), _edit(3, "x"), _event(4, "delete")])
    assert state.deleted
    assert (state.body, state.mentions, state.reactions, state.edited_at) == (None, (), {}, None)
    assert fold(state, [_edit(5, "back"), _react(6, "🎉", BOB)]) == state
    shown = _shown(state)
    assert shown["deleted"] is True
    assert not {"body", "mentions", "reactions", "edited_at"} & set(shown)
    assert (shown["id"], shown["seq"], shown["user"], shown["ts"]) == ("m1", 1, ADA_JSON, TS)


ADA_JSON = {"id": "ada", "name": "Ada"}


def test_events_of_another_message_pass_it_by() -> None:
    state = _message()
    assert apply(state, _event(3, "delete", target="m2")) == state
    assert apply(state, _event(4, "delete", target="m1")).deleted


def test_reactions_toggle_per_person_and_show_in_the_order_first_added() -> None:
    state = fold(
        _message(),
        [
            _react(2, "👍", BOB),
            _react(3, "🎉", ADA),
            _react(4, "👍", ADA),
            _react(5, "👍", BOB, on=False),
        ],
    )
    assert _shown(state, "ada")["reactions"] == [
        {"emoji": "🎉", "count": 1, "me": True},
        {"emoji": "👍", "count": 1, "me": True},
    ]
    assert _shown(state, "bob")["reactions"] == [
        {"emoji": "🎉", "count": 1, "me": False},
        {"emoji": "👍", "count": 1, "me": False},
    ]
    assert state.reacted("👍", "ada")
    assert not state.reacted("👍", "bob")
    assert state.emoji_of("ada") == 2
    gone = fold(state, [_react(6, "🎉", ADA, on=False), _react(7, "👍", ADA, on=False)])
    assert gone.reactions == {}
    assert "reactions" not in _shown(gone)


def test_a_message_untouched_by_events_shows_as_it_was_sent() -> None:
    sent = Envelope(id="m1", room="lobby", seq=1, user=ADA, body="hi", ts=TS, client_msg_id="c1")
    assert render(state_of(sent), "bob") == msgspec.json.encode(sent)


def test_a_reply_carries_the_answered_text_cut_and_shows_it_deleted_once_it_is() -> None:
    answered = fold(_message("x" * 250), [_edit(2, "y" * 300)])
    quoted = excerpt_of(answered)
    assert (quoted.id, quoted.user, quoted.excerpt) == ("m1", ADA, "y" * 200)
    reply = _message("answer", reply_to=quoted)
    assert _shown(reply)["reply_to"] == {"id": "m1", "user": ADA_JSON, "excerpt": "y" * 200}
    assert _shown(reply, answered_deleted=True)["reply_to"] == {
        "id": "m1",
        "user": ADA_JSON,
        "deleted": True,
    }


@pytest.mark.parametrize(
    "emoji", ["👍", "👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "é", ":party_parrot:", ":+1:", ":a-b_c:"]
)
def test_one_grapheme_or_a_short_name_is_an_emoji(emoji: str) -> None:
    assert emoji_problem(emoji) is None


@pytest.mark.parametrize(
    "emoji",
    [
        "",
        "👍👍",
        "ab",
        " ",
        "\u200b",
        "\u0301",
        "\x07",
        ":Party:",
        "::",
        ":" + "a" * 31 + ":",
        "👨‍👩‍👧‍👦" * 2,
        ":a b:",
    ],
)
def test_anything_else_is_refused_with_the_reason(emoji: str) -> None:
    problem = emoji_problem(emoji)
    assert problem is not None
    assert "emoji" in problem


def test_an_emoji_is_at_most_32_bytes() -> None:
    # One grapheme each (families joined by ZWJ): 32 bytes, and 39.
    assert emoji_problem("👨‍👩‍👧‍👦\u200d👦") is None
    assert emoji_problem("👨‍👩‍👧‍👦\u200d👦\u200d👦") == "emoji must be at most 32 bytes"
