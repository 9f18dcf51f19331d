"""The ``Broker`` on Redis: the only module that issues the message path's Redis commands.

Each step that must be atomic is one Lua script, so a crash between two Redis calls never
leaves a half-published message: the window entry and the PUBLISH happen together (step 4 of
the message path), and the dedup record turns ``done`` in the same script. On a Redis Cluster a
script's keys must share a slot, and a room's and a sender's do not: there ``admit`` never
numbers (``next_seq`` does), and ``publish`` appends and publishes on the room's slot, then
marks the send done on the sender's (docs/gateway.md, "Redis Cluster", says why a crash between
two such steps is safe). ``BrokerKeys`` names the keys for the topology.

One pub/sub connection carries every room and person this gateway follows and the control
channels. On a Redis Cluster rooms and people travel on sharded pub/sub (SSUBSCRIBE and
SPUBLISH, served by the node that owns the channel's slot, the slot of the room's keys too), and
there is one pub/sub connection (a feed, ``_Feed``) per primary that owns a followed channel,
carrying the channels of that node's slots; the first primary's also carries the control
channels, plain pub/sub that every node delivers. A coordinator task opens the feeds and shares
the channels among them again whenever the slot map may have changed.

Redis pub/sub is at-most-once and redis-py does not reconnect a PubSub by itself, so the reader
owns its reconnect: after a drop it subscribes everything again and tells the events handler,
which reads what was missed from the window and Postgres.

Only the reader task touches the pub/sub connection (on a Cluster, each feed's task its own;
the coordinator touches none). A join that follows a new room records it and wakes the reader
(a PUBLISH on a channel only this broker hears, which every node of a Cluster delivers), and
the reader subscribes it between two reads. redis-py's connections are not safe for two
coroutines at once: a SUBSCRIBE that reconnected while the reader was reading, or a PubSub
closed while a SUBSCRIBE was still using its connection, put two readers on one socket
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
from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.crc import key_slot
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from chat_common.redis_client import KeyLayout, RedisClient
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

# Under a Cluster, _PUBLISH in two steps, each on one slot. The room's (KEYS: recent window;
# ARGV: seq, payload, shard channel, window size, window ttl ms) first: a crash before the
# second leaves the record pending with this very envelope, so the resend numbers nothing new,
# adds the same entry again (a sorted set keeps one) and publishes the same seq (receivers
# keep one per seq).
_PUBLISH_TO_ROOM = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('SPUBLISH', ARGV[3], ARGV[2])
return 1
"""

# Then the sender's. KEYS: dedup record, in-flight lock. ARGV: dedup ttl s, envelope ('' for
# void).
_MARK_SENT = """
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'state', 'done', 'envelope', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
redis.call('DEL', KEYS[2])
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
    """The room's channel on one Redis or behind Sentinel."""
    return _ROOM_PREFIX + room


def person_channel_of(user_id: str) -> str:
    return _PERSON_PREFIX + user_id


class BrokerKeys:
    """The message path's key and channel names for the topology: a room's tagged by the room,
    a sender's by the sender under a Cluster; on one Redis or behind Sentinel the names they
    always had, so a rolling upgrade never runs two counters for one room."""

    def __init__(self, layout: KeyLayout) -> None:
        self.layout = layout

    def seq(self, room: str) -> str:
        return f"seq:{self.layout.tag(room)}"

    def window(self, room: str) -> str:
        return f"recent:{self.layout.tag(room)}"

    def typing(self, room: str, user_id: str) -> str:
        return f"typing:{self.layout.tag(room)}:{user_id}"

    def dedup(self, user_id: str, client_msg_id: str) -> str:
        return f"dedup:{self.layout.tag(user_id)}:{client_msg_id}"

    def lock(self, user_id: str, client_msg_id: str) -> str:
        return f"sending:{self.layout.tag(user_id)}:{client_msg_id}"

    def bucket(self, user_id: str) -> str:
        return f"bucket:{self.layout.tag(user_id)}"

    def room_channel(self, room: str) -> str:
        return _ROOM_PREFIX + self.layout.tag(room)

    def person_channel(self, user_id: str) -> str:
        return _PERSON_PREFIX + self.layout.tag(user_id)

    def room_of(self, channel: str) -> str | None:
        if not channel.startswith(_ROOM_PREFIX):
            return None
        return self.layout.untag(channel.removeprefix(_ROOM_PREFIX))

    def person_of(self, channel: str) -> str | None:
        if not channel.startswith(_PERSON_PREFIX):
            return None
        return self.layout.untag(channel.removeprefix(_PERSON_PREFIX))


