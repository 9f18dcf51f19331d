"""The ``Broker`` on Redis: the only module that issues the message path's Redis commands.

Each step that must be atomic is one Lua script, so a crash between two Redis calls never
leaves a half-published message: the window entry and the PUBLISH happen together (step 4 of
the message path), and the dedup record turns ``done`` in the same script.

One pub/sub connection carries every room and person this gateway follows and the control
channels.
Redis pub/sub is at-most-once and redis-py does not reconnect a PubSub by itself, so the reader
owns its reconnect: after a drop it subscribes everything again and tells the events handler,
which reads what was missed from the window and Postgres.

Only the reader task touches the pub/sub connection. A join that follows a new room records
it and wakes the reader (a PUBLISH on a channel only this broker hears), and the reader
subscribes it between two reads. redis-py's connections are not safe for two coroutines at
once: a SUBSCRIBE that reconnected while the reader was reading, or a PubSub closed while a
SUBSCRIBE was still using its connection, put two readers on one socket
(``RuntimeError: readuntil() called while another coroutine is already waiting``). For the
same reason the pub/sub connection comes from a pool of its own, made for each subscription
run and closed with it: a pub/sub connection never returns to the pool the commands use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any, cast

import msgspec
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from chat_gateway.broker import Admission, BrokerEvents, EnvelopeDraft, SendAdmission
from chat_gateway.frames import RoomFrame, from_payload, one_per_seq, to_payload
from chat_gateway.limits import TYPING_INTERVAL_MS
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.supervisor import TaskSupervisor

log = logging.getLogger(__name__)

# KEYS: dedup record, in-flight lock, rate bucket, the room's seq counter.
# ARGV: now_ms, rate per ms, burst, lock ttl ms, lock owner, room, dedup ttl s, and the draft
# of a new message's envelope around its seq (head, tail; '' without a draft).
# A first attempt with a draft, in a room whose counter exists, is numbered and recorded as
# pending here too (steps 2 and 3 in the same round trip); seq is the fourth value returned.
# A record belongs to the room of its envelope: a retry naming another room is a conflict,
# never a re-publication of the first room's message into the second. The bucket is
# limits.TokenBucket's rule, kept in Redis so it holds across a user's gateways.
_ADMIT = """
local state = redis.call('HGET', KEYS[1], 'state')
if state then
  local envelope = redis.call('HGET', KEYS[1], 'envelope')
  if cjson.decode(envelope)['room'] ~= ARGV[6] then
    return {'conflict', '', 0, 0}
  end
  if state == 'done' then
    return {'done', envelope, 0, 0}
  end
end
if not redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ARGV[4]) then
  if redis.call('GET', KEYS[2]) ~= ARGV[5] then
    return {'busy', '', 0, 0}
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
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
  return {'limited', '', math.ceil((1 - tokens) / rate), 0}
end
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - 1), 'at', ARGV[1])
redis.call('PEXPIRE', KEYS[3], math.ceil(burst / rate) + 1000)
if state == 'pending' then
  return {'retry', redis.call('HGET', KEYS[1], 'envelope'), 0, 0}
end
if ARGV[8] ~= '' and redis.call('EXISTS', KEYS[4]) == 1 then
  local seq = redis.call('INCR', KEYS[4])
  local numbered = ARGV[8] .. string.format('%d', seq) .. ARGV[9]
  redis.call('HSET', KEYS[1], 'state', 'pending', 'envelope', numbered)
  redis.call('EXPIRE', KEYS[1], ARGV[7])
  return {'numbered', numbered, 0, seq}
