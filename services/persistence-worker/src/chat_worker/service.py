"""Composition root: builds the worker from its settings and runs it, with its metrics and
health endpoints, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from datetime import timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from chat_common.database import create_pool
from chat_common.endpoints import listen, serve_endpoints
from chat_common.health import health_routes
from chat_common.kafka_client import create_consumer, create_producer
from chat_common.metrics import metrics_route, new_registry
from chat_worker.author_marks import AuthorMarks
from chat_worker.dead_letters import DeadLetters
from chat_worker.marks_flusher import AuthorMarksFlusher
from chat_worker.metrics import WorkerMetrics
from chat_worker.offsets import CommitOnRevoke, WrittenOffsets
from chat_worker.settings import WorkerSettings
from chat_worker.store import MessageStore, advance_author_marks, prepare_connection
from chat_worker.worker import PersistenceWorker

log = logging.getLogger(__name__)

# No connection is opened at start-up, so the worker starts (and reports not ready) while
# Postgres is down.
_POOL_MIN = 0
_POOL_CLOSE_TIMEOUT_S = 5.0


def create_http_app(
    registry: CollectorRegistry, store: MessageStore, consumer: AIOKafkaConsumer
) -> Starlette:
    checks = {"postgres": store.ping, "kafka": consumer.topics}
    return Starlette(routes=[*health_routes(checks), metrics_route(registry)])


async def serve(settings: WorkerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    log.info("event loop", extra={"loop": f"{type(loop).__module__}.{type(loop).__qualname__}"})
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    registry = new_registry()
    metrics = WorkerMetrics(registry)
    # Everything is closed in reverse order of creation, whichever step fails; a client is
    # registered for closing before it starts, since starting can fail half-way.
    async with contextlib.AsyncExitStack() as resources:
        listener = resources.enter_context(listen(settings.metrics_host, settings.metrics_port))
        pool = await create_pool(
            settings.database_url,
            min_size=_POOL_MIN,
            # One per parallel transaction, and one that answers /readyz and writes the authors'
            # read markers (a statement a second).
            max_size=settings.write_connections + 1,
            command_timeout=settings.database_timeout_s,
            init=prepare_connection,
        )
        resources.push_async_callback(_close_pool, pool)
        author_marks = AuthorMarksFlusher(
            functools.partial(advance_author_marks, pool),
            AuthorMarks(settings.author_marks_max),
            settings.author_marks_flush_s,
            metrics,
        )
        flushing = asyncio.create_task(author_marks.run())
        # A flusher that ends by itself (a bug: outages are retried inside) stops the worker, and
        # its exception fails the process when it is awaited on the way out.
        flushing.add_done_callback(lambda _: stop.set())
        # Stopped before the pool closes and after the worker's last batch, so that the last
        # flush holds every stored batch's marks.
        resources.push_async_callback(_stop_flushing, author_marks, flushing)
        store = MessageStore(
            pool,
            activity_step=timedelta(seconds=settings.room_activity_step_s),
            note_author_marks=author_marks.note,
        )
        producer = create_producer(settings.kafka_bootstrap, client_id=f"{settings.client_id}-dlq")
        consumer = create_consumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.group_id,
            client_id=settings.client_id,
            max_poll_records=settings.batch_max_records,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
        )
        resources.push_async_callback(producer.stop)
        resources.push_async_callback(consumer.stop)  # leaves the group
        serve_endpoints(resources, create_http_app(registry, store, consumer), listener)

        await producer.start()
        await consumer.start()
        offsets = WrittenOffsets(consumer, metrics)
        consumer.subscribe([settings.topic], listener=CommitOnRevoke(offsets, metrics))
        dead_letters = DeadLetters(producer, settings.dlq_topic)
        worker = PersistenceWorker(consumer, store, dead_letters, offsets, metrics, settings)
        log.info(
            "worker consuming",
            extra={
                "topic": settings.topic,
                "group": settings.group_id,
                "dlq": settings.dlq_topic,
                "endpoints": f"http://{settings.metrics_host}:{settings.metrics_port}",
            },
        )
        await worker.run(stop)
    log.info("worker stopped")


async def _stop_flushing(author_marks: AuthorMarksFlusher, flushing: asyncio.Task[None]) -> None:
    author_marks.stop()
    await flushing


async def _close_pool(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), _POOL_CLOSE_TIMEOUT_S)
    except TimeoutError:
        pool.terminate()
