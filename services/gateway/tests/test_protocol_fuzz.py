"""Generated frames against the command decoder: whatever a client sends, the result is a
command or a ChatError that names the problem, never another exception (docs/protocol.md)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from chat_common.errors import ChatError, ErrorCode
from chat_gateway import protocol

TYPES = [
    "connect",
    "refresh",
    "join",
    "leave",
    "send",
    "edit",
    "delete",
    "react",
    "history",
    "typing",
    "presence",
    "ping",
    "read",
]
FIELDS = [
    "id",
    "token",
    "room",
    "since",
    "body",
    "client_msg_id",
    "reply_to",
    "message_id",
    "emoji",
    "before",
    "limit",
    "seq",
]
HOSTILE_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["", "\x00", "\u202e", "\ud800", "a" * 70_000, "lobby", "dm:a:b", "👍"]),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | HOSTILE_TEXT,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _dumps(value: Any) -> str:
    # NaN and lone surrogates make text that is not JSON: the decoder must refuse it clearly.
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def _outcome(text: str) -> protocol.AnyCommand | ChatError:
    try:
        return protocol.decode_command(text)
    except ChatError as failure:
        return failure


def _assert_decoded_or_refused(text: str) -> None:
    outcome = _outcome(text)
    if isinstance(outcome, ChatError):
        assert outcome.code in (ErrorCode.BAD_REQUEST, ErrorCode.TOO_LARGE)
        assert outcome.message
        # What the session then writes: the error frame, with the id it could recover.
        frame = msgspec.json.decode(protocol.error(protocol.command_id_of(text), outcome))
        assert frame["code"] == outcome.code.value
    else:
        assert isinstance(outcome, protocol.Command)
        protocol.reply(outcome.id)


@given(st.text())
def test_any_text_is_a_command_or_a_clear_refusal(text: str) -> None:
    _assert_decoded_or_refused(text)


@given(JSON_VALUES)
def test_any_json_value_is_a_command_or_a_clear_refusal(value: Any) -> None:
    _assert_decoded_or_refused(_dumps(value))


@given(
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=len(FIELDS)),
)
def test_known_types_with_fields_of_any_type_and_size_are_commands_or_refusals(
    kind: str, fields: dict[str, Any]
) -> None:
    _assert_decoded_or_refused(_dumps({"type": kind, **fields}))


@given(st.binary(max_size=200))
def test_bytes_read_as_text_are_commands_or_refusals(raw: bytes) -> None:
    _assert_decoded_or_refused(raw.decode("utf-8", errors="replace"))


@given(st.one_of(st.text(), JSON_VALUES.map(_dumps)))
def test_the_id_of_any_frame_is_recovered_or_none_and_never_raises(text: str) -> None:
    found = protocol.command_id_of(text)
    assert found is None or (isinstance(found, str | int) and not isinstance(found, bool))
