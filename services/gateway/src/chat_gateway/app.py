"""The composition root: builds the gateway from its settings and serves HTTP and WebSocket.

Only here are the concrete Redis, Kafka and Postgres implementations chosen; everything below
gets them as the interfaces it uses (``Broker``, ``Presence``, ``Transport``, …), through
``GatewayContext`` for sessions (and the person's routes), ``RoomAdministration`` for the room
routes, ``RoomPeople`` for the people routes and ``MessageSearch`` for search.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat_common import database, redis_client
from chat_common.errors import ChatError, ErrorCode
from chat_common.health import health_routes, tolerated
from chat_common.kafka_client import create_producer
from chat_common.metrics import metrics_route
from chat_common.object_store import ObjectStoreSettings, open_object_store
from chat_common.revocation import is_revoked
from chat_common.tokens import JwksVerifier, SigningKeysUnavailableError, TokenError
from chat_gateway import protocol
from chat_gateway.access import RoomAccess
from chat_gateway.attachments import SendFiles
from chat_gateway.context import Claims, GatewayContext, VerifyToken, build_context
from chat_gateway.directory_http import RoomPeople, directory_routes
from chat_gateway.internal_http import internal_routes
from chat_gateway.me_http import me_routes
from chat_gateway.message_log import MessageLog, PersistenceWatch
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.my_rooms import MyRooms
from chat_gateway.people import PeopleDirectory
from chat_gateway.read_markers import ReadMarkers
from chat_gateway.redis_broker import RedisBroker
from chat_gateway.redis_presence import RedisPresence
from chat_gateway.room_events import CONTROL_CHANNELS
from chat_gateway.room_list import RoomCatalog
from chat_gateway.rooms_http import RoomAdministration, room_routes
from chat_gateway.roster import RoomRoster
from chat_gateway.search import MessageSearch, SearchLimits
from chat_gateway.search_http import search_routes
from chat_gateway.session import Session
from chat_gateway.settings import GatewaySettings
from chat_gateway.shutdown import bounded, watched_closing
from chat_gateway.sniffing import FileSniffer
from chat_gateway.store import MessageStore, RoomDirectory
from chat_gateway.supervisor import TaskSupervisor
from chat_gateway.uploads import UploadRecords
from chat_gateway.uploads_http import AttachmentFiles, upload_routes
from chat_gateway.websocket import WebSocketServer

log = logging.getLogger(__name__)


def create_app(
    settings: GatewaySettings, object_store: ObjectStoreSettings | None = None
) -> Starlette:
    """The gateway; without ``object_store`` it takes no attachments (docs/gateway.md,
    "Attachments")."""
    state: dict[str, Any] = {}
    metrics = GatewayMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with watched_closing(settings.shutdown_report_after_s) as stack:
            tasks = TaskSupervisor(metrics.task_failures)
            state["tasks"] = tasks
            ctx, app.state.rooms, app.state.people, app.state.files = await _build(
                settings, stack, tasks
            )
            app.state.ctx = ctx
            app.state.search = MessageSearch(state["pool"], SearchLimits.of(settings))
            app.state.sessions = set()
            state["ctx"] = ctx
            stack.push_async_callback(tasks.stop, settings.drain_close_wait_s)
            tasks.spawn("presence-heartbeat", lambda: _heartbeat(app))
            tasks.spawn("presence-sweeper", lambda: _sweep_presence(ctx))
            websockets = WebSocketServer(ctx, app.state.sessions)
            await websockets.start()
            stack.push_async_callback(websockets.close)
            yield

    async def readiness_draining() -> None:
        ctx: GatewayContext = state["ctx"]
        if ctx.draining:
            raise RuntimeError("draining")

    async def readiness_fanout() -> None:
        ctx: GatewayContext = state["ctx"]
        if not ctx.fanout.healthy:
            raise ConnectionError("room subscription to redis is down")

    async def readiness_tasks() -> None:
        failing = state["tasks"].crash_looping
        if failing:
            raise RuntimeError(f"background tasks failing again and again: {', '.join(failing)}")

    async def readiness_redis() -> None:
        await state["redis"].ping()

    async def readiness_postgres() -> None:
        await database.ping(state["pool"])

    # Every gateway shares Redis and Postgres: a blip of either must not take them all out of
    # the balancer at once. Connected clients stay, and what needs the dependency is refused
    # `unavailable` meanwhile (docs/gateway.md, "Readiness").
    grace_s = settings.ready_grace_s
    checks = {
        "redis": tolerated(readiness_redis, grace_s),
        "postgres": tolerated(readiness_postgres, grace_s),
        "fanout": tolerated(readiness_fanout, grace_s),
        "draining": readiness_draining,
        "tasks": readiness_tasks,
    }

    async def _build(
        settings: GatewaySettings, stack: contextlib.AsyncExitStack, tasks: TaskSupervisor
    ) -> tuple[GatewayContext, RoomAdministration, RoomPeople, AttachmentFiles | None]:
        redis = redis_client.create_redis(
            settings.redis_url,
            client_name=f"gateway-{settings.node_id}",
            max_connections=settings.redis_max_connections,
            pool_timeout_s=settings.redis_pool_timeout_s,
        )
        stack.push_async_callback(redis.aclose)
        pool = await database.create_pool(settings.database_url, min_size=1, max_size=10)
        stack.push_async_callback(pool.close)
        state["redis"], state["pool"] = redis, pool
        message_log = MessageLog(
            lambda: create_producer(
                settings.kafka_bootstrap,
                client_id=f"gateway-{settings.node_id}",
                request_timeout_ms=settings.kafka_request_timeout_ms,
                linger_ms=settings.kafka_linger_ms,
            ),
            settings.kafka_topic,
            limit_s=settings.kafka_request_timeout_ms / 1000,
            renewed=metrics.producer_renewals.inc,
        )
        await message_log.start()
        stack.push_async_callback(message_log.close)
        watch = PersistenceWatch(
            settings.kafka_bootstrap, settings.kafka_topic, settings.persistence_group
        )
        stack.push_async_callback(watch.close)
        check_token = _jwks_check(settings, stack)
        broker = RedisBroker(
            redis,
            window_size=settings.recent_window_size,
            window_ttl_s=settings.recent_window_ttl_s,
            dedup_ttl_s=settings.dedup_ttl_s,
            send_rate_per_s=settings.send_rate_per_s,
            send_burst=settings.send_burst,
            send_lock_s=settings.send_lock_s,
            control_channels=CONTROL_CHANNELS,
            tasks=tasks,
            metrics=metrics,
            replicas=redis_client.replicas_to_wait(settings.redis_url),
        )
        roster = RoomRoster(pool)
        people_directory = PeopleDirectory(pool)
        access = RoomAccess(
            pool,
            RoomDirectory(pool),
            roster,
            people_directory,
            create_on_join=settings.create_rooms_on_join,
            cache_ttl_s=settings.access_cache_ttl_s,
            stale_if_error_s=settings.access_stale_if_error_s,
        )
        files, send_files = None, None
        if object_store is not None:
            store = await stack.enter_async_context(open_object_store(object_store))
            files = AttachmentFiles(UploadRecords(pool), store)
            send_files = SendFiles(
                files.records,
                store,
                FileSniffer(),
                sniff_bytes=settings.upload_sniff_bytes,
                timeout_s=settings.attachment_check_timeout_s,
            )
        ctx = build_context(
            settings,
            broker=broker,
            presence=RedisPresence(redis, ttl_s=settings.presence_ttl_s),
            store=MessageStore(pool),
            message_log=message_log,
            persistence=watch,
            access=access,
            markers=ReadMarkers(pool),
            my_rooms=MyRooms(pool),
            members=roster,
            verify_token=check_token,
            is_revoked=functools.partial(is_revoked, redis),
            metrics=metrics,
            tasks=tasks,
            files=send_files,
        )
        stack.callback(ctx.presence_announcer.close)
        await ctx.fanout.start()
        stack.push_async_callback(ctx.fanout.stop)
        people = RoomPeople(people_directory, roster, access, ctx.presence, broker)
        rooms = RoomAdministration(access, roster, RoomCatalog(pool), broker)
        return ctx, rooms, people, files

    routes = [
        *room_routes(),
        *me_routes(),
        *directory_routes(),
        *search_routes(),
        *upload_routes(),
        *internal_routes(),
        *health_routes(checks),
        metrics_route(metrics.registry),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_exception_handler(ChatError, _chat_error_response)  # type: ignore[arg-type]
    for dependency_error in (RedisError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        app.add_exception_handler(dependency_error, _unavailable_response)
    return app


def _jwks_check(settings: GatewaySettings, stack: contextlib.AsyncExitStack) -> VerifyToken:
    verifier = JwksVerifier(
        jwks_url=settings.jwks_url, issuer=settings.token_issuer, audience=settings.token_audience
    )
    # Its keep-alive socket to the auth service may be half closed at shutdown.
    stack.push_async_callback(bounded(verifier.aclose, "jwks client", settings.drain_close_wait_s))

    async def verify(token: str) -> Claims:
        try:
            return await verifier.verify(token)
        except SigningKeysUnavailableError as exc:
            # No verdict yet (the auth service is unreachable): the client retries, signed in.
            raise ChatError(ErrorCode.UNAVAILABLE, str(exc)) from exc
        except TokenError as exc:
            raise ChatError(ErrorCode.UNAUTHORIZED, str(exc)) from exc

    return verify


async def _heartbeat(app: Starlette) -> None:
    """Keeps this gateway's presence entries from lapsing; a failure ends the run and the
    supervisor starts another, well within the entries' lifetime."""
    ctx: GatewayContext = app.state.ctx
    while True:
        await asyncio.sleep(ctx.settings.presence_ttl_s / 3)
        sessions: list[Session] = [s for s in app.state.sessions if s.claims is not None]
        await ctx.presence.heartbeat(
            [(s.user_id, s.session_id) for s in sessions],
            [(room, s.member()) for s in sessions for room in s.rooms],
        )


