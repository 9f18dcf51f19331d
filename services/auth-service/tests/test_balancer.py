"""What the balancer publishes: the auth service's API, never its metrics or probes.

nginx is rendered and started by deploy/local/nginx.sh, as ``make up`` does, in front of the
running auth service and of a stand-in for the gateways that records every path it is asked
for. Paths are sent as written (no client-side normalisation), the way an attacker would.
"""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from auth_harness import AuthProcess
from chat_testing.ports import free_port

REPO = Path(__file__).resolve().parents[3]
NGINX_SH = REPO / "deploy" / "local" / "nginx.sh"
# Every service of the system serves these at its root, for Prometheus and the kubelet.
INTERNAL = {"/metrics", "/readyz", "/healthz"}


class _Recorder(http.server.BaseHTTPRequestHandler):
    recorded: ClassVar[list[str]]

    def do_GET(self) -> None:
        self.recorded.append(self.path)
        body = b"stand-in gateway"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class GatewayStandIn:
    """Answers 200 to everything and remembers the paths, as the gateways' upstream."""

    def __init__(self) -> None:
        self.paths: list[str] = []

        class Recorder(_Recorder):
            recorded = self.paths

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@dataclass
class Balancer:
    port: int
    tls: ssl.SSLContext
    gateways: GatewayStandIn

    def get(self, raw_path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls)
        try:
            connection.request("GET", raw_path, headers={"Host": "localhost"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls)
        try:
            headers = {"Host": "localhost", "Content-Type": "application/json"}
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *("-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def balancer(
    auth_service: AuthProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Balancer]:
    work = tmp_path_factory.mktemp("balancer")
    # As root, nginx's workers run as nobody, who must read the app's files: a world-readable
    # folder outside pytest's private temporary tree.
    web_root = Path(tempfile.mkdtemp(prefix="chat-balancer-web-"))
    web_root.chmod(0o755)
    (web_root / "index.html").write_text("<!doctype html><title>the app</title>\n")
    (web_root / "index.html").chmod(0o644)
    cert, key = _certificate(work)
    gateways = GatewayStandIn()
    port = free_port()
    env = {
        **os.environ,
        "CHAT_NGINX_DIR": str(work / "nginx"),
        "CHAT_NGINX_LOG_DIR": str(work),
        "CHAT_NGINX_LISTEN": f"127.0.0.1:{port}",
        "CHAT_NGINX_GATEWAYS": f"127.0.0.1:{gateways.port}",
        "CHAT_NGINX_GATEWAY_SOCKETS": f"127.0.0.1:{gateways.port}",
        "CHAT_NGINX_AUTH": f"127.0.0.1:{auth_service.port}",
        "CHAT_NGINX_WEB_ROOT": str(web_root),
        "CHAT_NGINX_TLS_CERT": str(cert),
        "CHAT_NGINX_TLS_KEY": str(key),
    }
    started = subprocess.run(
        [str(NGINX_SH), "start"], env=env, capture_output=True, text=True, check=False
    )
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield Balancer(port, ssl.create_default_context(cafile=str(cert)), gateways)
    finally:
        subprocess.run([str(NGINX_SH), "stop"], env=env, capture_output=True, check=False)
        gateways.close()
        shutil.rmtree(web_root)


@pytest.mark.parametrize(
    "path",
    [
        "/auth/metrics",
        "/auth/readyz",
        "/auth/healthz",
        "/auth/metrics/",
        "/auth/metrics?format=text",
        "/auth//metrics",
        "/auth/./readyz",
        "/auth/%6detrics",
        "/auth/v1/../metrics",
        "/auth/v1/%2e%2e/readyz",
        "/auth/.well-known/../healthz",
        "/auth/openapi.json/../metrics",
    ],
)
def test_the_auth_services_metrics_and_probes_are_not_published(
    balancer: Balancer, path: str
) -> None:
    status, body = balancer.get(path)
    assert status == 404
    for trace in (b"chat_auth", b"process_", b"checks", b'"status"'):
        assert trace not in body


@pytest.mark.parametrize(
    "path",
    [
        "/metrics",
        "/readyz",
        "/healthz",
        "/v1/../metrics",
        "/v1/%2e%2e/readyz",
        "/v1//../healthz",
        "/ws/../metrics",
        "/v1/rooms/../../readyz",
    ],
)
def test_no_path_reaches_the_gateways_metrics_or_probes(balancer: Balancer, path: str) -> None:
    status, body = balancer.get(path)
    asked = {urllib.parse.unquote(p.partition("?")[0]) for p in balancer.gateways.paths}
    assert not asked & INTERNAL, balancer.gateways.paths
    assert body != b"stand-in gateway"
    assert status in (200, 404)


def test_the_auth_api_and_the_gateways_are_still_published(balancer: Balancer) -> None:
    status, body = balancer.get("/auth/.well-known/jwks.json")
    assert status == 200
    assert b'"keys"' in body
    status, body = balancer.get("/auth/openapi.json")
    assert status == 200
    assert b'"openapi"' in body
    # The service's own refusal, not nginx's: the request reached POST /v1/token.
    status, body = balancer.post("/auth/v1/token", b"{}")
    assert status == 422
    assert b'"bad_request"' in body
    status, body = balancer.get("/v1/rooms?limit=1")
    assert (status, body) == (200, b"stand-in gateway")
    assert balancer.gateways.paths[-1] == "/v1/rooms?limit=1"
