"""The shared test support does what every suite relies on."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chat_testing import stack
from chat_testing.keys import signing_key
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, redis_server


def test_a_free_port_can_be_listened_on() -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))


def test_every_service_a_test_starts_in_one_folder_shares_one_key(tmp_path: Path) -> None:
    first = signing_key(tmp_path)
    assert first.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert signing_key(tmp_path).read_bytes() == first.read_bytes()


def test_the_stack_is_the_local_one_unless_the_environment_names_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAT_TEST_REDIS_URL", raising=False)
    assert stack.redis_url() == "redis://127.0.0.1:6379/0"
    monkeypatch.setenv("CHAT_TEST_REDIS_URL", "redis://elsewhere:6380/1")
    assert stack.redis_url() == "redis://elsewhere:6380/1"


def test_the_plugin_gives_every_suite_the_stack_fixtures(
    database_url: str, kafka_bootstrap: str
) -> None:
    assert (database_url, kafka_bootstrap) == (stack.database_url(), stack.kafka_bootstrap())


async def test_a_service_process_is_ready_when_it_answers_and_gone_when_killed(
    tmp_path: Path,
) -> None:
    redis: ServiceProcess = redis_server(free_port(), tmp_path)
    await redis.start()
    try:
        assert redis.process is not None
        assert redis.process.poll() is None
    finally:
        await redis.kill()
    assert redis.process.poll() is not None