async def _sweep_presence(ctx: GatewayContext) -> None:
    """Report users offline whose every connection lapsed (their gateway died)."""
    while True:
        await asyncio.sleep(ctx.settings.presence_sweep_s)
        for room in list(ctx.hub.rooms):
            for user in await ctx.presence.sweep(room):
                await ctx.presence_announcer.changed(room, user.id, user.name)


async def drain(app: Starlette, grace_s: float) -> None:
    """Tell every client to reconnect elsewhere, give them ``grace_s``, then close with 1012."""
    ctx: GatewayContext = app.state.ctx
    ctx.draining = True
    sessions: set[Session] = app.state.sessions
    reconnect = protocol.event("reconnect", reason="server draining")
    for session in list(sessions):
        session.push_event(reconnect)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    while sessions and loop.time() < deadline:
        await asyncio.sleep(0.05)
    for session in list(sessions):
        session.close_soon(1012, "server draining")
    deadline = loop.time() + ctx.settings.drain_close_wait_s
    while sessions and loop.time() < deadline:
        await asyncio.sleep(0.05)


# -- HTTP errors ------------------------------------------------------------------------------


async def _chat_error_response(_: Request, exc: ChatError) -> Response:
    body: dict[str, Any] = {"code": exc.code.value, "message": exc.message}
    response = JSONResponse(body, status_code=exc.http_status)
    if exc.code is ErrorCode.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = "Bearer"
    if exc.retry_after_ms is not None:
        response.headers["Retry-After"] = str(math.ceil(exc.retry_after_ms / 1000))
    return response


async def _unavailable_response(_: Request, exc: Exception) -> Response:
    log.warning("dependency failed", extra={"error": repr(exc)})
    return await _chat_error_response(
        _, ChatError(ErrorCode.UNAVAILABLE, "service unavailable; retry")
    )
