"""The balancer's /chat-attachments/ path in front of a real SeaweedFS, and /internal/.

nginx is rendered and started by deploy/local/nginx.sh as ``make up`` does, with TLS on a free
port and a certificate for localhost, in front of the session's SeaweedFS
(``chat_testing.object_store``). The store's presigned URLs are signed for the site's origin
(``CHAT_OBJECT_STORE_PUBLIC_ENDPOINT_URL`` = ``https://localhost:PORT``), as the local stack
signs them, so a browser's request reaches the store only through nginx. A second balancer in
front of a recording stand-in shows exactly what nginx passes to the store.
"""

from __future__ import annotations

import asyncio
import http.client
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import msgspec
import pytest

from chat_common.object_store import (
    ObjectStore,
    ObjectStoreSettings,
    content_disposition,
    open_object_store,
)
from chat_testing.ports import free_port

REPO = Path(__file__).resolve().parents[2]
NGINX_SH = REPO / "deploy" / "local" / "nginx.sh"
HEADERS_SNIPPET = REPO / "deploy" / "nginx" / "attachment-headers.conf"
# CHAT_GATEWAY_UPLOAD_MAX_BYTES's default, which chat-locations.conf's client_max_body_size is.
UPLOAD_MAX_BYTES = 25 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PAGE = b"<!doctype html><script>document.title = document.cookie</script><p>hello</p>\n"
# The media worker's route on the gateways; no path of it may get past the balancer.
INTERNAL_ROUTE = "/internal/v1/rooms/general/messages/0/attachments"


def _snippet_headers() -> dict[str, str]:
    """The headers attachment-headers.conf adds, by lower-case name (HSTS is empty locally)."""
    headers = {}
    for line in HEADERS_SNIPPET.read_text().splitlines():
        if line.startswith("add_header ") and '"' in line:
            name, _, rest = line.removeprefix("add_header ").partition(" ")
            headers[name.lower()] = rest.split('"')[1]
    return headers


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Records each request's path as sent and its headers; answers like a store would, with a
    cookie and a policy of its own that must not reach the browser."""

    protocol_version = "HTTP/1.1"
    recorded: ClassVar[list[tuple[str, str, dict[str, str]]]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        if length:
            self.rfile.read(length)
        self.recorded.append(
            (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        )
        body = b"stand-in"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "store=1; Path=/")
        self.send_header("Content-Security-Policy", "default-src *")
        self.send_header("Cache-Control", "public, max-age=86400")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_PUT = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class StandIn:
    """An HTTP server on a free port that records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []

        class Recorder(_Recorder):
            recorded = self.requests

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
    cafile: Path
    gateways: StandIn
    env: dict[str, str] = field(repr=False)

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cafile))

    def raw(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request with ``path`` sent exactly as written (no client-side normalisation)."""
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls())
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", f"localhost:{self.port}")
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
            *("ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _start_balancer(work: Path, object_store: str) -> Balancer:
    """nginx.sh start with the object store at ``object_store`` (host:port), the gateways a
    recording stand-in and the auth service nowhere."""
    work.mkdir()
    # As root, nginx's workers run as nobody, who must read the app's files: a world-readable
    # folder outside pytest's private temporary tree.
    web_root = Path(tempfile.mkdtemp(prefix="chat-attachments-web-"))
    web_root.chmod(0o755)
    (web_root / "index.html").write_text("<!doctype html><title>the app</title>\n")
    (web_root / "index.html").chmod(0o644)
    cert, key = _certificate(work)
    gateways = StandIn()
    port = free_port()
    env = {
        **os.environ,
        "CHAT_NGINX_DIR": str(work / "nginx"),
        "CHAT_NGINX_LOG_DIR": str(work),
        "CHAT_NGINX_LISTEN": f"127.0.0.1:{port}",
        "CHAT_NGINX_GATEWAYS": f"127.0.0.1:{gateways.port}",
        "CHAT_NGINX_GATEWAY_SOCKETS": f"127.0.0.1:{gateways.port}",
        "CHAT_NGINX_AUTH": f"127.0.0.1:{free_port()}",
        "CHAT_NGINX_OBJECT_STORE": object_store,
        "CHAT_NGINX_WEB_ROOT": str(web_root),
        "CHAT_NGINX_TLS_CERT": str(cert),
        "CHAT_NGINX_TLS_KEY": str(key),
        "CHAT_WEB_ROOT_TO_REMOVE": str(web_root),
    }
    env.pop("CHAT_NGINX_UNLIMITED_ADDRESSES", None)
    started = subprocess.run(
        [str(NGINX_SH), "start"], env=env, capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        gateways.close()
        shutil.rmtree(web_root)
        pytest.fail(f"nginx.sh start failed: {started.stdout}{started.stderr}")
    return Balancer(port, cert, gateways, env)


def _stop_balancer(balancer: Balancer) -> None:
    subprocess.run([str(NGINX_SH), "stop"], env=balancer.env, capture_output=True, check=False)
    balancer.gateways.close()
    shutil.rmtree(balancer.env["CHAT_WEB_ROOT_TO_REMOVE"])


@pytest.fixture(scope="module")
def site(
    object_store_settings: ObjectStoreSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Balancer]:
    """The balancer in front of the session's SeaweedFS."""
    store = urlsplit(object_store_settings.endpoint_url).netloc
    balancer = _start_balancer(tmp_path_factory.mktemp("site") / "work", store)
    try:
        yield balancer
    finally:
        _stop_balancer(balancer)


@pytest.fixture(scope="module")
def recorded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Balancer, StandIn]]:
    """A balancer whose object store is a recording stand-in."""
    store = StandIn()
    balancer = _start_balancer(
        tmp_path_factory.mktemp("recorded") / "work", f"127.0.0.1:{store.port}"
    )
    try:
        yield balancer, store
    finally:
        _stop_balancer(balancer)
        store.close()