class RedisBroker:
    def __init__(
        self,
        redis: RedisClient,
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
        self._keys = BrokerKeys(KeyLayout.of(redis))
        self._clustered = self._keys.layout.clustered
        if self._clustered and replicas:
            raise ValueError("WAIT for replicas is not supported on a Redis Cluster")
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
        self._publish_to_room = redis.register_script(_PUBLISH_TO_ROOM)
        self._mark_sent = redis.register_script(_MARK_SENT)
        self._remember_pending = redis.register_script(_REMEMBER_PENDING)
        self._control_channels = control_channels
        self._tasks = tasks
        self._metrics = metrics
        self._events: BrokerEvents | None = None
        # Rooms subscribed, each with whether Redis confirmed the subscription yet.
        self._rooms: dict[str, asyncio.Event] = {}
        # People followed, the same way.
        self._persons: dict[str, asyncio.Event] = {}
        self._wake_channel = f"wake:{uuid.uuid4().hex}"
        # One feed on one Redis; under a Cluster one per primary that owns a followed channel's
        # slot, and the first primary's (control channels), by node name.
        self._feeds: dict[str, _Feed] = {}
        # Under a Cluster: set when the slot map may have changed (a feed lost its node, or
        # Redis moved a channel's slot away); the coordinator then shares the channels anew.
        self._reshuffle = asyncio.Event()
        # Channels whose slot moved: the feed that subscribes them again has the handler catch
        # up, as after a reconnect.
        self._moved: set[str] = set()
        self._coordinator: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> bool:
        return bool(self._feeds) and all(feed.healthy for feed in self._feeds.values())

    # -- send admission and the dedup record ----------------------------------------------------

    async def admit(
        self,
        user_id: str,
        client_msg_id: str,
        owner: str,
        room: str,
        draft: EnvelopeDraft | None = None,
    ) -> SendAdmission:
        keys = [
            self._keys.dedup(user_id, client_msg_id),
            self._keys.lock(user_id, client_msg_id),
            self._keys.bucket(user_id),
        ]
        if self._clustered:
            # The room's counter lives in the room's slot, the rest in the sender's: the
            # admission never numbers here, and a new message takes its seq from next_seq.
            draft = None
        else:
            keys.append(self._keys.seq(room))
        result = await self._durably(
            self._admit,
            keys,
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
            [self._keys.dedup(user_id, client_msg_id)],
            [envelope, self._dedup_ttl_s],
        )

    async def release(self, user_id: str, client_msg_id: str) -> None:
        await self._redis.delete(self._keys.lock(user_id, client_msg_id))

    # -- seq counters ---------------------------------------------------------------------------

    async def next_seq(self, room: str) -> int | None:
        seq = int(await self._durably(self._next_seq, [self._keys.seq(room)], []))
        return None if seq < 0 else seq

    async def has_seq(self, room: str) -> bool:
        return bool(await self._redis.exists(self._keys.seq(room)))

    async def seed_seq(self, room: str, floor: int) -> None:
        if not self._replicas:
            await self._redis.set(self._keys.seq(room), floor, nx=True)
            return
        await self._replicated(("SET", self._keys.seq(room), floor, "NX"))

    async def current_seq(self, room: str) -> int:
        value = await self._redis.get(self._keys.seq(room))
        return int(value) if value is not None else 0

    async def current_seqs(self, rooms: list[str]) -> list[int]:
        if not rooms:
            return []
        keys = [self._keys.seq(room) for room in rooms]
        if isinstance(self._redis, RedisCluster):
            # The rooms' counters are on many slots: one MGET per slot (each node's in one
            # round trip), not one atomic read; each counter is read as it is at that moment.
            values = await self._redis.mget_nonatomic(keys)
        else:
            values = await self._redis.mget(keys)
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
        window, channel = self._keys.window(room), self._keys.room_channel(room)
        dedup, lock = (
            self._keys.dedup(user_id, client_msg_id),
            self._keys.lock(user_id, client_msg_id),
        )
        payload = to_payload(frame)
        if self._clustered:
            await self._publish_to_room(
                keys=[window],
                args=[frame.seq, payload, channel, self._window_size, self._window_ttl_ms],
            )
            if user_id:  # else a frame no one's send waits on
                await self._mark_sent(keys=[dedup, lock], args=[self._dedup_ttl_s, envelope])
            return
        await self._publish(
            keys=[window, dedup, lock],
            args=[
                frame.seq,
                payload,
                channel,
                self._window_size,
                self._window_ttl_ms,
                self._dedup_ttl_s,
                envelope,
            ],
        )

    async def window(self, room: str, after: int, until: int | None = None) -> list[RoomFrame]:
        upper = "+inf" if until is None else until
        payloads = cast(
            "list[bytes]",
            await self._redis.zrangebyscore(self._keys.window(room), f"({after}", upper),
        )
        return one_per_seq(from_payload(payload) for payload in payloads)

    # -- ephemeral events and control messages --------------------------------------------------

    async def typing(self, room: str, user_id: str, name: str) -> bool:
        if not await self._redis.set(
            self._keys.typing(room, user_id), 1, nx=True, px=TYPING_INTERVAL_MS
        ):
            return False
        await self.announce(
            room, {"type": "typing", "room": room, "user": {"id": user_id, "name": name}}
        )
        return True

    async def announce(self, room: str, event: dict[str, Any]) -> None:
        data = EPHEMERAL_HEAD + _event_encoder.encode(event)
        await self._shard_publish(self._keys.room_channel(room), data)

    async def publish_control(self, channel: str, data: bytes) -> None:
        await self._redis.publish(channel, data)

    async def _shard_publish(self, channel: str, data: bytes) -> None:
        if self._clustered:
            await self._redis.spublish(channel, data)
        else:
            await self._redis.publish(channel, data)

    # -- following rooms ------------------------------------------------------------------------

    async def start(self, events: BrokerEvents) -> None:
        self._events = events
        if self._clustered:
            self._coordinator = self._tasks.spawn("room-fanout", self._coordinate)
            return
        feed = self._feeds[""] = _Feed(self, "", control=True)
        feed.task = self._tasks.spawn("room-fanout", feed.read_forever)

    async def stop(self) -> None:
        tasks = [self._coordinator] if self._coordinator is not None else []
        tasks += [feed.task for feed in self._feeds.values() if feed.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: the supervisor's stop has already waited for them, and logged any that
            # would not end; a shutdown must not hang on one a second time.
            await asyncio.wait(tasks, timeout=_READER_STOP_WAIT_S)
        for task in tasks:
            if task.done():
                with contextlib.suppress(asyncio.CancelledError):
                    task.result()
        for feed in self._feeds.values():
            await feed.close()

    async def subscribe(self, room: str) -> None:
        await self._follow(self._rooms, room)

    async def unsubscribe(self, room: str) -> None:
        self._unfollow(self._rooms, room)

    async def subscribe_person(self, user_id: str) -> None:
        await self._follow(self._persons, user_id)

    async def unsubscribe_person(self, user_id: str) -> None:
        self._unfollow(self._persons, user_id)

    async def tell_person(self, user_id: str, data: bytes) -> None:
        await self._shard_publish(self._keys.person_channel(user_id), data)

    async def _follow(self, followed: dict[str, asyncio.Event], key: str) -> None:
        confirmed = followed.get(key)
        if confirmed is None:
            confirmed = followed[key] = asyncio.Event()
            self._changed()
            # Wake the readers from their wait for the next message. If Redis cannot be
            # reached, the reader subscribes it once Redis is back, and this waits until then.
            with contextlib.suppress(RedisError, OSError):
                await self._redis.publish(self._wake_channel, b"")
        await confirmed.wait()

    def _unfollow(self, followed: dict[str, asyncio.Event], key: str) -> None:
        # The reader unsubscribes it after its next message, or within a second; what arrives
        # for it meanwhile is dropped, as it is no longer followed.
        if followed.pop(key, None) is not None:
            self._changed()

    def _changed(self) -> None:
        for feed in self._feeds.values():
            feed.changed = True

    def _wanted(self, feed: _Feed) -> tuple[set[str], set[str]]:
        """The channels ``feed`` carries: by SUBSCRIBE, and by SSUBSCRIBE (under a Cluster,
        the rooms and people whose channel's slot its node owns)."""
        followed = {
            *map(self._keys.room_channel, self._rooms),
            *map(self._keys.person_channel, self._persons),
        }
        plain = {self._wake_channel, *(self._control_channels if feed.control else ())}
        if not self._clustered:
            return plain | followed, set()
        return plain, {channel for channel in followed if self._owner(channel) == feed.node}

    def _owner(self, channel: str) -> str | None:
        """The node that owns ``channel``'s slot, as the client's slot map says now."""
        assert isinstance(self._redis, RedisCluster)
        try:
            node = self._redis.get_node_from_key(channel)
        except RedisClusterException:  # a slot no node serves (yet): the coordinator looks again
            self._reshuffle.set()
            return None
        if node is None or node.name not in self._feeds:
            self._reshuffle.set()
            return None
        return node.name

    async def _coordinate(self) -> None:
        """Under a Cluster: whenever the slot map may have changed, learns it again, opens a
        feed to each primary that owns a followed channel (and to the first primary, for the
        control channels), closes those of nodes that left, and has every feed take the
        channels its node owns now. It touches no pub/sub connection: each feed subscribes its
        own."""
        assert isinstance(self._redis, RedisCluster)
        backoff = 0.05
        while True:
            self._reshuffle.clear()
            try:
                await self._redis.initialize()  # the first time: the slot map and commands
                await self._redis.nodes_manager.initialize()  # the slot map as it is now
            except (RedisError, OSError, RedisClusterException) as exc:
                self._metrics.redis_errors.labels("subscribe").inc()
                log.warning("room fan-out cannot read the slot map", extra={"error": repr(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _RECONNECT_BACKOFF_MAX_S)
                continue
            backoff = 0.05
            primaries = sorted(node.name for node in self._redis.get_primaries())
            for name in [name for name in self._feeds if name not in primaries]:
                gone = self._feeds.pop(name)
                if gone.task is not None:
                    gone.task.cancel()
            # Control messages reach every node: the first primary's feed carries them.
            for name in sorted({primaries[0], *self._owners()} & set(primaries)):
                if name not in self._feeds:
                    feed = self._feeds[name] = _Feed(self, name, control=False)
                    feed.task = self._tasks.spawn("room-fanout-shard", feed.read_forever)
            for name, feed in self._feeds.items():
                feed.control = name == primaries[0]
            self._changed()
            with contextlib.suppress(RedisError, OSError):
                await self._redis.publish(self._wake_channel, b"")
            await self._reshuffle.wait()

    def _owners(self) -> set[str]:
        """The nodes that own the slots of the rooms and people followed."""
        assert isinstance(self._redis, RedisCluster)
        owners = set()
        followed = [
            *map(self._keys.room_channel, self._rooms),
            *map(self._keys.person_channel, self._persons),
        ]
        for channel in followed:
            with contextlib.suppress(RedisClusterException):
                if (node := self._redis.get_node_from_key(channel)) is not None:
                    owners.add(node.name)
        return owners

    def _feed_pool(self, feed: _Feed) -> ConnectionPool:
        """A pool of one connection for ``feed``'s pub/sub, apart from the commands' pool."""
        if isinstance(self._redis, RedisCluster):
            node = self._redis.get_node(node_name=feed.node)
            if node is None:
                raise RedisClusterException(f"{feed.node} is no longer in the cluster")
            # No retry inside redis-py: a dropped connection ends the run, and the feed
            # subscribes again and has the handler catch up.
            return ConnectionPool(
                connection_class=node.connection_class,
                max_connections=1,
                **{**node.connection_kwargs, "retry": Retry(NoBackoff(), 0)},
            )
        pool = self._redis.connection_pool
        return ConnectionPool(
            connection_class=pool.connection_class, max_connections=1, **pool.connection_kwargs
        )

    def _on_message(self, feed: _Feed, message: dict[str, Any]) -> None:
        events = self._events
        assert events is not None
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        kind = message["type"]
        if kind == "message" and channel in self._control_channels:
            events.on_control(channel, message["data"])
            return
        if kind == "sunsubscribe" and channel in feed.on_pubsub:
            # Not asked for: Redis moved the channel's slot to another node.
            self._slot_moved(feed, channel)
            return
        if (user_id := self._keys.person_of(channel)) is not None:
            self._on_person(user_id, kind, message)
            return
        room = self._keys.room_of(channel)
        if room is None or (confirmed := self._rooms.get(room)) is None:
            return
        if kind in ("subscribe", "ssubscribe"):
            confirmed.set()
            return
        if kind not in ("message", "smessage"):
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

    def _on_person(self, user_id: str, kind: str, message: dict[str, Any]) -> None:
        confirmed = self._persons.get(user_id)
        if confirmed is None:
            return
        if kind in ("subscribe", "ssubscribe"):
            confirmed.set()
        elif kind in ("message", "smessage"):
            assert self._events is not None
            self._events.on_person(user_id, message["data"])

    def _slot_moved(self, feed: _Feed, channel: str) -> None:
        log.info("a followed channel's slot moved", extra={"node": feed.node})
        feed.on_pubsub.discard(channel)
        room, person = self._keys.room_of(channel), self._keys.person_of(channel)
        confirmed = self._rooms.get(room or "") or self._persons.get(person or "")
        if confirmed is not None:
            confirmed.clear()
        self._moved.add(channel)
        self._reshuffle.set()

    def _subscribed_again(self, channels: set[str]) -> None:
        """Called by a feed once it subscribed ``channels``: those whose slot had moved missed
        what was published meanwhile, so the handler catches up as after a reconnect."""
        if moved := self._moved & channels:
            self._moved -= moved
            assert self._events is not None
            self._events.on_resubscribed()

    def _resubscribed(self) -> None:
        assert self._events is not None
        log.info(
            "room fan-out resubscribed",
            extra={"rooms": len(self._rooms), "persons": len(self._persons)},
        )
        self._events.on_resubscribed()

    def _lost(self, feed: _Feed) -> None:
        """``feed`` lost its connection: its rooms wait for the next subscription; under a
        Cluster the slot map is read again, as a failover may have moved its slots."""
        for channel in feed.on_pubsub:
            room, person = self._keys.room_of(channel), self._keys.person_of(channel)
            confirmed = self._rooms.get(room or "") or self._persons.get(person or "")
            if confirmed is not None:
                confirmed.clear()
        if self._clustered:
            self._reshuffle.set()


class _Feed:
    """One pub/sub connection and the one task that reads it (``read_forever``): the whole
    subscription on one Redis, one primary's shard of it under a Cluster."""

    def __init__(self, broker: RedisBroker, node: str, *, control: bool) -> None:
        self._broker = broker
        self.node = node  # the Cluster node's name; '' on one Redis
        self.control = control  # carries the control channels
        self.task: asyncio.Task[None] | None = None
        self.healthy = False
        self.changed = False  # followed or left since the reader last subscribed
        # Channels subscribed on the current pub/sub connection (the reader's alone).
        self.on_pubsub: set[str] = set()
        self._sharded: set[str] = set()
        self._pubsub: PubSub | None = None
        self._client: Redis | None = None
        self._subscribed_before = False

    async def read_forever(self) -> None:
        """Owns the subscription: reconnects after a Redis failure itself; any other failure
        ends the run (the supervisor restarts it), dropping the subscription first so the
        next run subscribes afresh and the handler catches up."""
        backoff = 0.05
        metrics = self._broker._metrics
        while True:
            try:
                await self._subscribe_all()
                backoff = 0.05
                assert self._pubsub is not None
                while True:
                    await self._follow_changes(self._pubsub)
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._broker._on_message(self, message)
            except (RedisError, OSError, RedisClusterException) as exc:
                metrics.redis_errors.labels("subscribe").inc()
                log.warning(
                    "room fan-out lost redis; reconnecting",
                    extra={"error": repr(exc), "node": self.node},
                )
                await self._unsubscribed()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _RECONNECT_BACKOFF_MAX_S)
            except BaseException:
                await self._unsubscribed()
                raise

    async def _follow_changes(self, pubsub: PubSub) -> None:
        """Subscribes what was followed and unsubscribes what was left since the last call."""
        if not self.changed:
            return
        self.changed = False
        plain, sharded = self._broker._wanted(self)
        wanted, before = plain | sharded, self.on_pubsub
        added, removed = wanted - before, before - wanted
        if added - sharded:
            await pubsub.subscribe(*(added - sharded))
        await _by_slot(pubsub.ssubscribe, added & sharded)
        if removed - self._sharded:
            await pubsub.unsubscribe(*(removed - self._sharded))
        await _by_slot(pubsub.sunsubscribe, removed & self._sharded)
        self.on_pubsub, self._sharded = wanted, sharded
        self._broker._subscribed_again(added)
        # Left and followed again before this call: never unsubscribed, so confirmed now.
        self._confirm(before & wanted)

    def _confirm(self, channels: set[str]) -> None:
        keys = self._broker._keys
        for channel in channels:
            room, person = keys.room_of(channel), keys.person_of(channel)
            followed = self._broker._rooms if room is not None else self._broker._persons
            confirmed = followed.get(room if room is not None else person or "")
            if confirmed is not None:
                confirmed.set()

    async def _subscribe_all(self) -> None:
        self._client = client = Redis.from_pool(self._broker._feed_pool(self))
        pubsub = client.pubsub()
        self._pubsub = pubsub
        self.changed = False
        plain, sharded = self._broker._wanted(self)
        await pubsub.subscribe(*plain)
        await _by_slot(pubsub.ssubscribe, sharded)
        self.on_pubsub, self._sharded = plain | sharded, sharded
        self.healthy = True
        if self._subscribed_before:
            self._broker._resubscribed()
        else:
            self._broker._subscribed_again(sharded)
        self._subscribed_before = True

    async def _unsubscribed(self) -> None:
        self.healthy = False
        self._broker._lost(self)
        await self.close()

    async def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        client, self._client = self._client, None
        self.on_pubsub, self._sharded = set(), set()
        with contextlib.suppress(RedisError, OSError):
            if pubsub is not None:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
            if client is not None:
                await client.aclose()


async def _by_slot(command: Callable[..., Awaitable[Any]], channels: set[str]) -> None:
    """SSUBSCRIBE and SUNSUBSCRIBE take the channels of one slot at a time."""
    slots: dict[int, list[str]] = {}
    for channel in channels:
        slots.setdefault(key_slot(channel.encode()), []).append(channel)
    for same_slot in slots.values():
        await command(*same_slot)
