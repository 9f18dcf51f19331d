"""Revocation of login sessions, shared by the auth service (writer) and the gateways (readers).

A revocation is told twice: a message on ``chat:revocations`` so gateways close the affected
sockets at once, and a durable mark in Redis so a gateway that missed the message (pub/sub is
at-most-once) or a later ``connect`` still refuses the token. A mark lives as long as any access
token it covers can: the access-token lifetime plus leeway.

- ``revoked:sid:{sid}`` = revocation time: every token of that login session is revoked (session
  ids are never reused and a revoked session issues no more tokens).
- ``revoked:user:{user_id}`` = revocation time: every token of the user with ``iat`` at or before
  it is revoked; the auth service issues later tokens with a later ``iat``.

Under a Redis Cluster both carry the user as their hash tag (``revoked:sid:{<user>}:<sid>``,
``revoked:user:{<user>}``), so the marks one revocation sets and the two a check reads are in
one slot: one script, one MGET, as on one Redis.
"""

from __future__ import annotations

import logging
import time

import msgspec

from chat_common.redis_client import KeyLayout, RedisClient
from chat_common.tokens import AccessClaims

log = logging.getLogger(__name__)

REVOCATION_CHANNEL = "chat:revocations"


class Revocation(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    # None: every session of the user (logout everywhere).
    sid: str | None
    reason: str
    # Unix seconds; a user-wide revocation covers tokens issued at or before it.
    revoked_at: int

    def covers(self, claims: AccessClaims) -> bool:
        if claims.sub != self.user_id:
            return False
        if self.sid is not None:
            return claims.sid == self.sid
        return claims.iat <= self.revoked_at


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Revocation)


# The names on one Redis or behind Sentinel.
_UNTAGGED = KeyLayout()


def session_mark_key(sid: str, user_id: str, layout: KeyLayout = _UNTAGGED) -> str:
    if layout.clustered:
        return f"revoked:sid:{layout.tag(user_id)}:{sid}"
    return f"revoked:sid:{sid}"


def user_mark_key(user_id: str, layout: KeyLayout = _UNTAGGED) -> str:
    return f"revoked:user:{layout.tag(user_id)}"


def encode_revocation(revocation: Revocation) -> bytes:
    return _encoder.encode(revocation)


def decode_revocation(data: bytes) -> Revocation:
    """Raises ``ValueError`` for anything that is not a revocation message."""
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"invalid revocation message: {exc}") from exc


# KEYS: the marks to set. ARGV: the mark's value, its ttl s, the channel, the message.
# One script, so no reader sees the message without the marks (as MULTI did), and it can be
# followed by a WAIT on the same connection.
_MARK_AND_PUBLISH = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""


async def publish_revocation(
    redis: RedisClient,
    *,
    user_id: str,
    sid: str | None,
    reason: str,
    mark_ttl_s: int,
    also_sids: tuple[str, ...] = (),
    revoked_at: int | None = None,
    replicas: int = 0,
    replica_wait_ms: int = 1000,
) -> Revocation:
    """Write the marks and publish, atomically, so no reader sees the message without the mark.

    ``also_sids`` marks further sessions without a message of their own: a logout everywhere
    marks each session it ended as well as the user, so tokens stay refused even if the clocks
    of two auth-service replicas disagree about the second it happened.

    With ``replicas`` (behind Sentinel), the marks are then waited for on that many replicas:
    a failover to a replica without them would accept the ended session's tokens again. The
    session is ended in Postgres either way; marks that did not reach a replica in time are
    logged, not refused.
    """
    revocation = Revocation(
        user_id=user_id,
        sid=sid,
        reason=reason,
        revoked_at=int(time.time()) if revoked_at is None else revoked_at,
    )
    layout = KeyLayout.of(redis)
    marks = [user_mark_key(user_id, layout)] if sid is None else []
    marks += [
        session_mark_key(marked, user_id, layout)
        for marked in (sid, *also_sids)
        if marked is not None
    ]
    args: list[int | str | bytes] = [
        revocation.revoked_at,
        mark_ttl_s,
        REVOCATION_CHANNEL,
        encode_revocation(revocation),
    ]
    async with redis.pipeline(transaction=False) as pipe:
        pipe.eval(_MARK_AND_PUBLISH, len(marks), *marks, *args)
        if replicas:
            pipe.execute_command("WAIT", replicas, replica_wait_ms)
        results = await pipe.execute()
    if replicas and int(results[1]) < replicas:
        log.warning(
            "revocation marks not on enough replicas",
            extra={"user_id": user_id, "replicas": int(results[1]), "wanted": replicas},
        )
    return revocation


async def is_revoked(redis: RedisClient, claims: AccessClaims) -> bool:
    layout = KeyLayout.of(redis)
    session_mark, user_mark = await redis.mget(
        session_mark_key(claims.sid, claims.sub, layout), user_mark_key(claims.sub, layout)
    )
    if session_mark is not None:
        return True
    return user_mark is not None and claims.iat <= int(user_mark)


async def user_revoked_at(redis: RedisClient, user_id: str) -> int | None:
    """The time of the user's latest revocation still marked, if any."""
    mark = await redis.get(user_mark_key(user_id, KeyLayout.of(redis)))
    return None if mark is None else int(mark)
