"""Where the real Postgres, Redis and Kafka of the tests are: the local stack, unless
``CHAT_TEST_DATABASE_URL``, ``CHAT_TEST_REDIS_URL`` or ``CHAT_TEST_KAFKA_BOOTSTRAP`` say
otherwise."""

from __future__ import annotations

import os

from chat_common.settings import LOCAL_DATABASE_URL, LOCAL_KAFKA_BOOTSTRAP, LOCAL_REDIS_URL


def database_url() -> str:
    return os.environ.get("CHAT_TEST_DATABASE_URL", LOCAL_DATABASE_URL)


def redis_url() -> str:
    return os.environ.get("CHAT_TEST_REDIS_URL", LOCAL_REDIS_URL)


def kafka_bootstrap() -> str:
    return os.environ.get("CHAT_TEST_KAFKA_BOOTSTRAP", LOCAL_KAFKA_BOOTSTRAP)
