"""The system the faults are played on, every part a process of its own on free ports.

Two gateways, the persistence worker and the auth service run as in production. Redis and a
single-node Kafka broker are this run's own, so they can be stopped and restarted; Postgres is
the local stack's, reached through a proxy that can cut it (a stopped Postgres, as its clients
see it) without touching what else uses it. Every path from a service to Redis, Kafka or
Postgres goes through a ``FaultProxy``, so latency and dropped connections can be put on it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from chat_common.kafka_client import ensure_topics
from chat_testing import stack
from chat_testing.fault_proxy import FaultProxy
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, python_module, redis_server
from gateway_harness import ORIGIN, ChatSystem, auth_service, gateway_process, kafka_broker

# Partitions of the run's topic: more than one, so the worker's batches span partitions.
PARTITIONS = 6


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@dataclass
class Cluster:
    log_dir: Path
    system: ChatSystem = field(init=False)
    kafka: ServiceProcess = field(init=False)
    redis_proxy: FaultProxy = field(init=False)
    kafka_proxy: FaultProxy = field(init=False)
    database_proxy: FaultProxy = field(init=False)
    database_url: str = field(init=False)  # direct, for the checker's reads

    @property
    def gateways(self) -> list[ServiceProcess]:
        return self.system.gateways

    @property
    def urls(self) -> list[str]:
        return [self.system.ws_url(gateway) for gateway in self.gateways]

    @property
    def origin(self) -> str:
        return ORIGIN

    async def start(self) -> None:
        run = uuid.uuid4().hex[:10]
        self.database_url = stack.database_url()
        database = urlsplit(self.database_url)
        self.database_proxy = FaultProxy(database.hostname or "127.0.0.1", database.port or 5432)
        await self.database_proxy.start()
        proxied_database = _through(self.database_url, self.database_proxy.port)

        redis_port = free_port()
        redis = redis_server(redis_port, self.log_dir)
        await redis.start()
        self.redis_proxy = FaultProxy("127.0.0.1", redis_port)
        await self.redis_proxy.start()

        kafka_port = free_port()
        self.kafka_proxy = FaultProxy("127.0.0.1", kafka_port)
        await self.kafka_proxy.start()
        # The broker advertises the proxy, so every connection a client opens goes through it.
        self.kafka = kafka_broker(
            kafka_port,
            free_port(),
            self.log_dir / "kafka",
            advertised_port=self.kafka_proxy.port,
        )
        await self.kafka.start(limit_s=90)
        kafka = f"127.0.0.1:{self.kafka_proxy.port}"
        topic, group = f"chaos.{run}", f"chaos-{run}"
        await ensure_topics(kafka, {topic: PARTITIONS})

        redis_url = f"redis://127.0.0.1:{self.redis_proxy.port}/0"
        auth_port = free_port()
        auth = auth_service(
            self.log_dir, auth_port, self.database_url, f"redis://127.0.0.1:{redis_port}/0"
        )
        worker_port = free_port()
        worker = ServiceProcess(
            "worker",
            python_module("chat_worker"),
            {
                "CHAT_WORKER_KAFKA_BOOTSTRAP": kafka,
                "CHAT_WORKER_TOPIC": topic,
                "CHAT_WORKER_GROUP_ID": group,
                "CHAT_WORKER_DATABASE_URL": proxied_database,
                "CHAT_WORKER_METRICS_PORT": str(worker_port),
            },
            self.log_dir,
            ready_url=f"http://127.0.0.1:{worker_port}/readyz",
        )
        self.system = ChatSystem(
            topic=topic,
            group=group,
            kafka=kafka,
            database_url=proxied_database,
            redis_url=redis_url,
            auth_url=f"http://127.0.0.1:{auth_port}",
            log_dir=self.log_dir,
            redis=redis,
            auth=auth,
            worker=worker,
        )
        self.system.gateway_env = {
            "CHAT_GATEWAY_REDIS_URL": redis_url,
            "CHAT_GATEWAY_KAFKA_BOOTSTRAP": kafka,
            "CHAT_GATEWAY_DATABASE_URL": proxied_database,
            "CHAT_GATEWAY_KAFKA_TOPIC": topic,
            "CHAT_GATEWAY_PERSISTENCE_GROUP": group,
            "CHAT_GATEWAY_JWKS_URL": f"{self.system.auth_url}/.well-known/jwks.json",
            "CHAT_GATEWAY_ALLOWED_ORIGINS": ORIGIN,
            # Every client of the run comes from 127.0.0.1, and speakers send faster than people.
            "CHAT_GATEWAY_MAX_CONNECTIONS_PER_IP": "100000",
            "CHAT_GATEWAY_SEND_RATE_PER_S": "500",
            "CHAT_GATEWAY_SEND_BURST": "1000",
            # A drained gateway closes its clients after 1 s, not 5: the drain scenario's pace.
            "CHAT_GATEWAY_DRAIN_GRACE_S": "1",
            # A reader that never reads is found within seconds, not after a mebibyte.
            "CHAT_GATEWAY_OUTBOUND_QUEUE_BYTES": "262144",
        }
        self.system.gateways = [
            gateway_process(self.system, "gateway-a"),
            gateway_process(self.system, "gateway-b"),
        ]
        for process in (auth, worker, *self.system.gateways):
            await process.start()

    async def stop(self) -> None:
        processes = [*self.system.gateways, self.system.worker, self.system.auth]
        for process in processes:
            await process.stop()
        await self.kafka.stop()
        await self.system.redis.stop()
        for proxy in (self.redis_proxy, self.kafka_proxy, self.database_proxy):
            await proxy.stop()

    async def read(self, rooms: list[str]) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        """Every stored entry of ``rooms`` and their reactions, read directly (not through the
        proxy, which a fault may be cutting)."""
        connection = await asyncpg.connect(self.database_url)
        try:
            entries = await connection.fetch(
                """
                SELECT id::text, room, seq, user_id, client_msg_id, kind, target::text, body,
                       emoji, reaction_on, edited_body, deleted_at IS NOT NULL AS deleted
                FROM messages WHERE room = ANY($1::text[])
                """,
                rooms,
            )
            reactions = await connection.fetch(
                """
                SELECT r.message_id::text, r.emoji, r.user_id, r.reaction_on
                FROM message_reactions r JOIN messages m ON m.id = r.message_id
                WHERE m.room = ANY($1::text[])
                """,
                rooms,
            )
        finally:
            await connection.close()
        return entries, reactions

    async def stored_ids(self, ids: list[str]) -> int:
        connection = await asyncpg.connect(self.database_url)
        try:
            count: int = await connection.fetchval(
                "SELECT count(*) FROM messages WHERE id = ANY($1::uuid[])", ids
            )
        finally:
            await connection.close()
        return count
