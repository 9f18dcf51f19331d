from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.testclient import TestClient

from chat_common.health import health_routes, run_checks, tolerated
from chat_common.metrics import metrics_route, new_registry


async def _ok() -> None:
    return None


async def _down() -> None:
    raise ConnectionError("connection refused by 10.1.2.3:5432 (user chat)")


async def _hangs() -> None:
    await asyncio.sleep(10)


def test_ready_when_every_check_passes() -> None:
    app = Starlette(routes=health_routes({"redis": _ok, "postgres": _ok}))
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"redis": "ok", "postgres": "ok"}


def test_not_ready_names_the_failing_and_the_hanging_dependency_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Starlette(routes=health_routes({"redis": _ok, "kafka": _down, "db": _hangs}, 0.1))
    with caplog.at_level(logging.WARNING, logger="chat_common.health"), TestClient(app) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"redis": "ok", "kafka": "failed", "db": "timed out"},
    }
    # The error itself is logged for the operator, never answered to whoever asks.
    logged = {(r.getMessage(), getattr(r, "check", None)) for r in caplog.records}
    assert ("readiness check failed", "kafka") in logged
    assert ("readiness check timed out", "db") in logged
    failure = next(r for r in caplog.records if getattr(r, "check", None) == "kafka")
    assert "10.1.2.3:5432" in getattr(failure, "error", "")


def test_metrics_exposes_the_service_registry_only() -> None:
    registry = new_registry()
    Counter("chat_demo_total", "a demo counter", registry=registry).inc(3)
    app = Starlette(routes=[metrics_route(registry)])
    with TestClient(app) as client:
        body = client.get("/metrics").text
    assert "chat_demo_total 3.0" in body
    assert "process_resident_memory_bytes" in body


async def test_a_tolerated_check_fails_the_probe_only_after_failing_for_its_grace() -> None:
    now = [100.0]
    up = [False]

    async def redis() -> None:
        if not up[0]:
            raise ConnectionError("refused")

    checks = {"redis": tolerated(redis, 10.0, clock=lambda: now[0])}
    assert await run_checks(checks) == {"redis": "degraded"}  # the first failure
    now[0] += 9.9
    assert await run_checks(checks) == {"redis": "degraded"}
    now[0] += 0.1
    assert await run_checks(checks) == {"redis": "failed"}  # failing for the whole grace
    up[0] = True
    assert await run_checks(checks) == {"redis": "ok"}
    up[0] = False
    now[0] += 60
    assert await run_checks(checks) == {"redis": "degraded"}  # a pass started it over


async def test_a_tolerated_check_that_hangs_is_failing_not_timed_out() -> None:
    checks = {"db": tolerated(_hangs, 10.0, limit_s=0.05)}
    assert await run_checks(checks, 0.5) == {"db": "degraded"}


def test_degraded_checks_leave_the_service_ready() -> None:
    app = Starlette(routes=health_routes({"redis": tolerated(_down, 30.0), "db": _ok}))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"redis": "degraded", "db": "ok"}}