@pytest.fixture
async def store(
    object_store_settings: ObjectStoreSettings, site: Balancer
) -> AsyncIterator[ObjectStore]:
    """The store as the gateway opens it locally: reached directly, signing for the site."""
    settings = msgspec.structs.replace(object_store_settings, public_endpoint_url=site.origin)
    async with open_object_store(settings) as opened:
        yield opened


@pytest.fixture
async def browser(site: Balancer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the site that trusts its certificate, as a browser that accepted it would."""
    async with httpx.AsyncClient(verify=site.tls(), timeout=30.0) as client:
        yield client


def _key() -> str:
    return f"originals/{uuid.uuid4()}"


def _all(headers: httpx.Headers | http.client.HTTPMessage, name: str) -> list[str]:
    if isinstance(headers, httpx.Headers):
        return headers.get_list(name)
    return headers.get_all(name, [])


def _assert_sandboxed(headers: httpx.Headers | http.client.HTTPMessage) -> None:
    """Exactly the headers of attachment-headers.conf, neither the app's policy nor the store's
    headers of the same names."""
    expected = _snippet_headers()
    for name in (
        "content-security-policy",
        "x-content-type-options",
        "cache-control",
        "cross-origin-resource-policy",
        "referrer-policy",
    ):
        assert _all(headers, name) == [expected[name]], name
    policy = expected["content-security-policy"].split("; ")
    assert "sandbox" in policy
    assert "default-src 'none'" in policy
    assert expected["x-content-type-options"] == "nosniff"
    assert "no-store" in expected["cache-control"]
    assert _all(headers, "set-cookie") == []


async def test_a_presigned_put_through_the_site_stores_the_file(
    store: ObjectStore, browser: httpx.AsyncClient, site: Balancer
) -> None:
    key = _key()
    upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=60)
    assert upload.url.startswith(f"{site.origin}/chat-attachments/{key}?")
    reply = await browser.put(upload.url, content=PNG, headers=upload.headers)
    assert reply.status_code == 200, reply.text
    _assert_sandboxed(reply.headers)
    stored = await store.head(key)
    assert stored is not None
    assert (stored.size, stored.content_type) == (len(PNG), "image/png")


async def test_a_presigned_get_serves_the_file_sandboxed_with_its_disposition(
    store: ObjectStore, browser: httpx.AsyncClient
) -> None:
    key = _key()
    await store.put(key, PAGE, content_type="text/html")
    disposition = content_disposition("page « one ».html")
    url = await store.download_url(key, disposition=disposition, expires_s=60)
    reply = await browser.get(url)
    assert reply.status_code == 200, reply.text
    assert reply.content == PAGE
    assert reply.headers["content-type"].startswith("text/html")
    assert reply.headers["content-disposition"] == disposition
    _assert_sandboxed(reply.headers)


def test_a_presigned_put_over_http2_is_stored(
    object_store_settings: ObjectStoreSettings, site: Balancer, tmp_path: Path
) -> None:
    """Browsers speak HTTP/2 to the balancer, where the host comes as :authority, not Host."""

    async def presign() -> str:
        settings = msgspec.structs.replace(object_store_settings, public_endpoint_url=site.origin)
        async with open_object_store(settings) as opened:
            upload = await opened.upload_url(
                key, size=len(PNG), content_type="image/png", expires_s=60
            )
            return upload.url

    async def stored_size() -> int | None:
        async with open_object_store(object_store_settings) as opened:
            found = await opened.head(key)
            return None if found is None else found.size

    key = _key()
    url = asyncio.run(presign())
    body = tmp_path / "image.png"
    body.write_bytes(PNG)
    done = subprocess.run(
        [
            *("curl", "--http2", "-sS", "--cacert", str(site.cafile), "-o", "/dev/null"),
            *("-w", "%{http_version} %{http_code}", "-X", "PUT", "--data-binary", f"@{body}"),
            *("-H", "Content-Type: image/png", url),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout == "2 200", done.stdout + done.stderr
    assert asyncio.run(stored_size()) == len(PNG)


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_a_tampered_signature_is_refused(
    store: ObjectStore, browser: httpx.AsyncClient
) -> None:
    key = _key()
    upload = await store.upload_url(key, size=len(PNG), content_type="image/png", expires_s=60)
    signature = dict(parse_qsl(urlsplit(upload.url).query))["X-Amz-Signature"]
    tampered = _with_query(
        upload.url, **{"X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]}
    )
    reply = await browser.put(tampered, content=PNG, headers=upload.headers)
    assert reply.status_code == 403, reply.text
    assert "SignatureDoesNotMatch" in reply.text
    _assert_sandboxed(reply.headers)
    assert await store.head(key) is None

    await store.put(key, PNG, content_type="image/png")
    url = await store.download_url(key, disposition=content_disposition("a.png"), expires_s=60)
    longer = _with_query(url, **{"X-Amz-Expires": "604800"})
    reply = await browser.get(longer)
    assert reply.status_code == 403, reply.text
    assert reply.content != PNG


async def test_the_signature_covers_the_host_the_browser_sent(
    store: ObjectStore, object_store_settings: ObjectStoreSettings, site: Balancer
) -> None:
    """nginx passes the browser's Host, which the store checks: a URL signed for the store's own
    address is refused through the site, and so is the site's URL sent with another Host."""
    key = _key()
    await store.put(key, PNG, content_type="image/png")
    disposition = content_disposition("a.png")
    async with open_object_store(object_store_settings) as direct:
        internal = await direct.download_url(key, disposition=disposition, expires_s=60)
    path = internal.removeprefix(object_store_settings.endpoint_url)
    assert path.startswith("/chat-attachments/")
    status, _, body = site.raw("GET", path)
    assert status == 403, body

    url = await store.download_url(key, disposition=disposition, expires_s=60)
    site_path = url.removeprefix(site.origin)
    connection = http.client.HTTPSConnection("127.0.0.1", site.port, context=site.tls())
    try:
        connection.request("GET", site_path, headers={"Host": f"127.0.0.1:{site.port}"})
        response = connection.getresponse()
        assert response.status == 403
        response.read()
    finally:
        connection.close()
    status, _, body = site.raw("GET", site_path)
    assert (status, body) == (200, PNG)


async def test_a_forwarded_host_of_the_client_changes_nothing(
    store: ObjectStore, browser: httpx.AsyncClient
) -> None:
    """SeaweedFS checks the signature against X-Forwarded-Host when a request has one: nginx
    passes none of the client's, so a valid URL works whatever the client adds (and a URL
    signed for another host does not, test_the_signature_covers_the_host_the_browser_sent)."""
    key = _key()
    await store.put(key, PNG, content_type="image/png")
    url = await store.download_url(key, disposition=content_disposition("a.png"), expires_s=60)
    reply = await browser.get(
        url,
        headers={
            "X-Forwarded-Host": "attacker.example",
            "X-Forwarded-Port": "1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request,"
            " SignedHeaders=host, Signature=00",
            "Cookie": "chat_csrf=abc",
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.content == PNG


async def test_an_upload_of_the_limit_passes_and_one_byte_more_is_refused_by_nginx(
    store: ObjectStore, browser: httpx.AsyncClient, site: Balancer
) -> None:
    largest = _key()
    body = bytes(UPLOAD_MAX_BYTES)
    upload = await store.upload_url(
        largest, size=len(body), content_type="application/octet-stream", expires_s=120
    )
    reply = await browser.put(upload.url, content=body, headers=upload.headers)
    assert reply.status_code == 200, reply.text
    stored = await store.head(largest)
    assert stored is not None
    assert stored.size == UPLOAD_MAX_BYTES

    # Signed for one byte more, so the store itself would take it: only nginx stops it, from
    # the Content-Length alone, before any of the body is sent.
    oversized = _key()
    upload = await store.upload_url(
        oversized, size=UPLOAD_MAX_BYTES + 1, content_type="application/octet-stream", expires_s=60
    )
    status, headers, _ = site.raw(
        "PUT",
        upload.url.removeprefix(site.origin),
        {"Content-Type": "application/octet-stream", "Content-Length": str(UPLOAD_MAX_BYTES + 1)},
    )
    assert status == 413
    _assert_sandboxed(headers)
    assert await store.head(oversized) is None


async def test_methods_no_presigned_url_is_made_for_are_refused(
    store: ObjectStore, site: Balancer
) -> None:
    key = _key()
    await store.put(key, PNG, content_type="image/png")
    url = await store.download_url(key, disposition=content_disposition("a.png"), expires_s=60)
    for method in ("DELETE", "POST"):
        status, headers, _ = site.raw(method, url.removeprefix(site.origin))
        assert status == 403, method
        _assert_sandboxed(headers)
    assert await store.head(key) is not None


async def test_a_file_is_never_loaded_as_code_of_a_page(
    store: ObjectStore, browser: httpx.AsyncClient
) -> None:
    """The app's `script-src 'self'` would trust a script at /chat-attachments/: browsers say
    what a request is for (Sec-Fetch-Dest), and a file is refused as a script, style sheet or
    worker, but served as an image or a document."""
    key = _key()
    script = b"fetch('/v1/me/rooms').then(r => r.text()).then(t => navigator.sendBeacon('x', t))"
    await store.put(key, script, content_type="text/javascript")
    url = await store.download_url(key, disposition=content_disposition("a.js"), expires_s=60)
    for destination in ("script", "style", "worker", "serviceworker", "sharedworker"):
        reply = await browser.get(url, headers={"Sec-Fetch-Dest": destination})
        assert reply.status_code == 403, destination
        assert reply.content != script
        _assert_sandboxed(reply.headers)
    for destination in ("image", "document", "empty"):
        reply = await browser.get(url, headers={"Sec-Fetch-Dest": destination})
        assert (reply.status_code, reply.content) == (200, script), destination


@pytest.mark.parametrize(
    "path",
    [
        INTERNAL_ROUTE,
        "/internal/",
        "/v1/../internal/v1/rooms/general/messages/0/attachments",
        "/v1/%2e%2e/internal/v1/rooms/general/messages/0/attachments",
        "/v1/..%2finternal/v1/rooms/general/messages/0/attachments",
        "/%69nternal/v1/rooms/general/messages/0/attachments",
        "//internal/v1/rooms/general/messages/0/attachments",
        "/chat-attachments/../internal/v1/rooms/general/messages/0/attachments",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_internal_routes_are_never_published(site: Balancer, path: str, method: str) -> None:
    status, _, body = site.raw(method, path, {"Content-Length": "0"})
    assert status == 404, (status, body)
    assert b"stand-in" not in body
    assert not any("internal" in asked for _, asked, _ in site.gateways.requests), (
        site.gateways.requests
    )


def test_the_store_gets_the_path_and_host_as_sent_and_no_credential_of_the_site(
    recorded_site: tuple[Balancer, StandIn],
) -> None:
    balancer, store = recorded_site
    path = "/chat-attachments/thumbnails/0b9e.webp?X-Amz-Signature=ab%2Fcd&X-Amz-Expires=60"
    status, headers, body = balancer.raw(
        "GET",
        path,
        {
            "Cookie": "chat_csrf=abc; chat_refresh=secret",
            "Authorization": "Bearer token",
            "X-Forwarded-Host": "attacker.example",
            "X-Forwarded-Port": "1",
            "X-Forwarded-Prefix": "/elsewhere",
        },
    )
    assert (status, body) == (200, b"stand-in")
    method, asked, sent = store.requests[-1]
    assert (method, asked) == ("GET", path)
    assert sent["host"] == f"localhost:{balancer.port}"
    for header in ("cookie", "authorization", "x-forwarded-host", "x-forwarded-port"):
        assert header not in sent, header
    assert "x-forwarded-prefix" not in sent
    # The store's own cookie, policy, caching and CORS headers do not reach the browser.
    _assert_sandboxed(headers)
    assert headers.get("access-control-allow-origin") is None


def test_the_rest_of_the_site_keeps_the_apps_policy(site: Balancer) -> None:
    status, headers, _ = site.raw("GET", "/rooms/general")
    assert status == 200
    policy = headers["content-security-policy"]
    assert "sandbox" not in policy
    assert "script-src 'self'" in policy
    assert "img-src 'self' ;" in policy
