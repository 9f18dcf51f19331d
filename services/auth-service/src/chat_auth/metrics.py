"""The auth service's Prometheus metrics, in a registry of its own."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from chat_common.metrics import LATENCY_BUCKETS, new_registry


class AuthMetrics:
    def __init__(self) -> None:
        self.registry = new_registry()
        self.logins = Counter(
            "chat_auth_logins",
            "Password logins by result: ok, bad_credentials, throttled (an address's limit),"
            " paced (the username's turn had not come).",
            ["result"],
            registry=self.registry,
        )
        self.registrations = Counter(
            "chat_auth_registrations",
            "Registrations by result: created, taken, throttled.",
            ["result"],
            registry=self.registry,
        )
        self.tokens_issued = Counter(
            "chat_auth_tokens_issued",
            "Access and refresh token pairs issued, by grant: password, refresh.",
            ["grant"],
            registry=self.registry,
        )
        self.refresh_refused = Counter(
            "chat_auth_refresh_refused",
            "Refreshes refused, by reason: unknown, expired, revoked, reused.",
            ["reason"],
            registry=self.registry,
        )
        self.refresh_reuse = Counter(
            "chat_auth_refresh_reuse_detected",
            "Spent refresh tokens presented again (each revokes its session).",
            registry=self.registry,
        )
        self.revocations = Counter(
            "chat_auth_revocations",
            "Revocations published, by scope: session, user.",
            ["scope"],
            registry=self.registry,
        )
        self.password_check_seconds = Histogram(
            "chat_auth_password_check_seconds",
            "Time to hash or verify a password, waiting for a hashing thread included.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.password_hashes = Counter(
            "chat_auth_password_hashes",
            "Argon2 computations, by op: hash (registration, upgrade), verify (login).",
            ["op"],
            registry=self.registry,
        )
        self.password_shed = Counter(
            "chat_auth_password_shed",
            "Requests answered 503 because every place for password work was taken.",
            registry=self.registry,
        )

    def password_work_done(self, operation: str, seconds: float) -> None:
        self.password_check_seconds.observe(seconds)
        self.password_hashes.labels(operation).inc()
