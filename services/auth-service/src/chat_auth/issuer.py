"""Access tokens: short-lived JWTs signed with the current key, with the claims of
docs/protocol.md."""

from __future__ import annotations

import time
import uuid

from chat_auth.sessions import SessionGrant
from chat_auth.signing import KeyRing
from chat_common.redis_client import RedisClient
from chat_common.revocation import user_revoked_at


class AccessTokenIssuer:
    def __init__(
        self, keys: KeyRing, redis: RedisClient, *, issuer: str, audience: str, ttl_s: int
    ) -> None:
        self._keys = keys
        self._redis = redis
        self._issuer = issuer
        self._audience = audience
        self._ttl_s = ttl_s

    async def issue(self, grant: SessionGrant) -> tuple[str, int]:
        """The signed token and its lifetime in seconds from now."""
        now = int(time.time())
        # After a logout everywhere, gateways refuse the user's tokens with iat at or before the
        # revocation second; a login within that same second must not be caught by it.
        revoked_at = await user_revoked_at(self._redis, str(grant.user_id))
        issued_at = now if revoked_at is None else max(now, revoked_at + 1)
        expires_at = issued_at + self._ttl_s
        token = self._keys.sign(
            {
                "iss": self._issuer,
                "aud": self._audience,
                "sub": str(grant.user_id),
                "name": grant.username,
                "roles": list(grant.roles),
                "sid": str(grant.session_id),
                "jti": uuid.uuid4().hex,
                "typ": "access",
                "iat": issued_at,
                "nbf": issued_at,
                "exp": expires_at,
            }
        )
        return token, expires_at - now
