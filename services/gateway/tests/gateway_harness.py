"""Test harness: real service processes on free ports, and a WebSocket client of the protocol."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chat_common.object_store import ObjectStoreSettings
from chat_testing.keys import signing_key
from chat_testing.object_store import environment
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, python_module

REPO = Path(__file__).resolve().parents[3]


class ProtocolError(AssertionError):
    pass


class ChatClient:
    """A protocol client: commands with ids and their replies, events kept in arrival order."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[dict[str, Any]] = []
        self.arrivals: list[dict[str, Any]] = []  # every frame, replies included, in order
        self._replies: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._arrived = asyncio.Event()
        self.closed: asyncio.Future[tuple[int | None, str]] = (
            asyncio.get_running_loop().create_future()
        )
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        token: str | None = None,
        origin: str | None = None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> ChatClient:
        sent = {**({"Origin": origin} if origin else {}), **(headers or {})}
        connection = await connect(
            url, additional_headers=sent or None, compression=None, max_size=None, **options
        )
        client = cls(connection)
        if token is not None:
            await client.request("connect", token=token)
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                frame = msgspec.json.decode(raw)
                self.arrivals.append(frame)
                waiter = self._replies.pop(frame.get("id"), None)
                if waiter is not None and frame["type"] in ("reply", "error"):
                    if not waiter.done():  # its command may have timed out already
                        waiter.set_result(frame)
                else:
                    self.events.append(frame)
                    self._arrived.set()
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.connection.protocol.close_rcvd
            result = (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")
            if not self.closed.done():
                self.closed.set_result(result)
            self._arrived.set()

    async def send_raw(self, data: str | bytes) -> None:
        await self.connection.send(data)

    async def command(self, kind: str, limit_s: float = 15.0, **fields: Any) -> dict[str, Any]:
        """Send a command and return its reply or error frame."""
        command_id = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[command_id] = waiter
        await self.connection.send(
            msgspec.json.encode({"type": kind, "id": command_id, **fields}).decode()
        )
        async with asyncio.timeout(limit_s):
            return await waiter

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a command that must succeed; returns its reply."""
        frame = await self.command(kind, **fields)
        if frame["type"] != "reply":
            raise ProtocolError(f"{kind} failed: {frame}")
        return frame

    def messages(self, room: str | None = None) -> list[dict[str, Any]]:
        return [
            event["message"]
            for event in self.events
            if event["type"] == "message" and (room is None or event["message"]["room"] == room)
        ]

    async def wait_for(self, predicate: Any, limit_s: float = 15.0) -> None:
        async with asyncio.timeout(limit_s):
            while not predicate(self):
                self._arrived.clear()
                if self.closed.done() and not predicate(self):
                    raise ProtocolError(f"connection closed: {self.closed.result()}")
                await self._arrived.wait()

    async def wait_closed(self, limit_s: float = 15.0) -> tuple[int | None, str]:
        async with asyncio.timeout(limit_s):
            return await asyncio.shield(self.closed)

    async def drop(self) -> None:
        """The network goes away: the socket is cut without a close handshake (no close frame
        either way, the TCP connection reset), as when a phone loses its signal."""
        self.connection.transport.abort()
        async with asyncio.timeout(5.0):  # the reader sees the connection gone at once
            await self._reader

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.connection.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def kafka_jars() -> Path:
    pom = REPO / "deploy/local/kafka/pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chat"
    return cache / f"kafka-jars-{digest}"


def kafka_broker(
    port: int, controller_port: int, data_dir: Path, *, advertised_port: int | None = None
) -> ServiceProcess:
    """A single-node KRaft broker of the test's own, so stopping it disturbs nothing else.

    It listens on ``port`` and tells clients to reach it at ``advertised_port`` (default: the
    same): a client bootstraps, then connects to the advertised address for everything else, so
    a FaultProxy there, forwarding to ``port``, carries every connection of every client. The
    proxy must be started first: the broker is found ready through it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    template = (REPO / "deploy/local/kafka/server.properties").read_text()
    properties = data_dir / "server.properties"
    properties.write_text(
        template.replace("@DATA@", str(data_dir / "log"))
        .replace("127.0.0.1:9093", f"127.0.0.1:{controller_port}")
        .replace("127.0.0.1:9092", f"127.0.0.1:{port}")
        # Given again at the end, it overrides the template's line: a Java properties file
        # keeps the last value of a key.
        + f"\nadvertised.listeners=PLAINTEXT://127.0.0.1:{advertised_port or port}\n"
    )
    classpath = f"{kafka_jars()}/*"
    logging = f"-Dlog4j.configuration=file:{REPO / 'deploy/local/kafka/log4j.properties'}"
    if not (data_dir / "log" / "meta.properties").exists():
        subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                logging,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode(),
                "-c",
                str(properties),
                "--ignore-formatted",
            ],
            check=True,
            capture_output=True,
        )

    async def answers() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        finally:
            await admin.close()

    return ServiceProcess(
        f"kafka-{port}",
        ["java", "-Xms128m", "-Xmx384m", "-cp", classpath, logging, "kafka.Kafka", str(properties)],
        {},
        data_dir,
        ready=answers,
    )


