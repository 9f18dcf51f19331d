"""A load generator's address can be exempted from the balancer's per-address limits by setting.

Runs deploy/local/nginx.sh with the real configuration on a free port, in front of upstreams that
refuse every connection: a request that passes the limits is answered 502, one that does not 429.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chat_testing.ports import free_port
from gateway_harness import REPO

# Far above the auth location's burst (20 at 5 r/s), so a limited address must see refusals.
REQUESTS = 60


@pytest.fixture
def balancer_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html>\n")
    refused = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "CHAT_NGINX_DIR": str(tmp_path / "nginx"),
        "CHAT_NGINX_LOG_DIR": str(tmp_path / "logs"),
        "CHAT_NGINX_LISTEN": f"127.0.0.1:{free_port()}",
        "CHAT_NGINX_WEB_ROOT": str(web),
        "CHAT_NGINX_GATEWAYS": refused,
        "CHAT_NGINX_GATEWAY_SOCKETS": refused,
        "CHAT_NGINX_AUTH": refused,
    }
    env.pop("CHAT_NGINX_UNLIMITED_ADDRESSES", None)
    yield env
    _nginx("stop", env)


def _nginx(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "deploy/local/nginx.sh"), action],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _statuses(env: dict[str, str]) -> Counter[int]:
    started = _nginx("start", env)
    assert started.returncode == 0, started.stderr
    url = f"https://{env['CHAT_NGINX_LISTEN']}/auth/v1/token"
    with httpx.Client(verify=False, timeout=5.0) as client:  # noqa: S501 - self-signed, loopback
        return Counter(client.get(url).status_code for _ in range(REQUESTS))


def test_one_address_is_limited_by_default(balancer_env: dict[str, str]) -> None:
    statuses = _statuses(balancer_env)
    assert statuses[429] > 0, statuses


def test_an_exempt_address_is_not_limited(balancer_env: dict[str, str]) -> None:
    statuses = _statuses({**balancer_env, "CHAT_NGINX_UNLIMITED_ADDRESSES": "::1 127.0.0.1"})
    assert statuses == Counter({502: REQUESTS})


def test_an_exemption_that_is_not_an_address_is_refused(balancer_env: dict[str, str]) -> None:
    started = _nginx("start", {**balancer_env, "CHAT_NGINX_UNLIMITED_ADDRESSES": "0.0.0.0/0"})
    assert started.returncode != 0
    assert "is not an IP address" in started.stderr
