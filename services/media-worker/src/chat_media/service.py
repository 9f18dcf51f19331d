"""Composition root: builds the media worker from its settings and runs it, with its metrics
and health endpoints and the sweep beside it, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from chat_common.database import create_pool
from chat_common.endpoints import listen, serve_endpoints
from chat_common.health import health_routes
from chat_common.kafka_client import create_consumer
from chat_common.metrics import metrics_route, new_registry
from chat_common.object_store import ObjectStore, ObjectStoreSettings, open_object_store
from chat_media.consumer import CommitOnRevoke, DoneOffsets, MediaConsumer
from chat_media.decoder import ImageDecoder
from chat_media.deleted_messages import DeletedMessages
from chat_media.gateway_client import GatewayClient
from chat_media.images import ImageLimits
from chat_media.message_images import MessageImages
from chat_media.metrics import MediaMetrics
from chat_media.orphan_sweep import OrphanSweep
from chat_media.retries import Retrier
from chat_media.settings import MediaSettings
from chat_media.uploads import Uploads

log = logging.getLogger(__name__)

# No connection is opened at start-up, so the worker starts (and reports not ready) while
# Postgres is down.
_POOL_MIN = 0
_POOL_CLOSE_TIMEOUT_S = 5.0
# A key no upload has: the store's readiness is a HEAD that answers "not found".
_READY_PROBE_KEY = "readyz"


def create_http_app(
    registry: CollectorRegistry, uploads: Uploads, consumer: AIOKafkaConsumer, store: ObjectStore
) -> Starlette:
    async def object_store() -> None:
        await store.head(_READY_PROBE_KEY)

    checks = {"postgres": uploads.ping, "kafka": consumer.topics, "object_store": object_store}
    return Starlette(routes=[*health_routes(checks), metrics_route(registry)])


async def serve(settings: MediaSettings, store_settings: ObjectStoreSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    registry = new_registry()
    metrics = MediaMetrics(registry)
    # Everything is closed in reverse order of creation, whichever step fails.
    async with contextlib.AsyncExitStack() as resources:
        listener = resources.enter_context(listen(settings.host, settings.port))
        pool = await create_pool(
            settings.database_url,
            min_size=_POOL_MIN,
            max_size=settings.database_pool_size,
            command_timeout=settings.database_timeout_s,
        )
        resources.push_async_callback(_close_pool, pool)
        store = await resources.enter_async_context(open_object_store(store_settings))
        http = await resources.enter_async_context(
            httpx.AsyncClient(base_url=settings.gateway_url, timeout=settings.gateway_timeout_s)
        )
        decoder = ImageDecoder(
            ImageLimits(
                max_pixels=settings.max_image_pixels,
                max_frames=settings.max_animation_frames,
                thumbnail_side=settings.thumbnail_side,
                jpeg_quality=settings.jpeg_quality,
                webp_quality=settings.webp_quality,
            ),
            settings.max_concurrent_images,
        )
        resources.callback(decoder.close)
        uploads = Uploads(pool)
        retrier = Retrier(
            settings.retry_initial_ms / 1000, settings.retry_max_ms / 1000, metrics.work_retries
        )
        images = MessageImages(
            store,
            uploads,
            decoder,
            GatewayClient(http, settings.internal_token, metrics.gateway_retries),
            retrier,
            metrics,
            stored_wait_s=settings.stored_wait_s,
            images_in_hand=2 * settings.max_concurrent_images,
        )
        deletes = DeletedMessages(
            store, uploads, retrier, metrics, stored_wait_s=settings.stored_wait_s
        )
        sweep = OrphanSweep(
            store,
            uploads,
            metrics,
            orphan_age=dt.timedelta(seconds=settings.orphan_age_s),
            claimed_orphan_age=dt.timedelta(seconds=settings.claimed_orphan_age_s),
            stray_object_age=dt.timedelta(seconds=settings.stray_object_age_s),
            batch=settings.sweep_batch,
        )
        consumer = create_consumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.group_id,
            client_id=settings.client_id,
            max_poll_records=settings.poll_max_records,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
        )
        resources.push_async_callback(consumer.stop)  # leaves the group
        serve_endpoints(resources, create_http_app(registry, uploads, consumer, store), listener)

        await consumer.start()
        offsets = DoneOffsets(consumer, metrics)
        consumer.subscribe([settings.topic], listener=CommitOnRevoke(offsets, metrics))
        sweeping = asyncio.create_task(sweep.run(settings.sweep_interval_s, stop))
        resources.push_async_callback(_stop_sweeping, stop, sweeping)
        worker = MediaConsumer(
            consumer,
            offsets,
            {"message": images.handle, "delete": deletes.handle},
            metrics,
            poll_max_records=settings.poll_max_records,
            poll_max_wait_ms=settings.poll_max_wait_ms,
        )
        log.info(
            "media worker consuming",
            extra={
                "topic": settings.topic,
                "group": settings.group_id,
                "endpoints": f"http://{settings.host}:{settings.port}",
            },
        )
        await worker.run(stop)
    log.info("media worker stopped")


async def _stop_sweeping(stop: asyncio.Event, sweeping: asyncio.Task[None]) -> None:
    stop.set()
    await sweeping


async def _close_pool(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), _POOL_CLOSE_TIMEOUT_S)
    except TimeoutError:
        pool.terminate()
