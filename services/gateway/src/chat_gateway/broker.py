"""Redis side of the message path: send admission, seq counters, the recent window, publish.

Each step that must be atomic is one Lua script, so a crash between two Redis calls never
leaves a half-published message: the window entry and the PUBLISH happen together (step 4 of
the message path), and the dedup record turns ``done`` in the same script.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from chat_gateway.frames import RoomFrame, from_payload, to_payload
from chat_gateway.limits import TYPING_INTERVAL_MS


class Admission(enum.Enum):
    NEW = "new"  # first attempt: allocate a seq and send
    RETRY = "retry"  # an earlier attempt failed: send the same envelope again
    DONE = "done"  # already sent: answer with the stored result
    BUSY = "busy"  # the same client_msg_id is being sent right now
    LIMITED = "limited"  # over the send rate
    CONFLICT = "conflict"  # this client_msg_id already names a message of another room


class SendAdmission(msgspec.Struct, frozen=True):
    outcome: Admission
    envelope: bytes = b""
    retry_after_ms: int = 0


# KEYS: dedup record, in-flight lock, rate bucket.
# ARGV: now_ms, rate per ms, burst, lock ttl ms, lock owner, room.
# A record belongs to the room of its envelope: a retry naming another room is a conflict,
# never a re-publication of the first room's message into the second.
_ADMIT = """
local state = redis.call('HGET', KEYS[1], 'state')
if state then
  local envelope = redis.call('HGET', KEYS[1], 'envelope')
  if cjson.decode(envelope)['room'] ~= ARGV[6] then
    return {'conflict', '', 0}
  end
  if state == 'done' then
    return {'done', envelope, 0}
  end
end
if not redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ARGV[4]) then
  return {'busy', '', 0}
end
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[3], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
if tokens < 1 then
  redis.call('DEL', KEYS[2])
  return {'limited', '', math.ceil((1 - tokens) / rate)}
end
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - 1), 'at', ARGV[1])
redis.call('PEXPIRE', KEYS[3], math.ceil(burst / rate) + 1000)
if state == 'pending' then
  return {'retry', redis.call('HGET', KEYS[1], 'envelope'), 0}
end
return {'new', '', 0}
"""

# KEYS: seq counter. Returns the next seq, or -1 when the counter is gone (Redis lost it).
_NEXT_SEQ = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('INCR', KEYS[1])
"""

