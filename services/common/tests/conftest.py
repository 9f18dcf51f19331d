from __future__ import annotations

import os

import pytest

from chat_common.settings import LOCAL_DATABASE_URL, LOCAL_KAFKA_BOOTSTRAP, LOCAL_REDIS_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("CHAT_TEST_REDIS_URL", LOCAL_REDIS_URL)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return os.environ.get("CHAT_TEST_KAFKA_BOOTSTRAP", LOCAL_KAFKA_BOOTSTRAP)


@pytest.fixture(scope="session")
def database_url() -> str:
    return os.environ.get("CHAT_TEST_DATABASE_URL", LOCAL_DATABASE_URL)
