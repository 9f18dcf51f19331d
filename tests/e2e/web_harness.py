"""The whole system behind its balancer, and people using it through the web app.

Everything runs as real processes on free ports: a Redis of its own, the auth-service, the
persistence worker on a Kafka topic of its own, two gateways, an S3 object store (SeaweedFS) for
attachments with the media worker that makes their thumbnails, and nginx rendered by
deploy/local/nginx.sh from the configuration `make up` uses. Postgres and Kafka are the local
stack's. The browser is Debian's Chromium driven by Playwright (never a downloaded one).
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
from PIL import Image, ImageDraw
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    async_playwright,
    expect,
)

from chat_common.kafka_client import ensure_topics
from chat_testing import object_store, stack
from chat_testing.media import MediaWorkerProcess
from chat_testing.object_store import SeaweedStore
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, python_module, redis_server
from gateway_harness import auth_service

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHAT_TEST_CHROMIUM", "/usr/bin/chromium")
# Headless Chromium as root on a machine without outside network: no sandbox (root), no GPU,
# and none of the background requests to Google's hosts that would only fail here.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]
PASSWORD = "correct horse battery"
# The gateways' upload limit here: small, so that a test can offer a file just above it without
# moving megabytes; real images stay far below it.
UPLOAD_MAX_BYTES = 8 * 1024 * 1024


@dataclass
class WebSystem:
    url: str
    origin: str
    auth_url: str
    gateways: list[ServiceProcess]
    log_dir: Path
    store: SeaweedStore
    media_worker: MediaWorkerProcess


def _nginx(action: str, env: dict[str, str]) -> None:
    subprocess.run(
        [str(REPO / "deploy/local/nginx.sh"), action],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


def _require(path: Path, why: str) -> None:
    assert path.exists(), f"{path}: {why}"


def _gateway(name: str, run_id: str, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    port = free_port()
    env = {
        **env,
        "CHAT_GATEWAY_PORT": str(port),
        "CHAT_GATEWAY_WS_PORT": str(free_port()),
        "CHAT_GATEWAY_NODE_ID": f"web-{name}-{run_id}",
    }
    ready = f"http://127.0.0.1:{port}/readyz"
    return ServiceProcess(name, python_module("chat_gateway"), env, log_dir, ready_url=ready)


@contextlib.asynccontextmanager
async def running_system(log_dir: Path) -> AsyncIterator[WebSystem]:
    _require(REPO / "web/dist/index.html", "the web app is not built: `make web` builds it")
    kafka, database_url = stack.kafka_bootstrap(), stack.database_url()
    run_id = uuid.uuid4().hex[:10]
    topic, group = f"test.web.{run_id}", f"test-web-{run_id}"
    await ensure_topics(kafka, {topic: 3})

    nginx_port = free_port()
    # The page's origin: what the gateways and the auth service must allow.
    origin = f"https://localhost:{nginx_port}"
    redis_port, auth_port, worker_port = free_port(), free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    store_dir = log_dir / "seaweedfs"
    store_dir.mkdir()
    store = SeaweedStore(store_dir)
    # Browsers reach the store through nginx's /chat-attachments/ on the page's own origin, so
    # presigned URLs are signed for that origin; the services reach it directly.
    object_store_env = object_store.environment(
        msgspec.structs.replace(store.settings, public_endpoint_url=origin)
    )
    internal_token = secrets.token_urlsafe(32)
    worker_env = {
        "CHAT_WORKER_KAFKA_BOOTSTRAP": kafka,
        "CHAT_WORKER_TOPIC": topic,
        "CHAT_WORKER_GROUP_ID": group,
        "CHAT_WORKER_DATABASE_URL": database_url,
        "CHAT_WORKER_METRICS_PORT": str(worker_port),
    }
    gateway_env = {
        "CHAT_GATEWAY_REDIS_URL": redis_url,
        "CHAT_GATEWAY_KAFKA_BOOTSTRAP": kafka,
        "CHAT_GATEWAY_DATABASE_URL": database_url,
        "CHAT_GATEWAY_KAFKA_TOPIC": topic,
        "CHAT_GATEWAY_PERSISTENCE_GROUP": group,
        "CHAT_GATEWAY_JWKS_URL": f"http://127.0.0.1:{auth_port}/.well-known/jwks.json",
        "CHAT_GATEWAY_ALLOWED_ORIGINS": origin,
        # The history test fills a room quickly through the protocol; people stay far slower.
        "CHAT_GATEWAY_SEND_RATE_PER_S": "500",
        "CHAT_GATEWAY_SEND_BURST": "1000",
        "CHAT_GATEWAY_UPLOAD_MAX_BYTES": str(UPLOAD_MAX_BYTES),
        "CHAT_GATEWAY_INTERNAL_TOKEN": internal_token,
        **object_store_env,
    }
    gateways = [_gateway(name, run_id, gateway_env, log_dir) for name in ("gateway-a", "gateway-b")]
    processes = [
        redis_server(redis_port, log_dir),
        auth_service(log_dir, auth_port, database_url, redis_url, CHAT_AUTH_ALLOWED_ORIGINS=origin),
        ServiceProcess(
            "worker",
            python_module("chat_worker"),
            worker_env,
            log_dir,
            ready_url=f"http://127.0.0.1:{worker_port}/readyz",
        ),
        *gateways,
    ]
    media_worker = MediaWorkerProcess(
        log_dir,
        store.settings,
        {
            "kafka_bootstrap": kafka,
            "topic": topic,
            "group_id": f"test-web-media-{run_id}",
            "database_url": database_url,
            "gateway_url": f"http://127.0.0.1:{gateways[0].env['CHAT_GATEWAY_PORT']}",
            "internal_token": internal_token,
        },
    )
    upstreams = (f"127.0.0.1:{g.env['CHAT_GATEWAY_PORT']}" for g in gateways)
    sockets = (f"127.0.0.1:{g.env['CHAT_GATEWAY_WS_PORT']}" for g in gateways)
    nginx_env = {
        "CHAT_NGINX_DIR": str(log_dir / "nginx"),
        "CHAT_NGINX_LOG_DIR": str(log_dir),
        "CHAT_NGINX_LISTEN": f"127.0.0.1:{nginx_port}",
        "CHAT_NGINX_GATEWAYS": " ".join(upstreams),
        "CHAT_NGINX_GATEWAY_SOCKETS": " ".join(sockets),
        "CHAT_NGINX_AUTH": f"127.0.0.1:{auth_port}",
        "CHAT_NGINX_OBJECT_STORE": f"127.0.0.1:{store.s3_port}",
    }
    started: list[ServiceProcess] = []
    try:
        started.append(store.process)
        await store.start()
        for process in processes:
            started.append(process)
            await process.start()
        started.append(media_worker.process)
        await media_worker.start()
        _nginx("start", nginx_env)
        yield WebSystem(
            url=f"{origin}/",
            origin=origin,
            auth_url=f"http://127.0.0.1:{auth_port}",
            gateways=gateways,
            log_dir=log_dir,
            store=store,
            media_worker=media_worker,
        )
    finally:
        _nginx("stop", nginx_env)
        for process in reversed(started):
            await process.stop()


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    _require(Path(CHROMIUM), "no Chromium there: `make install` adds Debian's package")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Person:
    """Someone using the app in a browser context of their own (own cookies and storage)."""

    name: str
    context: BrowserContext
    page: Page
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)


class People:
    """Signs people up through the app's own sign-up form; closes their browsers afterwards."""

    def __init__(self, browser: Browser, system: WebSystem) -> None:
        self._browser = browser
        self._system = system
        self._contexts: list[BrowserContext] = []

    async def sign_up(
        self, prefix: str, *, dark: bool = False, width: int = 1280, height: int = 800
    ) -> Person:
        person = await self._open(
            f"{prefix}-{uuid.uuid4().hex[:6]}", dark=dark, width=width, height=height
        )
        await person.page.get_by_role("button", name="Create an account").click()
        await self._submit(person, "Create account")
        return person

    async def sign_in(self, someone: Person) -> Person:
        """The same person on another device: a browser context of its own, signed in."""
        person = await self._open(someone.name)
        await self._submit(person, "Sign in")
        return person

    async def _open(
        self, name: str, *, dark: bool = False, width: int = 1280, height: int = 800
    ) -> Person:
        context = await self._browser.new_context(
            ignore_https_errors=True,
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
        )
        self._contexts.append(context)
        page = await context.new_page()
        person = Person(name, context, page)

        async def on_dialog(dialog: Dialog) -> None:
            person.dialogs.append(dialog.message)
            await dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                person.csp_violations.append(message.text)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        await page.goto(self._system.url)
        return person

    async def _submit(self, person: Person, button: str) -> None:
        page = person.page
        await page.fill("input[name=username]", person.name)
        await page.fill("input[name=password]", PASSWORD)
        await page.get_by_role("button", name=button).click()
        await expect(page.get_by_test_id("me")).to_have_text(person.name)
        status = page.get_by_test_id("connection-status")
        await expect(status).to_have_attribute("data-state", "online")

    async def access_token(self, prefix: str) -> str:
        """Registers someone who uses the protocol directly, not the app; their access token."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        credentials = {"username": name, "password": PASSWORD}
        async with httpx.AsyncClient(base_url=self._system.auth_url, timeout=10.0) as auth:
            created = await auth.post("/v1/users", json=credentials)
            assert created.status_code == 201, created.text
            login = await auth.post("/v1/token", json=credentials)
            assert login.status_code == 200, login.text
        return str(login.json()["access_token"])

    async def close(self) -> None:
        for context in self._contexts:
            await context.close()


def sample_photo(width: int = 1600, height: int = 1000) -> bytes:
    """A JPEG of a harbour at dusk (sky, sun, sea, hills), grainy like a phone's photo so that it
    weighs some hundreds of kilobytes, with EXIF (a camera's make) that the media worker strips."""
    sky = Image.linear_gradient("L").resize((width, height))
    image = Image.merge(
        "RGB",
        (
            sky.point(lambda v: 250 - v // 4),
            sky.point(lambda v: 150 - v // 3),
            sky.point(lambda v: 90 + v // 3),
        ),
    )
    draw = ImageDraw.Draw(image)
    horizon = height * 3 // 5
    sun = height // 7
    sun_x = width * 2 // 3
    draw.ellipse((sun_x - sun, horizon - sun * 2, sun_x + sun, horizon), fill=(255, 214, 120))
    hill = [(0, horizon), (width // 4, horizon - height // 6), (width // 2, horizon)]
    draw.polygon(hill, fill=(70, 50, 90))
    draw.rectangle((0, horizon, width, height), fill=(35, 60, 110))
    for row, y in enumerate(range(horizon + 6, height, 12)):  # the sun's reflection
        half = sun * (height - y) // (height - horizon) + (row % 3) * sun // 5
        draw.line((sun_x - half, y, sun_x + half, y), fill=(240, 180, 110), width=3)
    grain = Image.effect_noise((width, height), 24).convert("RGB")
    image = Image.blend(image, grain, 0.12)
    exif = Image.Exif()
    exif[0x010F] = "E2E Camera"  # Make
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


async def hand_over(page: Page, kind: str, files: list[tuple[str, str, bytes]]) -> None:
    """Pastes (`paste`, into the box) or drops (`drop`, on the messages) files, as the browser
    does when a person pastes a screenshot or drags files from their desktop."""
    payload = [(name, mime, base64.b64encode(data).decode()) for name, mime, data in files]
    await page.evaluate(
        """([kind, files]) => {
            const transfer = new DataTransfer();
            for (const [name, type, data] of files) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name, { type }));
            }
            if (kind === "paste") {
                const box = document.querySelector("[data-testid=composer]");
                box.focus();
                box.dispatchEvent(new ClipboardEvent("paste", {
                    clipboardData: transfer, bubbles: true, cancelable: true,
                }));
                return;
            }
            const target = document.querySelector("[data-testid=messages]");
            for (const type of ["dragenter", "dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, {
                    dataTransfer: transfer, bubbles: true, cancelable: true,
                }));
            }
        }""",
        [kind, payload],
    )


async def slow_uploads(page: Page, bytes_per_s: int) -> None:
    """Throttles what the page sends (-1: no more), so an upload lasts long enough to watch."""
    session = await page.context.new_cdp_session(page)
    await session.send("Network.enable")
    await session.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_s,
        },
    )
