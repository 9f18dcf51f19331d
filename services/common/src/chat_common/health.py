"""Liveness and readiness routes.

``/healthz`` says the process serves requests. ``/readyz`` runs every dependency check at once,
each bounded by a timeout, and answers 503 naming what failed, so a balancer stops routing here.
A check made ``tolerated`` turns the service unready only after failing for its grace period: a
dependency every replica shares (Redis restarting) must not take them all out at once.
The answer names the dependency only: an error's text (addresses, ports, user names, driver
versions) goes to the log, for the operator, never to whoever asks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[object]]

# A probe answers well within Kubernetes' default 1 s probe timeout even when a dependency hangs.
CHECK_TIMEOUT_S = 0.8


class Degraded(Exception):
    """A tolerated check failing within its grace period: reported, and still ready."""


def tolerated(
    check: ReadinessCheck,
    grace_s: float,
    *,
    limit_s: float = CHECK_TIMEOUT_S * 0.75,
    clock: Callable[[], float] = time.monotonic,
) -> ReadinessCheck:
    """``check``, failing the probe only once it has failed for ``grace_s`` with no pass in
    between; before that it is ``degraded``. It runs under its own ``limit_s``, shorter than
    the probe's, so that a dependency that hangs counts as failing, not as a probe timed out."""
    failing_since: float | None = None

    async def probe() -> None:
        nonlocal failing_since
        try:
            await asyncio.wait_for(check(), limit_s)
        except Exception as exc:
            now = clock()
            if failing_since is None:
                failing_since = now
            if now - failing_since < grace_s:
                raise Degraded(f"failing for {now - failing_since:.1f} s") from exc
            raise
        failing_since = None

    return probe


async def run_checks(
    checks: Mapping[str, ReadinessCheck], limit_s: float = CHECK_TIMEOUT_S
) -> dict[str, str]:
    async def one(name: str, check: ReadinessCheck) -> str:
        try:
            await asyncio.wait_for(check(), limit_s)
        except Degraded as exc:
            cause = exc.__cause__
            log.warning(
                "readiness check failing, within its grace",
                extra={"check": name, "error": f"{type(cause).__name__}: {cause}"},
            )
            return "degraded"
        except TimeoutError:
            log.warning("readiness check timed out", extra={"check": name, "limit_s": limit_s})
            return "timed out"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("readiness check failed", extra={"check": name, "error": error})
            return "failed"
        return "ok"

    results = await asyncio.gather(*(one(name, check) for name, check in checks.items()))
    return dict(zip(checks.keys(), results, strict=True))


def health_routes(
    checks: Mapping[str, ReadinessCheck], timeout: float = CHECK_TIMEOUT_S
) -> list[Route]:
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        results = await run_checks(checks, timeout)
        ready = all(result in ("ok", "degraded") for result in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
        )

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
