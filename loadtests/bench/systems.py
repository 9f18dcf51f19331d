"""The systems under test, each started on free ports for one run and stopped after it.

A deployment says where clients connect, which dialect they speak, the tokens they present, and
which processes to meter: `server` (what answers the WebSockets), `proxy` (the balancer) and the
infrastructure each system leans on. Peers get a Redis of their own per run; this chat's Redis,
auth service and persistence worker live for the whole session (``ChatStack``), its gateways
and balancer per run. Kafka and Postgres are the local stack's.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from bench.meter import shared_infrastructure
from bench.wire import centrifugo_token
from chat_common.kafka_client import ensure_topics
from chat_common.settings import LOCAL_DATABASE_URL, LOCAL_KAFKA_BOOTSTRAP
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, python_module, redis_server
from gateway_harness import REPO, auth_service

PEERS = Path(__file__).resolve().parent / "peers"
PASSWORD = "bench-password-1"
# Users whose tokens the seats share; the gateways' per-user limits are lifted for the bench.
USERS = 50
# A registration or login refused as busy (503) is tried again this many times.
AUTH_ATTEMPTS = 30
# Load tests come from one address and thousands of connections share a few users: the
# per-address and per-user limits of the gateways, the balancer and the auth service are lifted,
# and so is the send rate (publishers send faster than people type).
LIFTED_GATEWAY_LIMITS = {
    "CHAT_GATEWAY_MAX_CONNECTIONS_PER_IP": "1000000",
    "CHAT_GATEWAY_MAX_CONNECTIONS_PER_USER": "1000000",
    "CHAT_GATEWAY_SEND_RATE_PER_S": "100000",
    "CHAT_GATEWAY_SEND_BURST": "100000",
}
LIFTED_AUTH_LIMITS = {"CHAT_AUTH_LOGIN_FAILURES_PER_IP": "1000000"}
TOKEN_REUSE_S = 300.0


@dataclass
class Deployment:
    system: str
    dialect: str
    urls: list[str]
    tokens: list[str]
    groups: dict[str, list[int]]
    profile_pid: int | None = None
    # The gateways' Prometheus endpoints (this chat only): the send-stage figures of (5).
    metrics_urls: list[str] = field(default_factory=list)


def _pid(process: ServiceProcess) -> int:
    assert process.process is not None, f"{process.name} is not running"
    return process.process.pid


def _peer(name: str, argv: list[str], port: int, log_dir: Path) -> ServiceProcess:
    async def listening() -> bool:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
        return True

    return ServiceProcess(name, argv, {}, log_dir, ready=listening)


class Peer:
    """Servers started for one run, stopped in reverse order."""

    name = ""
    dialect = "chat-lite"

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[ServiceProcess] = []

    async def _start(self, *processes: ServiceProcess) -> None:
        for process in processes:
            self.processes.append(process)
            await process.start()

    async def stop(self) -> None:
        for process in reversed(self.processes):
            await process.stop()
        self.processes = []


class FastApiLoop(Peer):
    name = "fastapi-loop"

    async def start(self) -> Deployment:
        port = free_port()
        node = _peer(self.name, python_module_file("fastapi_loop.py", port), port, self.log_dir)
        await self._start(node)
        return Deployment(
            self.name, self.dialect, [f"ws://127.0.0.1:{port}/ws"], [""], {"server": [_pid(node)]}
        )


class PicowsFloor(Peer):
    name = "picows-floor"

    async def start(self) -> Deployment:
        port = free_port()
        node = _peer(self.name, python_module_file("picows_floor.py", port), port, self.log_dir)
        await self._start(node)
        return Deployment(
            self.name, self.dialect, [f"ws://127.0.0.1:{port}/"], [""], {"server": [_pid(node)]}
        )


class SocketIO(Peer):
    name = "socketio-redis"
    dialect = "socketio"

    async def start(self) -> Deployment:
        redis_port = free_port()
        redis = redis_server(redis_port, self.log_dir)
        await self._start(redis)
        url = f"redis://127.0.0.1:{redis_port}/0"
        ports = [free_port(), free_port()]
        nodes = [
            _peer(
                f"socketio-{n}",
                python_module_file("socketio_node.py", port, url),
                port,
                self.log_dir,
            )
            for n, port in enumerate(ports)
        ]
        await self._start(*nodes)
        urls = [f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket" for port in ports]
        groups = {"server": [_pid(node) for node in nodes], "redis": [_pid(redis)]}
        return Deployment(self.name, self.dialect, urls, [""], groups)


class Centrifugo(Peer):
    """Two Centrifugo nodes on its Redis engine, configured as its documentation advises for
    production (token auth, allowed origins, no admin or debug endpoints), with the channel
    features this chat also has: history with recovery, presence, client publish."""

    name = "centrifugo"
    dialect = "centrifugo"

    def __init__(self, log_dir: Path, binary: Path) -> None:
        super().__init__(log_dir)
        self.binary = binary

    def _config(self, port: int, redis_url: str, secret: str) -> Path:
        config = {
            "http_server": {"address": "127.0.0.1", "port": port},
            "log": {"level": "warn"},
            "engine": {"type": "redis", "redis": {"address": [redis_url]}},
            "client": {
                "token": {"hmac_secret_key": secret},
                "allowed_origins": ["https://localhost:8443"],
            },
            "channel": {
                "without_namespace": {
                    "allow_subscribe_for_client": True,
                    "allow_publish_for_subscriber": True,
                    "presence": True,
                    # The same window as the chat's recent window per room.
                    "history_size": 1000,
                    "history_ttl": "24h",
                    "force_recovery": True,
                }
            },
            "health": {"enabled": True},
        }
        path = self.log_dir / f"centrifugo-{port}.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    async def start(self) -> Deployment:
        if not self.binary.exists():
            raise FileNotFoundError(f"{self.binary}: `make bench` installs Centrifugo there")
        redis_port = free_port()
        redis = redis_server(redis_port, self.log_dir)
        await self._start(redis)
        secret = secrets.token_hex(32)
        ports = [free_port(), free_port()]
        nodes = [
            ServiceProcess(
                f"centrifugo-{port}",
                [
                    str(self.binary),
                    "--config",
                    str(self._config(port, f"redis://127.0.0.1:{redis_port}", secret)),
                ],
                {},
                self.log_dir,
                ready_url=f"http://127.0.0.1:{port}/health",
            )
            for port in ports
        ]
        await self._start(*nodes)
        tokens = [centrifugo_token(secret, f"user-{n}") for n in range(USERS)]
        urls = [f"ws://127.0.0.1:{port}/connection/websocket" for port in ports]
        groups = {"server": [_pid(node) for node in nodes], "redis": [_pid(redis)]}
        return Deployment(self.name, self.dialect, urls, tokens, groups)


def python_module_file(script: str, *arguments: object) -> list[str]:
    return [sys.executable, str(PEERS / script), *map(str, arguments)]


@dataclass
class ChatStack:
    """This chat's session-long part: Redis, the auth service with the bench's users, the
    persistence worker on a Kafka topic of its own."""

    log_dir: Path
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    kafka: str = os.environ.get("CHAT_BENCH_KAFKA", LOCAL_KAFKA_BOOTSTRAP)
    database_url: str = os.environ.get("CHAT_BENCH_DATABASE_URL", LOCAL_DATABASE_URL)
    processes: list[ServiceProcess] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    gateway_env: dict[str, str] = field(default_factory=dict)
    auth_port: int = 0
    _tokens_at: float = 0.0

    @property
    def topic(self) -> str:
        return f"bench.messages.{self.run}"

    async def start(self) -> None:
        await ensure_topics(self.kafka, {self.topic: 3})
        redis_port, self.auth_port, worker_port = free_port(), free_port(), free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        group = f"bench-{self.run}"
        worker_env = {
            "CHAT_WORKER_KAFKA_BOOTSTRAP": self.kafka,
            "CHAT_WORKER_TOPIC": self.topic,
            "CHAT_WORKER_GROUP_ID": group,
            "CHAT_WORKER_DATABASE_URL": self.database_url,
            "CHAT_WORKER_METRICS_PORT": str(worker_port),
        }
        auth_env = {**LIFTED_AUTH_LIMITS, "CHAT_AUTH_ACCESS_TOKEN_TTL_S": "900"}
        for process in (
            redis_server(redis_port, self.log_dir),
            auth_service(self.log_dir, self.auth_port, self.database_url, redis_url, **auth_env),
            ServiceProcess(
                "worker",
                python_module("chat_worker"),
                worker_env,
                self.log_dir,
                ready_url=f"http://127.0.0.1:{worker_port}/readyz",
            ),
        ):
            self.processes.append(process)
            await process.start()
        self.gateway_env = {
            **LIFTED_GATEWAY_LIMITS,
            "CHAT_GATEWAY_REDIS_URL": redis_url,
            "CHAT_GATEWAY_KAFKA_BOOTSTRAP": self.kafka,
            "CHAT_GATEWAY_DATABASE_URL": self.database_url,
            "CHAT_GATEWAY_KAFKA_TOPIC": self.topic,
            "CHAT_GATEWAY_PERSISTENCE_GROUP": group,
            "CHAT_GATEWAY_JWKS_URL": f"http://127.0.0.1:{self.auth_port}/.well-known/jwks.json",
            "CHAT_GATEWAY_LOG_LEVEL": "warning",
        }
        await self._register()

    async def _register(self) -> None:
        names = [f"b{self.run}-{n}" for n in range(USERS)]
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.auth_port}", timeout=60
        ) as auth:

            async def register(name: str) -> None:
                await _post_patiently(auth, "/v1/users", {"username": name, "password": PASSWORD})

            # All at once: the auth service hashes a few at a time and queues the rest.
            await asyncio.gather(*(register(name) for name in names))
        self._names = names
        await self.refresh_tokens()

    async def refresh_tokens(self) -> None:
        """Access tokens with at least 10 of their 15 minutes left for each run: a gateway
        closes a connection whose token expires, and no run is that long."""
        if self.tokens and time.monotonic() - self._tokens_at < TOKEN_REUSE_S:
            return
        self._tokens_at = time.monotonic()
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.auth_port}", timeout=60
        ) as auth:

            async def login(name: str) -> str:
                token = await _post_patiently(
                    auth, "/v1/token", {"username": name, "password": PASSWORD}
                )
                return str(token.json()["access_token"])

            self.tokens = list(await asyncio.gather(*(login(name) for name in self._names)))

    def infrastructure(self) -> dict[str, list[int]]:
        redis, _auth, worker = (_pid(process) for process in self.processes)
        return {"redis": [redis], "worker": [worker], **shared_infrastructure()}

    async def stop(self) -> None:
        for process in reversed(self.processes):
            await process.stop()
        await self._forget()

    async def _forget(self) -> None:
        """Removes the session's topic and the rows its rooms left in Postgres."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka, client_id="bench-cleanup")
        await admin.start()
        try:
            await admin.delete_topics([self.topic])
        finally:
            await admin.close()
        connection = await asyncpg.connect(self.database_url)
        try:
            pattern = f"b{self.run}-%"
            async with connection.transaction():
                await connection.execute("DELETE FROM messages WHERE room LIKE $1", pattern)
                # Memberships, mutes and bans go with their room (ON DELETE CASCADE).
                await connection.execute("DELETE FROM rooms WHERE id LIKE $1", pattern)
        finally:
            await connection.close()


