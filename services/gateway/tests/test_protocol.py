from __future__ import annotations

import msgspec
import pytest

from chat_common.errors import ChatError, ErrorCode
from chat_gateway import protocol


def test_commands_decode_by_type() -> None:
    command = protocol.decode_command(
        '{"type":"send","id":7,"room":"lobby","body":"hi","client_msg_id":"c1"}'
    )
    assert isinstance(command, protocol.Send)
    assert (command.id, command.room, command.body) == (7, "lobby", "hi")
    join = protocol.decode_command('{"type":"join","id":"j","room":"dm:a:b","since":3}')
    assert isinstance(join, protocol.Join)
    assert join.since == 3


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        ("not json", "not valid JSON"),
        ("[1,2]", "frame"),
        ('{"type":"dance"}', "unknown command type"),
        ('{"id":1}', "type"),
        ('{"type":"join","room":"Bad Room"}', "room"),
        ('{"type":"join","room":"lobby","since":-1}', "since"),
        ('{"type":"send","room":"lobby","body":"x"}', "client_msg_id"),
        ('{"type":"history","room":"lobby","limit":1000}', "limit"),
    ],
)
def test_malformed_frames_are_bad_requests_with_a_reason(frame: str, needle: str) -> None:
    with pytest.raises(ChatError) as caught:
        protocol.decode_command(frame)
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert needle in caught.value.message


def test_text_with_a_lone_surrogate_is_a_bad_request_not_a_crash() -> None:
    for frame in ('"\ud800"', '{"type":"ping","id":"\ud800"}'):
        with pytest.raises(ChatError) as caught:
            protocol.decode_command(frame)
        assert (caught.value.code, caught.value.message) == (
            ErrorCode.BAD_REQUEST,
            "frame is not valid UTF-8",
        )
        assert protocol.command_id_of(frame) is None


def test_the_id_of_a_bad_frame_is_recovered_when_it_is_there() -> None:
    assert protocol.command_id_of('{"type":"dance","id":"x1"}') == "x1"
    assert protocol.command_id_of('{"type":"dance","id":true}') is None
    assert protocol.command_id_of("{") is None


def test_errors_carry_code_message_and_retry_hint() -> None:
    failure = ChatError(ErrorCode.RATE_LIMITED, "slow down", retry_after_ms=250)
    frame = msgspec.json.decode(protocol.error(5, failure))
    assert frame == {
        "type": "error",
        "id": 5,
        "code": "rate_limited",
        "message": "slow down",
        "retry_after_ms": 250,
    }
    assert "id" not in msgspec.json.decode(protocol.error(None, failure))
