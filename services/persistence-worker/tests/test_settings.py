from __future__ import annotations

import pytest

from chat_common.settings import SettingsError, load_settings
from chat_worker.settings import PREFIX, WorkerSettings


def test_defaults_are_the_local_stack_and_the_agreed_names() -> None:
    settings = load_settings(WorkerSettings, PREFIX, {})
    assert settings.topic == "chat.messages"
    assert settings.dlq_topic == "chat.messages.dlq"
    assert settings.group_id == "chat-persistence"
    assert settings.metrics_port == 8300
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert (settings.author_marks_flush_s, settings.author_marks_max) == (1.0, 10_000)


def test_values_come_from_chat_worker_variables() -> None:
    settings = load_settings(
        WorkerSettings,
        PREFIX,
        {
            "CHAT_WORKER_TOPIC": "t",
            "CHAT_WORKER_BATCH_MAX_RECORDS": "250",
            "CHAT_WORKER_BATCH_MAX_WAIT_MS": "50",
            "CHAT_WORKER_RETRY_MAX_MS": "1000",
            "CHAT_WORKER_METRICS_PORT": "9300",
        },
    )
    assert (settings.topic, settings.batch_max_records, settings.batch_max_wait_ms) == (
        "t",
        250,
        50,
    )
    assert (settings.retry_max_ms, settings.metrics_port) == (1000, 9300)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CHAT_WORKER_BATCH_MAX_RECORDS": "0"}, "CHAT_WORKER_BATCH_MAX_RECORDS"),
        ({"CHAT_WORKER_METRICS_PORT": "70000"}, "CHAT_WORKER_METRICS_PORT"),
        ({"CHAT_WORKER_SESSION_TIMEOUT_MS": "1000"}, "CHAT_WORKER_SESSION_TIMEOUT_MS"),
        (
            {"CHAT_WORKER_RETRY_INITIAL_MS": "500", "CHAT_WORKER_RETRY_MAX_MS": "100"},
            "CHAT_WORKER_RETRY_MAX_MS",
        ),
        ({"CHAT_WORKER_HEARTBEAT_INTERVAL_MS": "10000"}, "CHAT_WORKER_HEARTBEAT_INTERVAL_MS"),
        ({"CHAT_WORKER_WRITE_CONNECTIONS": "0"}, "CHAT_WORKER_WRITE_CONNECTIONS"),
        ({"CHAT_WORKER_WRITE_CONNECTIONS": "17"}, "CHAT_WORKER_WRITE_CONNECTIONS"),
        ({"CHAT_WORKER_WRITE_GROUP_MIN_RECORDS": "0"}, "CHAT_WORKER_WRITE_GROUP_MIN_RECORDS"),
        ({"CHAT_WORKER_AUTHOR_MARKS_FLUSH_S": "0"}, "CHAT_WORKER_AUTHOR_MARKS_FLUSH_S"),
        ({"CHAT_WORKER_AUTHOR_MARKS_MAX": "0"}, "CHAT_WORKER_AUTHOR_MARKS_MAX"),
    ],
)
def test_an_invalid_configuration_names_its_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(WorkerSettings, PREFIX, environ)
