from __future__ import annotations

import logging

import msgspec

from chat_common.logs import JsonFormatter, TextFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "chat.test", "levelno": logging.INFO, "levelname": "INFO", "msg": "room joined"}
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_the_event_and_its_fields() -> None:
    line = JsonFormatter().format(_record(room="lobby", user_id="u1"))
    event = msgspec.json.decode(line)
    assert event["event"] == "room joined"
    assert event["level"] == "info"
    assert event["room"] == "lobby"
    assert event["user_id"] == "u1"
    assert event["ts"].endswith("Z")


def test_text_lines_are_one_line_with_fields_appended() -> None:
    line = TextFormatter().format(_record(room="lobby"))
    assert "room joined" in line
    assert line.endswith("room=lobby")
    assert "\n" not in line