# KEYS: recent window, dedup record, in-flight lock.
# ARGV: seq, payload, channel, window size, window ttl ms, dedup ttl s, envelope ('' for void).
_PUBLISH = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[3], ARGV[2])
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[2], 'state', 'done', 'envelope', ARGV[7])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
end
redis.call('DEL', KEYS[3])
return 1
"""


# Ephemeral events share the room channel; this head tells them from seq-numbered frames.
EPHEMERAL_HEAD = b"e\n"
_event_encoder = msgspec.json.Encoder()


def channel_of(room: str) -> str:
    return f"room:{room}"


class RoomBroker:
    def __init__(
        self,
        redis: Redis,
        *,
        window_size: int,
        window_ttl_s: int,
        dedup_ttl_s: int,
        send_rate_per_s: float,
        send_burst: int,
        send_lock_s: float,
    ) -> None:
        self._redis = redis
        self._window_size = window_size
        self._window_ttl_ms = window_ttl_s * 1000
        self._dedup_ttl_s = dedup_ttl_s
        self._rate_per_ms = send_rate_per_s / 1000
        self._burst = send_burst
        self._lock_ms = int(send_lock_s * 1000)
        self._admit = redis.register_script(_ADMIT)
        self._next_seq = redis.register_script(_NEXT_SEQ)
        self._publish = redis.register_script(_PUBLISH)

    async def admit(self, user_id: str, client_msg_id: str, owner: str, room: str) -> SendAdmission:
        result = await self._admit(
            keys=[
                _dedup_key(user_id, client_msg_id),
                _lock_key(user_id, client_msg_id),
                f"bucket:{user_id}",
            ],
            args=[
                int(time.time() * 1000),
                self._rate_per_ms,
                self._burst,
                self._lock_ms,
                owner,
                room,
            ],
        )
        outcome, envelope, retry_after = result
        return SendAdmission(Admission(outcome.decode()), envelope, int(retry_after))

    async def remember_pending(self, user_id: str, client_msg_id: str, envelope: bytes) -> None:
        # Kept for the dedup period: a retry after a failed produce re-sends this very envelope
        # (same id, same seq), so a produce that did land after all is never doubled.
        key = _dedup_key(user_id, client_msg_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"state": "pending", "envelope": envelope})
            pipe.expire(key, self._dedup_ttl_s)
            await pipe.execute()

    async def release(self, user_id: str, client_msg_id: str) -> None:
        await self._redis.delete(_lock_key(user_id, client_msg_id))

    async def next_seq(self, room: str) -> int | None:
        seq = int(await self._next_seq(keys=[_seq_key(room)]))
        return None if seq < 0 else seq

    async def has_seq(self, room: str) -> bool:
        return bool(await self._redis.exists(_seq_key(room)))

    async def seed_seq(self, room: str, floor: int) -> None:
        """Re-create a lost counter at ``floor`` unless another gateway already did."""
        await self._redis.set(_seq_key(room), floor, nx=True)

    async def current_seq(self, room: str) -> int:
        value = await self._redis.get(_seq_key(room))
        return int(value) if value is not None else 0

    async def current_seqs(self, rooms: list[str]) -> list[int]:
        if not rooms:
            return []
        values = await self._redis.mget([_seq_key(room) for room in rooms])
        return [int(value) if value is not None else 0 for value in values]

    async def publish(
        self,
        frame: RoomFrame,
        room: str,
        *,
        user_id: str = "",
        client_msg_id: str = "",
        envelope: bytes = b"",
    ) -> None:
        await self._publish(
            keys=[
                _window_key(room),
                _dedup_key(user_id, client_msg_id),
                _lock_key(user_id, client_msg_id),
            ],
            args=[
                frame.seq,
                to_payload(frame),
                channel_of(room),
                self._window_size,
                self._window_ttl_ms,
                self._dedup_ttl_s,
                envelope,
            ],
        )

    async def typing(self, room: str, user_id: str, name: str) -> bool:
        """Publish a typing event unless this user did so in this room within the throttle."""
        if not await self._redis.set(f"typing:{room}:{user_id}", 1, nx=True, px=TYPING_INTERVAL_MS):
            return False
        await self.announce(
            room, {"type": "typing", "room": room, "user": {"id": user_id, "name": name}}
        )
        return True

    async def announce(self, room: str, event: dict[str, Any]) -> None:
        """An ephemeral event for the room's members on every gateway; never stored."""
        await self._redis.publish(channel_of(room), EPHEMERAL_HEAD + _event_encoder.encode(event))

    async def window(self, room: str, after: int, until: int | None = None) -> list[RoomFrame]:
        """Frames of the recent window with after < seq <= until, ascending."""
        upper = "+inf" if until is None else until
        payloads = cast(
            "list[bytes]", await self._redis.zrangebyscore(_window_key(room), f"({after}", upper)
        )
        return _deduplicated(from_payload(payload) for payload in payloads)


def _deduplicated(frames: Iterable[RoomFrame]) -> list[RoomFrame]:
    # A seq voided after a failed produce and later sent on retry has two entries: the message
    # wins over the void.
    by_seq: dict[int, RoomFrame] = {}
    for frame in frames:
        known = by_seq.get(frame.seq)
        if known is None or known.is_void:
            by_seq[frame.seq] = frame
    return [by_seq[seq] for seq in sorted(by_seq)]


def _seq_key(room: str) -> str:
    return f"seq:{room}"


def _window_key(room: str) -> str:
    return f"recent:{room}"


def _dedup_key(user_id: str, client_msg_id: str) -> str:
    return f"dedup:{user_id}:{client_msg_id}"


def _lock_key(user_id: str, client_msg_id: str) -> str:
    return f"sending:{user_id}:{client_msg_id}"
