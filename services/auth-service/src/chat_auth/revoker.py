"""Tells the gateways about ended sessions (chat_common.revocation) and counts it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from chat_auth.metrics import AuthMetrics
from chat_common.redis_client import RedisClient
from chat_common.revocation import publish_revocation

log = logging.getLogger(__name__)


class Revoker:
    def __init__(
        self, redis: RedisClient, metrics: AuthMetrics, *, mark_ttl_s: int, replicas: int = 0
    ) -> None:
        self._redis = redis
        self._metrics = metrics
        self._replicas = replicas  # behind Sentinel: marks that must survive a failover
        # A mark must outlive every access token it covers.
        self._mark_ttl_s = mark_ttl_s

    async def session_ended(self, user_id: uuid.UUID, sid: uuid.UUID, reason: str) -> None:
        await publish_revocation(
            self._redis,
            user_id=str(user_id),
            sid=str(sid),
            reason=reason,
            mark_ttl_s=self._mark_ttl_s,
            replicas=self._replicas,
        )
        self._metrics.revocations.labels("session").inc()
        log.info(
            "session revoked", extra={"user_id": str(user_id), "sid": str(sid), "reason": reason}
        )

    async def user_logged_out(
        self, user_id: uuid.UUID, sids: Sequence[uuid.UUID], reason: str
    ) -> None:
        await publish_revocation(
            self._redis,
            user_id=str(user_id),
            sid=None,
            reason=reason,
            mark_ttl_s=self._mark_ttl_s,
            also_sids=tuple(str(sid) for sid in sids),
            replicas=self._replicas,
        )
        self._metrics.revocations.labels("user").inc()
        log.info(
            "every session revoked",
            extra={"user_id": str(user_id), "sessions": len(sids), "reason": reason},
        )