class Chat:
    """This chat's two gateways for one run, reached through nginx (wss, the real configuration)
    or directly."""

    def __init__(self, stack: ChatStack, *, through_nginx: bool, batch_s: float = 0.0) -> None:
        self.stack = stack
        self.through_nginx = through_nginx
        self.batch_s = batch_s
        self.name = "chat-nginx" if through_nginx else "chat-batched" if batch_s else "chat-direct"
        self.dialect = "chat"
        self.gateways: list[ServiceProcess] = []
        self._nginx_env: dict[str, str] = {}

    async def start(self) -> Deployment:
        await self.stack.refresh_tokens()
        for n in (1, 2):
            port = free_port()
            env = {
                **self.stack.gateway_env,
                "CHAT_GATEWAY_PORT": str(port),
                "CHAT_GATEWAY_WS_PORT": str(free_port()),
                "CHAT_GATEWAY_NODE_ID": f"bench-{self.stack.run}-{n}",
                "CHAT_GATEWAY_FANOUT_BATCH_S": str(self.batch_s),
            }
            gateway = ServiceProcess(
                f"gateway-{n}",
                python_module("chat_gateway"),
                env,
                self.stack.log_dir,
                ready_url=f"http://127.0.0.1:{port}/readyz",
            )
            self.gateways.append(gateway)
        await asyncio.gather(*(gateway.start() for gateway in self.gateways))
        ports = [gateway.env["CHAT_GATEWAY_PORT"] for gateway in self.gateways]
        sockets = [gateway.env["CHAT_GATEWAY_WS_PORT"] for gateway in self.gateways]
        groups = {
            "server": [_pid(gateway) for gateway in self.gateways],
            **self.stack.infrastructure(),
        }
        if not self.through_nginx:
            urls = [f"ws://127.0.0.1:{port}/ws" for port in sockets]
        else:
            urls = [await self._start_nginx(ports, sockets)]
            pidfile = Path(self._nginx_env["CHAT_NGINX_DIR"]) / "nginx.pid"
            groups["proxy"] = [int(pidfile.read_text())]
        return Deployment(
            self.name,
            self.dialect,
            urls,
            self.stack.tokens,
            groups,
            groups["server"][0],
            [f"http://127.0.0.1:{port}/metrics" for port in ports],
        )

    async def _start_nginx(self, ports: list[str], sockets: list[str]) -> str:
        port = free_port()
        self._nginx_env = {
            "CHAT_NGINX_DIR": str(self.stack.log_dir / "nginx"),
            "CHAT_NGINX_LOG_DIR": str(self.stack.log_dir),
            "CHAT_NGINX_LISTEN": f"127.0.0.1:{port}",
            "CHAT_NGINX_GATEWAYS": " ".join(f"127.0.0.1:{p}" for p in ports),
            "CHAT_NGINX_GATEWAY_SOCKETS": " ".join(f"127.0.0.1:{p}" for p in sockets),
            "CHAT_NGINX_AUTH": f"127.0.0.1:{self.stack.auth_port}",
            "CHAT_NGINX_UNLIMITED_ADDRESSES": "127.0.0.1",
        }
        await asyncio.to_thread(self._nginx, "start")
        return f"wss://127.0.0.1:{port}/ws"

    def _nginx(self, action: str) -> None:
        subprocess.run(
            [str(REPO / "deploy/local/nginx.sh"), action],
            env={**os.environ, **self._nginx_env},
            check=True,
            capture_output=True,
        )

    async def stop(self) -> None:
        if self._nginx_env:
            await asyncio.to_thread(self._nginx, "stop")
            self._nginx_env = {}
        for gateway in reversed(self.gateways):
            await gateway.stop()
        self.gateways = []


async def _post_patiently(
    auth: httpx.AsyncClient, path: str, body: dict[str, str]
) -> httpx.Response:
    """POST, waiting out a 503: the auth service sheds password hashing beyond its queue (and a
    busy machine fills it), telling the client when to come back."""
    for _ in range(AUTH_ATTEMPTS):
        response = await auth.post(path, json=body)
        if response.status_code != 503:
            response.raise_for_status()
            return response
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    response.raise_for_status()
    return response
