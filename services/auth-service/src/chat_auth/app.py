"""The composition root: builds the auth service from its settings.

Keys are read when the app is created, so a missing or wrong key file stops start-up with a
message naming the file; Postgres, Redis and the hashing threads live for the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chat_auth import endpoints
from chat_auth.accounts import AccountStore
from chat_auth.bodies import ApiError, problem_response
from chat_auth.browser import BrowserCookies
from chat_auth.context import AuthContext
from chat_auth.issuer import AccessTokenIssuer
from chat_auth.metrics import AuthMetrics
from chat_auth.openapi import openapi_document
from chat_auth.passwords import PasswordsBusyError, PasswordVault
from chat_auth.revoker import Revoker
from chat_auth.sessions import SessionStore
from chat_auth.settings import AuthSettings
from chat_auth.signing import KeyRing
from chat_auth.throttle import LoginThrottle, RegistrationThrottle
from chat_common import database, redis_client
from chat_common.errors import ChatError, ErrorCode
from chat_common.health import health_routes
from chat_common.logs import log_event_loop
from chat_common.metrics import metrics_route
from chat_common.tokens import TokenRules

log = logging.getLogger(__name__)


def create_app(settings: AuthSettings) -> Starlette:
    keys = KeyRing.from_files(settings.signing_key_file, settings.previous_key_file)
    metrics = AuthMetrics()
    openapi = openapi_document(settings)
    # The readiness checks run only while the lifespan holds a context.
    live: dict[str, AuthContext] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log_event_loop(log)
        async with contextlib.AsyncExitStack() as stack:
            ctx = await _build(settings, keys, metrics, stack)
            app.state.auth = live["ctx"] = ctx
            purge = asyncio.create_task(_purge_forever(ctx))
            stack.push_async_callback(_stop, purge)
            yield

    async def readiness_postgres() -> None:
        await database.ping(live["ctx"].pool)

    async def readiness_redis() -> None:
        await redis_client.ping(live["ctx"].redis)

    async def serve_openapi(_: Request) -> Response:
        return JSONResponse(openapi)

    async def passwords_busy(_: Request, exc: PasswordsBusyError) -> Response:
        metrics.password_shed.inc()
        headers = {"Retry-After": str(exc.retry_after_s)}
        return problem_response(ApiError(ErrorCode.UNAVAILABLE, str(exc), headers=headers))

    routes = [
        Route("/v1/users", endpoints.register, methods=["POST"]),
        Route("/v1/token", endpoints.issue_tokens, methods=["POST"]),
        Route("/v1/token/refresh", endpoints.refresh_tokens, methods=["POST"]),
        Route("/v1/logout", endpoints.logout, methods=["POST"]),
        Route("/.well-known/jwks.json", endpoints.jwks, methods=["GET"]),
        Route("/openapi.json", serve_openapi, methods=["GET"]),
        *health_routes({"postgres": readiness_postgres, "redis": readiness_redis}),
        metrics_route(metrics.registry),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_exception_handler(ChatError, _chat_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(PasswordsBusyError, passwords_busy)  # type: ignore[arg-type]
    for outage in (RedisError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        app.add_exception_handler(outage, _unavailable)
    return app


async def _build(
    settings: AuthSettings,
    keys: KeyRing,
    metrics: AuthMetrics,
    stack: contextlib.AsyncExitStack,
) -> AuthContext:
    redis = redis_client.create_redis(
        settings.redis_url,
        client_name="auth-service",
        max_connections=settings.redis_max_connections,
        pool_timeout_s=settings.redis_pool_timeout_s,
    )
    stack.push_async_callback(redis.aclose)
    pool = await database.create_pool(settings.database_url, max_size=settings.database_pool_size)
    stack.push_async_callback(pool.close)
    vault = PasswordVault(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        workers=settings.hash_workers,
        queue_limit=settings.hash_queue_limit,
        observe=metrics.password_work_done,
    )
    stack.callback(vault.close)
    await vault.start()
    return AuthContext(
        settings=settings,
        keys=keys,
        token_rules=TokenRules(issuer=settings.issuer, audience=settings.audience),
        vault=vault,
        accounts=AccountStore(pool),
        sessions=SessionStore(pool, refresh_ttl_s=settings.refresh_token_ttl_s),
        throttle=LoginThrottle(
            redis,
            per_user_address=settings.login_failures_per_user_address,
            per_address=settings.login_failures_per_ip,
            per_user=settings.login_failures_per_user,
            pace_s=settings.login_pace_s,
            window_s=settings.login_throttle_window_s,
            ipv6_prefix=settings.throttle_ipv6_prefix,
        ),
        registrations=RegistrationThrottle(
            redis,
            per_address=settings.registrations_per_ip,
            window_s=settings.registration_window_s,
            ipv6_prefix=settings.throttle_ipv6_prefix,
        ),
        issuer=AccessTokenIssuer(
            keys,
            redis,
            issuer=settings.issuer,
            audience=settings.audience,
            ttl_s=settings.access_token_ttl_s,
        ),
        revoker=Revoker(
            redis,
            metrics,
            mark_ttl_s=settings.access_token_ttl_s + settings.revocation_leeway_s,
            replicas=redis_client.replicas_to_wait(settings.redis_url),
        ),
        cookies=BrowserCookies(
            allowed_origins=settings.allowed_origins,
            cookie_path=settings.cookie_path,
            refresh_cookie=settings.refresh_cookie_name,
            csrf_cookie=settings.csrf_cookie_name,
            max_age_s=settings.refresh_token_ttl_s,
        ),
        metrics=metrics,
        redis=redis,
        pool=pool,
    )


async def _purge_forever(ctx: AuthContext) -> None:
    while True:
        try:
            deleted = await ctx.sessions.purge()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("purging expired refresh tokens failed", extra={"error": repr(exc)})
        else:
            if deleted:
                log.info("purged expired refresh tokens and sessions", extra={"rows": deleted})
        await asyncio.sleep(ctx.settings.purge_interval_s)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _chat_error(_: Request, exc: ChatError) -> Response:
    return problem_response(exc)


async def _http_error(_: Request, exc: HTTPException) -> Response:
    code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.BAD_REQUEST
    return problem_response(
        ApiError(code, str(exc.detail), status=exc.status_code, headers=exc.headers)
    )


async def _unavailable(_: Request, exc: Exception) -> Response:
    log.warning("a dependency failed", extra={"error": repr(exc)})
    return problem_response(
        ChatError(ErrorCode.UNAVAILABLE, "a dependency is unavailable; try again shortly")
    )
