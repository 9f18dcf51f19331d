"""Liveness and readiness routes.

``/healthz`` says the process serves requests. ``/readyz`` runs every dependency check at once,
each bounded by a timeout, and answers 503 naming what failed, so a balancer stops routing here.
The answer names the dependency only: an error's text (addresses, ports, user names, driver
versions) goes to the log, for the operator, never to whoever asks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[object]]

# A probe answers well within Kubernetes' default 1 s probe timeout even when a dependency hangs.
CHECK_TIMEOUT_S = 0.8


async def run_checks(
    checks: Mapping[str, ReadinessCheck], limit_s: float = CHECK_TIMEOUT_S
) -> dict[str, str]:
    async def one(name: str, check: ReadinessCheck) -> str:
        try:
            await asyncio.wait_for(check(), limit_s)
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
        ready = all(result == "ok" for result in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
        )

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