end
return {'new', '', 0, 0}
"""

# KEYS: dedup record. ARGV: envelope, ttl s.
_REMEMBER_PENDING = """
redis.call('HSET', KEYS[1], 'state', 'pending', 'envelope', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
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
_ROOM_PREFIX = "room:"
_PERSON_PREFIX = "person:"
_RECONNECT_BACKOFF_MAX_S = 2.0
_event_encoder = msgspec.json.Encoder()


class ReplicationError(RedisError):
    """A write that must survive a failover did not reach enough replicas in time."""


# How long stop() waits for the cancelled reader: a reader ends within a round trip to Redis.
_READER_STOP_WAIT_S = 2.0


def channel_of(room: str) -> str:
    return _ROOM_PREFIX + room


def person_channel_of(user_id: str) -> str:
    return _PERSON_PREFIX + user_id


class RedisBroker:
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
        control_channels: tuple[str, ...],
        tasks: TaskSupervisor,
        metrics: GatewayMetrics,
        replicas: int = 0,
        replica_wait_ms: int = 1000,
    ) -> None:
        self._redis = redis
        # Replicas that must hold a seq or a pending record before the send goes on (WAIT):
        # behind Sentinel a failover promotes a replica, and one that missed a counter's
        # increment would number a second message with a seq already acknowledged.
        self._replicas = replicas
        self._replica_wait_ms = replica_wait_ms
        self._window_size = window_size
        self._window_ttl_ms = window_ttl_s * 1000
        self._dedup_ttl_s = dedup_ttl_s
        self._rate_per_ms = send_rate_per_s / 1000
        self._burst = send_burst
        self._lock_ms = int(send_lock_s * 1000)
        self._admit = redis.register_script(_ADMIT)
        self._next_seq = redis.register_script(_NEXT_SEQ)
        self._publish = redis.register_script(_PUBLISH)
        self._remember_pending = redis.register_script(_REMEMBER_PENDING)
        self._control_channels = control_channels
        self._tasks = tasks
        self._metrics = metrics
        self._events: BrokerEvents | None = None
        # Rooms subscribed, each with whether Redis confirmed the subscription yet.
        self._rooms: dict[str, asyncio.Event] = {}
        # People followed, the same way.
        self._persons: dict[str, asyncio.Event] = {}
        self._pubsub: PubSub | None = None
        self._pubsub_client: Redis | None = None
        # Channels subscribed on the current pub/sub connection (the reader's alone).
        self._on_pubsub: set[str] = set()
        self._wake_channel = f"wake:{uuid.uuid4().hex}"
        self._changed = False  # followed or left since the reader last subscribed
        self._reader: asyncio.Task[None] | None = None
        self._subscribed_before = False
        self.healthy = False

    # -- send admission and the dedup record ----------------------------------------------------

    async def admit(
        self,
        user_id: str,
        client_msg_id: str,
        owner: str,
        room: str,
        draft: EnvelopeDraft | None = None,
    ) -> SendAdmission:
        result = await self._durably(
            self._admit,
            [
                _dedup_key(user_id, client_msg_id),
                _lock_key(user_id, client_msg_id),
                f"bucket:{user_id}",
                _seq_key(room),
            ],
            [
                int(time.time() * 1000),
                self._rate_per_ms,
                self._burst,
                self._lock_ms,
                owner,
                room,
                self._dedup_ttl_s,
                draft.head if draft is not None else b"",
                draft.tail if draft is not None else b"",
            ],
        )
        outcome, envelope, retry_after, seq = result
        return SendAdmission(Admission(outcome.decode()), envelope, int(retry_after), int(seq))

    async def remember_pending(self, user_id: str, client_msg_id: str, envelope: bytes) -> None:
        # Kept for the dedup period: a retry after a failed produce re-sends this very envelope
        # (same id, same seq), so a produce that did land after all is never doubled.
        await self._durably(
            self._remember_pending,
            [_dedup_key(user_id, client_msg_id)],
            [envelope, self._dedup_ttl_s],
        )

    async def release(self, user_id: str, client_msg_id: str) -> None:
        await self._redis.delete(_lock_key(user_id, client_msg_id))

    # -- seq counters ---------------------------------------------------------------------------

    async def next_seq(self, room: str) -> int | None:
        seq = int(await self._durably(self._next_seq, [_seq_key(room)], []))
        return None if seq < 0 else seq

    async def has_seq(self, room: str) -> bool:
        return bool(await self._redis.exists(_seq_key(room)))

    async def seed_seq(self, room: str, floor: int) -> None:
        if not self._replicas:
            await self._redis.set(_seq_key(room), floor, nx=True)
            return
        await self._replicated(("SET", _seq_key(room), floor, "NX"))

    async def current_seq(self, room: str) -> int:
        value = await self._redis.get(_seq_key(room))
        return int(value) if value is not None else 0

    async def current_seqs(self, rooms: list[str]) -> list[int]:
        if not rooms:
            return []
        values = await self._redis.mget([_seq_key(room) for room in rooms])
        return [int(value) if value is not None else 0 for value in values]

    # -- writes that must survive a failover -------------------------------------------------

    async def _durably(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """``script``'s result, once ``replicas`` replicas hold what it wrote."""
        if not self._replicas:
            return await script(keys=keys, args=args)
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await self._replicated(command)
        except NoScriptError:  # a Redis that has not seen the script (restarted, promoted)
            await self._redis.script_load(script.script)
            return await self._replicated(command)

    async def _replicated(self, command: tuple[Any, ...]) -> Any:
        """Runs ``command`` and WAITs on the same connection, in one round trip. Fewer replicas
        than required in time is a Redis failure: the caller answers ``unavailable``, and what
        the command wrote stays for the retry to find."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.execute_command(*command)
            pipe.execute_command("WAIT", self._replicas, self._replica_wait_ms)
            result, acked = await pipe.execute()
        if int(acked) < self._replicas:
            self._metrics.redis_errors.labels("replicate").inc()
            wanted, wait_ms = self._replicas, self._replica_wait_ms
            raise ReplicationError(f"{acked} of {wanted} replicas had it within {wait_ms} ms")
        return result

    # -- publish and the recent window ----------------------------------------------------------

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

    async def window(self, room: str, after: int, until: int | None = None) -> list[RoomFrame]:
        upper = "+inf" if until is None else until
        payloads = cast(
            "list[bytes]", await self._redis.zrangebyscore(_window_key(room), f"({after}", upper)
        )
        return one_per_seq(from_payload(payload) for payload in payloads)

    # -- ephemeral events and control messages --------------------------------------------------

    async def typing(self, room: str, user_id: str, name: str) -> bool:
        if not await self._redis.set(f"typing:{room}:{user_id}", 1, nx=True, px=TYPING_INTERVAL_MS):
            return False
        await self.announce(
            room, {"type": "typing", "room": room, "user": {"id": user_id, "name": name}}
        )
        return True

    async def announce(self, room: str, event: dict[str, Any]) -> None:
        await self._redis.publish(channel_of(room), EPHEMERAL_HEAD + _event_encoder.encode(event))

    async def publish_control(self, channel: str, data: bytes) -> None:
        await self._redis.publish(channel, data)

    # -- following rooms ------------------------------------------------------------------------

    async def start(self, events: BrokerEvents) -> None:
        self._events = events
        self._reader = self._tasks.spawn("room-fanout", self._read_forever)

    async def stop(self) -> None:
        reader = self._reader
        if reader is not None:
            reader.cancel()
            # Bounded: the supervisor's stop has already waited for it, and logged it if it
            # would not end; a shutdown must not hang on it a second time.
            await asyncio.wait({reader}, timeout=_READER_STOP_WAIT_S)
            if reader.done():
                with contextlib.suppress(asyncio.CancelledError):
                    reader.result()
        await self._close_pubsub()

    async def subscribe(self, room: str) -> None:
        await self._follow(self._rooms, room)

    async def unsubscribe(self, room: str) -> None:
        self._unfollow(self._rooms, room)

    async def subscribe_person(self, user_id: str) -> None:
        await self._follow(self._persons, user_id)

    async def unsubscribe_person(self, user_id: str) -> None:
        self._unfollow(self._persons, user_id)

    async def tell_person(self, user_id: str, data: bytes) -> None:
        await self._redis.publish(person_channel_of(user_id), data)

    async def _follow(self, followed: dict[str, asyncio.Event], key: str) -> None:
        confirmed = followed.get(key)
        if confirmed is None:
            confirmed = followed[key] = asyncio.Event()
            self._changed = True
            # Wake the reader from its wait for the next message. If Redis cannot be reached,
            # the reader subscribes it once Redis is back, and this waits until then.
            with contextlib.suppress(RedisError, OSError):
                await self._redis.publish(self._wake_channel, b"")
        await confirmed.wait()

    def _unfollow(self, followed: dict[str, asyncio.Event], key: str) -> None:
        # The reader unsubscribes it after its next message, or within a second; what arrives
        # for it meanwhile is dropped, as it is no longer followed.
        if followed.pop(key, None) is not None:
            self._changed = True

    def _wanted(self) -> set[str]:
        return {
            *self._control_channels,
            self._wake_channel,
            *map(channel_of, self._rooms),
            *map(person_channel_of, self._persons),
        }

    async def _read_forever(self) -> None:
        """Owns the subscription: reconnects after a Redis failure itself; any other failure
        ends the run (the supervisor restarts it), dropping the subscription first so the
        next run subscribes afresh and the handler catches up."""
        backoff = 0.05
        while True:
            try:
                await self._subscribe_all()
                backoff = 0.05
                assert self._pubsub is not None
                while True:
                    await self._follow_changes(self._pubsub)
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._on_message(message)
            except (RedisError, OSError) as exc:
                self._metrics.redis_errors.labels("subscribe").inc()
                log.warning("room fan-out lost redis; reconnecting", extra={"error": repr(exc)})
                await self._unsubscribed()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _RECONNECT_BACKOFF_MAX_S)
            except BaseException:
                await self._unsubscribed()
                raise

    async def _follow_changes(self, pubsub: PubSub) -> None:
        """Subscribes what was followed and unsubscribes what was left since the last call."""
        if not self._changed:
            return
        self._changed = False
        wanted, before = self._wanted(), self._on_pubsub
        if added := wanted - before:
            await pubsub.subscribe(*added)
        if removed := before - wanted:
            await pubsub.unsubscribe(*removed)
        self._on_pubsub = wanted
        # Left and followed again before this call: never unsubscribed, so confirmed now.
        kept = before & wanted
        for followed, channel in ((self._rooms, channel_of), (self._persons, person_channel_of)):
            for key, confirmed in followed.items():
                if channel(key) in kept:
                    confirmed.set()

    async def _subscribe_all(self) -> None:
        pool = self._redis.connection_pool
        self._pubsub_client = client = Redis.from_pool(
            ConnectionPool(
                connection_class=pool.connection_class, max_connections=1, **pool.connection_kwargs
            )
        )
        pubsub = client.pubsub()
        self._pubsub = pubsub
        self._changed = False
        wanted = self._wanted()
        await pubsub.subscribe(*wanted)
        self._on_pubsub = wanted
        self.healthy = True
        if self._subscribed_before:
            log.info(
                "room fan-out resubscribed",
                extra={"rooms": len(self._rooms), "persons": len(self._persons)},
            )
            assert self._events is not None
            self._events.on_resubscribed()
        self._subscribed_before = True

    async def _unsubscribed(self) -> None:
        self.healthy = False
        for confirmed in (*self._rooms.values(), *self._persons.values()):
            confirmed.clear()
        await self._close_pubsub()

    def _on_message(self, message: dict[str, Any]) -> None:
        events = self._events
        assert events is not None
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if message["type"] == "message" and channel in self._control_channels:
            events.on_control(channel, message["data"])
            return
        if channel.startswith(_PERSON_PREFIX):
            self._on_person(channel.removeprefix(_PERSON_PREFIX), message)
            return
        room = channel.removeprefix(_ROOM_PREFIX) if channel.startswith(_ROOM_PREFIX) else None
        if room is None or (confirmed := self._rooms.get(room)) is None:
            return
        if message["type"] == "subscribe":
            confirmed.set()
            return
        if message["type"] != "message":
            return
        data: bytes = message["data"]
        if data.startswith(EPHEMERAL_HEAD):
            events.on_event(room, data[len(EPHEMERAL_HEAD) :])
            return
        try:
            frame = from_payload(data)
        except ValueError:
            log.warning("dropped a malformed room frame", extra={"room": room})
            return
        events.on_frame(room, frame)

    def _on_person(self, user_id: str, message: dict[str, Any]) -> None:
        confirmed = self._persons.get(user_id)
        if confirmed is None:
            return
        if message["type"] == "subscribe":
            confirmed.set()
        elif message["type"] == "message":
            assert self._events is not None
            self._events.on_person(user_id, message["data"])

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        client, self._pubsub_client = self._pubsub_client, None
        self._on_pubsub = set()
        with contextlib.suppress(RedisError, OSError):
            if pubsub is not None:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            if client is not None:
                await client.aclose()


def _seq_key(room: str) -> str:
    return f"seq:{room}"


def _window_key(room: str) -> str:
    return f"recent:{room}"


def _dedup_key(user_id: str, client_msg_id: str) -> str:
    return f"dedup:{user_id}:{client_msg_id}"


def _lock_key(user_id: str, client_msg_id: str) -> str:
    return f"sending:{user_id}:{client_msg_id}"