PASSWORD = "pa55word!x"
ORIGIN = "https://chat.test"
STRICT_ORIGIN = "https://strict.chat.test"


@dataclass
class ChatSystem:
    topic: str
    group: str
    kafka: str
    database_url: str
    redis_url: str
    auth_url: str
    log_dir: Path
    redis: ServiceProcess
    auth: ServiceProcess
    worker: ServiceProcess
    short_auth_url: str = ""
    gateways: list[ServiceProcess] = field(default_factory=list)
    strict: ServiceProcess | None = None
    gateway_env: dict[str, str] = field(default_factory=dict)

    def ws_url(self, gateway: ServiceProcess) -> str:
        return f"ws://127.0.0.1:{gateway.env['CHAT_GATEWAY_WS_PORT']}/ws"

    def http_url(self, gateway: ServiceProcess) -> str:
        return f"http://127.0.0.1:{gateway.env['CHAT_GATEWAY_PORT']}"

    async def http(
        self,
        method: str,
        path: str,
        token: str | None,
        body: Any = None,
        *,
        gateway: int | ServiceProcess = 0,
        **options: Any,
    ) -> httpx.Response:
        """One request to a gateway's HTTP routes (the first unless ``gateway``: an index of
        ``gateways``, or a process) as the holder of ``token`` (None: nobody signed in), with
        ``body`` as JSON."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        if body is not None:
            options["json"] = body
        process = self.gateways[gateway] if isinstance(gateway, int) else gateway
        async with httpx.AsyncClient(base_url=self.http_url(process)) as http:
            return await http.request(method, path, headers=headers, **options)

    async def upload(
        self,
        gateway: ServiceProcess,
        token: str,
        room: str,
        data: bytes,
        *,
        name: str = "notes.txt",
        content_type: str = "text/plain",
    ) -> str:
        """Upload a file as a client does: ask ``gateway`` for a presigned PUT, then PUT
        ``data`` to the object store; returns the upload's id, for a ``send``'s attachments."""
        asked = await self.http(
            "POST",
            f"/v1/rooms/{room}/uploads",
            token,
            {"name": name, "type": content_type, "size": len(data)},
            gateway=gateway,
        )
        assert asked.status_code == 201, asked.text
        upload = asked.json()
        async with httpx.AsyncClient(timeout=10.0) as http:
            put = await http.put(upload["url"], content=data, headers=upload["headers"])
        assert put.status_code == 200, put.text
        return str(upload["upload"]["id"])

    async def person(self, prefix: str = "user") -> tuple[str, str, str]:
        """Register a new user and log in; returns (user id, username, access token)."""
        user_id, name = await self.register(prefix)
        return user_id, name, await self.login(name)

    async def user(self, prefix: str = "user") -> tuple[str, str]:
        """Register a new user and log in; returns (user id, access token)."""
        user_id, name = await self.register(prefix)
        return user_id, await self.login(name)

    async def register(self, prefix: str = "user") -> tuple[str, str]:
        """Register a new user; returns (user id, username)."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        async with httpx.AsyncClient(base_url=self.auth_url, timeout=10.0) as client:
            created = await client.post("/v1/users", json={"username": name, "password": PASSWORD})
            assert created.status_code == 201, created.text
        return str(created.json()["id"]), name

    async def login(self, username: str, *, short_lived: bool = False) -> str:
        """An access token from the auth-service (30 s lifetime when ``short_lived``)."""
        url = self.short_auth_url if short_lived else self.auth_url
        async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
            token = await client.post(
                "/v1/token", json={"username": username, "password": PASSWORD}
            )
            assert token.status_code == 200, token.text
        return str(token.json()["access_token"])

    async def client(self, gateway: ServiceProcess, token: str | None) -> ChatClient:
        return await ChatClient.open(self.ws_url(gateway), token=token, origin=ORIGIN)

    async def token_signer(self) -> Callable[[str, str], str]:
        """Signs access tokens as the auth-service under test does, for tests that need
        thousands of users: ``sign(user_id, name)``. No account is created."""
        async with httpx.AsyncClient(base_url=self.auth_url, timeout=10.0) as client:
            jwks = (await client.get("/.well-known/jwks.json")).json()
        kid = jwks["keys"][0]["kid"]
        key = serialization.load_pem_private_key(signing_key(self.log_dir).read_bytes(), None)
        assert isinstance(key, Ed25519PrivateKey)

        def sign(user_id: str, name: str) -> str:
            now = int(time.time())
            claims = {
                "iss": "chat-auth",
                "aud": "chat",
                "typ": "access",
                "sub": user_id,
                "name": name,
                "roles": [],
                "sid": uuid.uuid4().hex,
                "jti": uuid.uuid4().hex,
                "iat": now,
                "nbf": now,
                "exp": now + 900,
            }
            return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": "JWT"})

        return sign


