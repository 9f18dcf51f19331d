"""The pytest plugin every suite gets (entry point ``pytest11``): the stack's addresses."""

from __future__ import annotations

import pytest

from chat_testing import stack


@pytest.fixture(scope="session")
def database_url() -> str:
    return stack.database_url()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return stack.redis_url()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return stack.kafka_bootstrap()
