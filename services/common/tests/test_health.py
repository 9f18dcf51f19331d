from __future__ import annotations

import asyncio

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.testclient import TestClient

from chat_common.health import health_routes
from chat_common.metrics import metrics_route, new_registry


async def _ok() -> None:
    return None


async def _down() -> None:
    raise ConnectionError("connection refused")


async def _hangs() -> None:
    await asyncio.sleep(10)


def test_ready_when_every_check_passes() -> None:
    app = Starlette(routes=health_routes({"redis": _ok, "postgres": _ok}))
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"redis": "ok", "postgres": "ok"}


def test_not_ready_names_the_failing_and_the_hanging_dependency() -> None:
    app = Starlette(routes=health_routes({"redis": _ok, "kafka": _down, "db": _hangs}, 0.1))
    with TestClient(app) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"] == "ok"
    assert "connection refused" in checks["kafka"]
    assert "timed out" in checks["db"]


def test_metrics_exposes_the_service_registry_only() -> None:
    registry = new_registry()
    Counter("chat_demo_total", "a demo counter", registry=registry).inc(3)
    app = Starlette(routes=[metrics_route(registry)])
    with TestClient(app) as client:
        body = client.get("/metrics").text
    assert "chat_demo_total 3.0" in body
    assert "process_resident_memory_bytes" in body
