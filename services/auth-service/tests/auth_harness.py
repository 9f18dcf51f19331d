"""Runs the auth service as a subprocess on a free port and talks to it, for the tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from redis.asyncio import Redis

from chat_common.revocation import REVOCATION_CHANNEL, Revocation, decode_revocation
from chat_testing.ports import free_port
from chat_testing.processes import redis_command

ISSUER = "chat-auth-test"
ORIGIN = "https://chat.test"
PASSWORD = "correct horse battery staple"
# Start-up imports, connects and computes the dummy hash; a loaded CI machine may take seconds.
READY_WITHIN_S = 30.0


@dataclass(frozen=True)
class KeyFiles:
    previous: Path
    current: Path


def unique_username() -> str:
    return f"t{uuid.uuid4().hex[:24]}"


def client_ip() -> str:
    # Documentation-range IPv6 addresses, each in a /64 of its own (the service throttles an
    # IPv6 client by its /64): every test throttles an address of its own.
    return "2001:db8:" + ":".join(secrets.token_hex(2) for _ in range(2)) + "::1"


class AuthProcess:
    """``python -m chat_auth`` with the given ``CHAT_AUTH_*`` settings; stopped by ``stop``."""

    def __init__(self, settings: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **settings, "CHAT_AUTH_PORT": str(self.port)}
        self._log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "chat_auth"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_WITHIN_S
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"auth service exited:\n{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"auth service not ready within {READY_WITHIN_S}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        self._log.flush()
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-40:])

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


class RedisProcess:
    """A redis-server of its own on a free port, without persistence, for a test that stops it."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process = subprocess.Popen(
            redis_command(self.port, folder),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_WITHIN_S
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


def service_settings(
    *, database_url: str, redis_url: str, key_file: Path, previous_key_file: Path | None = None
) -> dict[str, str]:
    return {
        "CHAT_AUTH_DATABASE_URL": database_url,
        "CHAT_AUTH_REDIS_URL": redis_url,
        "CHAT_AUTH_SIGNING_KEY_FILE": str(key_file),
        "CHAT_AUTH_PREVIOUS_KEY_FILE": str(previous_key_file or ""),
        "CHAT_AUTH_ISSUER": ISSUER,
        "CHAT_AUTH_ALLOWED_ORIGINS": ORIGIN,
        "CHAT_AUTH_LOGIN_FAILURES_PER_USER_ADDRESS": "3",
        "CHAT_AUTH_LOGIN_FAILURES_PER_IP": "8",
        "CHAT_AUTH_LOGIN_FAILURES_PER_USER": "6",
        "CHAT_AUTH_LOGIN_PACE_S": "2",
        "CHAT_AUTH_REGISTRATIONS_PER_IP": "5",
        # The tests name their client address in X-Forwarded-For, as nginx would.
        "CHAT_AUTH_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "CHAT_AUTH_HASH_WORKERS": "2",
        "CHAT_AUTH_LOG_LEVEL": "warning",
    }


async def register(client: httpx.AsyncClient, username: str | None = None) -> dict[str, Any]:
    """A new user with ``PASSWORD``; the answer plus the password for convenience."""
    response = await client.post(
        "/v1/users", json={"username": username or unique_username(), "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> Any:
    response = await client.post("/v1/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


async def login_from(
    client: httpx.AsyncClient, address: str, username: str, password: str = PASSWORD
) -> httpx.Response:
    """A login attempt from ``address``, as nginx names it in X-Forwarded-For."""
    return await client.post(
        "/v1/token",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
    )


async def metric(client: httpx.AsyncClient, name: str, labels: str = "") -> float:
    """The current value of one sample of the service's /metrics (0 when absent)."""
    text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} "):
            return float(line.split()[-1])
    return 0.0


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/token/refresh", json={"refresh_token": refresh_token})


class RevocationFeed:
    """The revocations published on Redis while a test runs."""

    def __init__(self, redis: Redis) -> None:
        self._pubsub = redis.pubsub()

    async def start(self) -> None:
        await self._pubsub.subscribe(REVOCATION_CHANNEL)
        confirmation = await self._pubsub.get_message(timeout=5)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"

    async def next_for(self, user_id: str, within_s: float = 5.0) -> Revocation:
        """The next revocation of ``user_id`` (other tests publish on the same channel)."""
        deadline = time.monotonic() + within_s
        while (left := deadline - time.monotonic()) > 0:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is not None:
                revocation = decode_revocation(message["data"])
                if revocation.user_id == user_id:
                    return revocation
        raise AssertionError(f"no revocation of user {user_id} within {within_s}s")

    async def close(self) -> None:
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
