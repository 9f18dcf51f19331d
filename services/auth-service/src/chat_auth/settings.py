"""Auth-service settings, read from ``CHAT_AUTH_*`` variables and validated at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from chat_common.proxies import check_trusted_proxies
from chat_common.settings import (
    LOCAL_DATABASE_URL,
    LOCAL_REDIS_URL,
    NonEmptyStr,
    Port,
    PositiveFloat,
    PositiveInt,
    ServiceSettings,
    load_settings,
)

PREFIX = "CHAT_AUTH_"

# docs/protocol.md caps access tokens at 15 minutes: a revoked session's token must die soon even
# where a gateway missed the revocation.
AccessLifetime = Annotated[int, msgspec.Meta(ge=30, le=900)]
# OWASP password storage cheat sheet, Argon2id minimum: 19 MiB, 2 iterations, parallelism 1.
Argon2Memory = Annotated[int, msgspec.Meta(ge=19_456)]
Argon2TimeCost = Annotated[int, msgspec.Meta(ge=2)]


class AuthSettings(ServiceSettings, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: Port = 8200
    database_url: NonEmptyStr = LOCAL_DATABASE_URL
    redis_url: NonEmptyStr = LOCAL_REDIS_URL

    issuer: NonEmptyStr = "chat-auth"
    audience: NonEmptyStr = "chat"
    access_token_ttl_s: AccessLifetime = 600
    # Each refresh issues a new token with a fresh lifetime: a login idle this long ends.
    refresh_token_ttl_s: Annotated[int, msgspec.Meta(ge=60)] = 14 * 86_400
    # Ed25519 private keys in PEM (PKCS#8). The previous key only verifies: it stays in the JWKS
    # during a rotation (docs/auth-service.md).
    signing_key_file: NonEmptyStr = ".run/keys/auth-signing.pem"
    previous_key_file: str = ""
    # Revocation marks outlive every token they cover by this much (gateway clock leeway).
    revocation_leeway_s: Annotated[int, msgspec.Meta(ge=0)] = 60

    # Browser mode: exact-match Origin allowlist for cookie-based refresh and logout.
    allowed_origins: tuple[str, ...] = ("https://localhost:8443",)
    cookie_path: NonEmptyStr = "/auth/v1"
    refresh_cookie_name: NonEmptyStr = "chat_refresh"
    csrf_cookie_name: NonEmptyStr = "chat_csrf"

    # Login throttling (docs/auth-service.md): failures counted in fixed windows of
    # login_throttle_window_s, a quarter hour.
    # Per username and address: a person mistyping has five tries from one place; a guesser at
    # one address gets five per quarter hour on an account, unnoticed by its owner elsewhere.
    login_failures_per_user_address: PositiveInt = 5
    # Per address across usernames: an office behind one NAT address has room for a hundred
    # typos, while one host trying many accounts is stopped.
    login_failures_per_ip: PositiveInt = 100
    # Per username from every address: beyond ten the username is paced, never locked (a lock
    # would let anyone lock anyone out). While paced it gets one password check per
    # login_pace_s, in turns handed to the addresses that ask: guessing from any number of
    # addresses makes at most 15 guesses a quarter hour on top of the first ten, and the owner
    # waits one pace for each turn already given out.
    login_failures_per_user: PositiveInt = 10
    login_pace_s: PositiveInt = 60
    login_throttle_window_s: PositiveInt = 900
    # Registrations per address within registration_window_s, taken names included (a 409
    # tells which names exist): a class behind one NAT address signs up at once, while one
    # host probes names or makes accounts at 100 an hour at most.
    registrations_per_ip: PositiveInt = 100
    registration_window_s: PositiveInt = 3600
    # IPv6 clients are counted by network: one host usually holds a whole /64 and may use any
    # address in it.
    throttle_ipv6_prefix: Annotated[int, msgspec.Meta(ge=32, le=128)] = 64
    # Proxies trusted to name the client in X-Forwarded-For (uvicorn takes the rightmost
    # address not among them). Empty: the peer address is the client.
    forwarded_allow_ips: tuple[str, ...] = ()

    argon2_time_cost: Argon2TimeCost = 2
    argon2_memory_kib: Argon2Memory = 19_456
    argon2_parallelism: PositiveInt = 1
    # Concurrent hashes; each holds argon2_memory_kib, so this bounds the memory hashing uses.
    hash_workers: PositiveInt = 4
    # Logins and registrations in progress at once, each hashing or checking one password
    # (running or waiting for a thread); beyond it a request gets 503 with Retry-After before
    # it costs anything. 32 at 4 threads is 8 rounds of ~50 ms: nobody waits more than about
    # half a second for a thread, a flood cannot queue work without end, and it stays well
    # inside the Redis client's 100 connections.
    hash_queue_limit: PositiveInt = 32

    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16_384
    database_pool_size: PositiveInt = 10
    # How often expired refresh tokens and the sessions left without tokens are deleted; an
    # hour keeps the tables near their live size at any login rate.
    purge_interval_s: PositiveInt = 3600
    # Redis connections: a request holds one for a command at a time, and logins are paced by
    # the hash workers, so 50 outlast any burst this service can serve; past that a command
    # waits this long for a connection, then the request fails with 503. On a Redis Cluster
    # the limit is per node, and a command finding none free fails at once.
    redis_max_connections: PositiveInt = 50
    redis_pool_timeout_s: PositiveFloat = 2.0

    def __post_init__(self) -> None:
        try:
            check_trusted_proxies(self.forwarded_allow_ips)
        except ValueError as exc:
            raise ValueError(f"{PREFIX}FORWARDED_ALLOW_IPS: {exc}") from exc


def load_auth_settings(environ: Mapping[str, str] | None = None) -> AuthSettings:
    return load_settings(AuthSettings, PREFIX, environ)