def gateway_process(system: ChatSystem, name: str, **overrides: str) -> ServiceProcess:
    port = free_port()
    env = {
        **system.gateway_env,
        "CHAT_GATEWAY_PORT": str(port),
        "CHAT_GATEWAY_WS_PORT": str(free_port()),
        "CHAT_GATEWAY_NODE_ID": f"{name}-{uuid.uuid4().hex[:6]}",
        **overrides,
    }
    return ServiceProcess(
        name,
        python_module("chat_gateway"),
        env,
        system.log_dir,
        ready_url=f"http://127.0.0.1:{port}/readyz",
    )


class RecordedLog:
    """Stands in for the persistence worker on a topic of a test's own: reads every record and
    commits it (so a gateway seeding a room's counter never waits), stores nothing, and keeps
    each room's envelopes in the order they were produced, for the test to look at. Gateways
    producing there have the recent window as their only record of what was sent."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self.topic, self.group = topic, group
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._rooms: dict[str, list[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    envelope = msgspec.json.decode(record.value)
                    self._rooms.setdefault(envelope["room"], []).append(envelope)
            if batch:
                await self._consumer.commit()

    def of(self, room: str) -> list[dict[str, Any]]:
        """The envelopes produced for ``room`` so far."""
        return list(self._rooms.get(room, ()))

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._consumer.stop()


@dataclass(frozen=True)
class FileGateways:
    """Gateways of a system that take attachments, the object store they use, the token of
    their internal route and what they produced (the gateway tests' ``file_gateways``)."""

    gateways: tuple[ServiceProcess, ServiceProcess]
    store: ObjectStoreSettings
    internal_token: str
    log: RecordedLog


def files_gateway(
    system: ChatSystem,
    name: str,
    object_store: ObjectStoreSettings,
    *,
    internal_token: str,
    **overrides: str,
) -> ServiceProcess:
    """A gateway of ``system`` that takes attachments: wired to the object store of
    ``object_store`` (the ``object_store_settings`` fixture's), and answering the media step's
    internal route for ``internal_token``."""
    return gateway_process(
        system,
        name,
        **environment(object_store),
        CHAT_GATEWAY_INTERNAL_TOKEN=internal_token,
        **overrides,
    )


def auth_service(
    log_dir: Path, port: int, database_url: str, redis_url: str, **overrides: str
) -> ServiceProcess:
    return ServiceProcess(
        f"auth-service-{port}",
        python_module("chat_auth"),
        {
            "CHAT_AUTH_PORT": str(port),
            "CHAT_AUTH_DATABASE_URL": database_url,
            "CHAT_AUTH_REDIS_URL": redis_url,
            "CHAT_AUTH_SIGNING_KEY_FILE": str(signing_key(log_dir)),
            # Every person of a test signs up from 127.0.0.1: one address standing for many.
            "CHAT_AUTH_REGISTRATIONS_PER_IP": "100000",
            **overrides,
        },
        log_dir,
        ready_url=f"http://127.0.0.1:{port}/readyz",
    )
