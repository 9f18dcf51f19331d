"""Worker settings, read from ``CHAT_WORKER_*`` variables and validated at start-up."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import msgspec

from chat_common.settings import (
    LOCAL_DATABASE_URL,
    LOCAL_KAFKA_BOOTSTRAP,
    NonEmptyStr,
    Port,
    PositiveFloat,
    PositiveInt,
    ServiceSettings,
    load_settings,
)

PREFIX = "CHAT_WORKER_"

# The broker refuses sessions below its group.min.session.timeout.ms (6 s by default).
SessionTimeoutMs = Annotated[int, msgspec.Meta(ge=6_000)]
# Each is a Postgres connection per worker, and workers scale up to the partition count.
WriteConnections = Annotated[int, msgspec.Meta(ge=1, le=16)]


class WorkerSettings(ServiceSettings, frozen=True, kw_only=True):
    kafka_bootstrap: NonEmptyStr = LOCAL_KAFKA_BOOTSTRAP
    topic: NonEmptyStr = "chat.messages"
    dlq_topic: NonEmptyStr = "chat.messages.dlq"
    group_id: NonEmptyStr = "chat-persistence"
    # Names this process to the broker and in logs; unique per worker.
    client_id: NonEmptyStr = f"chat-worker-{socket.gethostname()}-{os.getpid()}"
    # One poll is one batch and one offset commit; its partitions are stored in up to
    # write_connections parallel transactions, and the next batch waits for the slowest. aiokafka
    # hands out one partition's fetched records (up to 1 MiB, some 3,000 envelopes) before the
    # next one's, so the larger the batch, the more partitions it spans and the better its
    # groups balance. 20,000 records is about 5 MB of COPY, half a second at the rate make
    # bench-worker measures: per-batch costs (the offset commit, a pool reset per transaction)
    # stop mattering, and a record waits about a second at most while the worker is saturated.
    # Measured on 2 shared cores: 1,000 cost a fifth more worker CPU per row, and 20,000
    # drained a median of about 40,000 rows/s against 32,000 for 10,000 (five runs each).
    batch_max_records: PositiveInt = 20_000
    # How long an idle poll waits for records; also how soon an idle worker notices SIGTERM.
    batch_max_wait_ms: PositiveInt = 200
    session_timeout_ms: SessionTimeoutMs = 10_000
    heartbeat_interval_ms: PositiveInt = 3_000

    database_url: NonEmptyStr = LOCAL_DATABASE_URL
    # Transactions of a batch stored at once, each on a connection of its own (the pool holds
    # one more, for /readyz): Postgres inserts one group while the worker encodes another. On
    # the 2 cores of make bench-worker one and two measured alike (the next batch is decoded
    # while one is stored either way) and three no faster; two let Postgres use a second core
    # where it has one, for one more connection per worker.
    write_connections: WriteConnections = 2
    # A poll is split only into groups of at least this many records. Each transaction costs
    # a COPY round trip and a pool reset whatever its size, so at a trickle (tens of records a
    # poll) one transaction is cheaper; 1,000 records are some tens of milliseconds of work,
    # enough for a second transaction to be worth its round trips.
    write_group_min_records: PositiveInt = 1_000
    # A statement that takes longer than this is treated as an outage and retried.
    database_timeout_s: PositiveFloat = 10.0
    # Capped exponential backoff while Postgres (or the DLQ) is unavailable: the first retry
    # comes quickly for a blip, the cap keeps a restarted database from waiting long for us.
    retry_initial_ms: PositiveInt = 100
    retry_max_ms: PositiveInt = 5_000

    # A room's last_active_at (the directory of public rooms lists the most recently active
    # first) moves only when it is this far behind its newest message: a minute is precise
    # enough for that order, and a busy room's row is rewritten once a minute, not per batch.
    room_activity_step_s: Annotated[float, msgspec.Meta(ge=0)] = 60.0

    # Authors' read markers (a person has read what they wrote) are written together this often
    # rather than in every batch's transaction, where their upsert cost the worker about a fifth
    # of its rate (make bench-worker). A second is about as soon as a person looks at another
    # device after writing, and bounds what a crash loses: that much of "read what one wrote",
    # never a message.
    author_marks_flush_s: PositiveFloat = 1.0
    # (author, room) marks held between two flushes; when full, the flush comes early. 10,000
    # take about 2 MB, and writing them is one upsert of 10,000 rows: 210-280 ms on the 2
    # shared cores here, the longest a person's own read of one of those markers waits for its
    # row lock; a larger bound lengthens that wait. A second of a busy deployment holds a few
    # thousand authors, each writing in a room or two. While flushes fail, new marks beyond
    # this are dropped (a badge on one's own messages until one's next read), never a message.
    author_marks_max: PositiveInt = 10_000

    # Metrics, /healthz and /readyz; containers set the host to 0.0.0.0.
    metrics_host: NonEmptyStr = "127.0.0.1"
    metrics_port: Port = 8300

    def __post_init__(self) -> None:
        # msgspec reports these as validation errors of the whole configuration.
        if self.retry_max_ms < self.retry_initial_ms:
            raise ValueError(f"{PREFIX}RETRY_MAX_MS must be at least {PREFIX}RETRY_INITIAL_MS")
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError(
                f"{PREFIX}HEARTBEAT_INTERVAL_MS must be below {PREFIX}SESSION_TIMEOUT_MS"
            )


def load_worker_settings() -> WorkerSettings:
    return load_settings(WorkerSettings, PREFIX)
