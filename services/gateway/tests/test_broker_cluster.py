"""``RedisBroker`` on a 3-primary Redis Cluster, beyond the contract every topology keeps
(test_broker_contract.py): each room travels on its own shard, the split publish step is safe to
resend, and a shard's subscriptions come back after its primary restarts or its slot moves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from chat_common.envelope import Envelope
from chat_common.redis_client import KeyLayout, create_redis
from chat_gateway.broker import Admission, EnvelopeDraft
from chat_gateway.frames import frame_of, to_payload
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.redis_broker import BrokerKeys, RedisBroker
from chat_gateway.room_events import ROOM_EVENTS_CHANNEL
from chat_gateway.supervisor import TaskSupervisor
from chat_testing.cluster import RedisClusterGroup
from chat_testing.resp import ask
from redis_traffic import envelope_of, frame_at
from test_broker_contract import _Recorder

_KEYS = BrokerKeys(KeyLayout(clustered=True))


class _Running:
    def __init__(self, redis: RedisCluster, broker: RedisBroker, events: _Recorder) -> None:
        self.redis, self.broker, self.events = redis, broker, events

    def owner(self, room: str) -> int:
        """The port of the primary that owns ``room``'s channel and keys."""
        node = self.redis.get_node_from_key(_KEYS.room_channel(room))
        assert node is not None
        return int(node.port)

    async def rooms_on_every_shard(self) -> dict[int, str]:
        """A new room per primary, by the primary's port."""
        await self.redis.initialize()  # the test's need; the broker learned the slots itself
        rooms: dict[int, str] = {}
        while len(rooms) < len(self.redis.get_primaries()):
            room = f"room-{uuid.uuid4().hex[:10]}"
            rooms.setdefault(self.owner(room), room)
        return rooms

    async def published_and_received(self, room: str, seq: int, limit_s: float = 20.0) -> None:
        """Publishes ``seq`` in ``room`` again and again (Redis may refuse while it comes back)
        until the subscription hands it over."""
        async with asyncio.timeout(limit_s):
            while (room, seq) not in {(r, frame.seq) for r, frame in self.events.frames}:
                try:
                    await self.broker.publish(frame_at(room, seq), room)
                except Exception:
                    await asyncio.sleep(0.2)
                    continue
                await asyncio.sleep(0.1)


@pytest.fixture
async def running(redis_cluster: RedisClusterGroup) -> AsyncIterator[_Running]:
    async with _broker_on(redis_cluster) as running:
        yield running


class _broker_on:
    def __init__(self, cluster: RedisClusterGroup, name: str = "broker-cluster") -> None:
        self._cluster = cluster
        self._name = name
        self._metrics = GatewayMetrics()
        self._tasks = TaskSupervisor(self._metrics.task_failures)

    async def __aenter__(self) -> _Running:
        redis = create_redis(
            self._cluster.url, client_name=self._name, max_connections=8, pool_timeout_s=2
        )
        assert isinstance(redis, RedisCluster)  # and no command yet: the broker learns the slots
        self._redis = redis
        broker = RedisBroker(
            redis,
            window_size=5,
            window_ttl_s=60,
            dedup_ttl_s=60,
            send_rate_per_s=100,
            send_burst=100,
            send_lock_s=15,
            control_channels=(ROOM_EVENTS_CHANNEL,),
            tasks=self._tasks,
            metrics=self._metrics,
        )
        events = _Recorder()
        await broker.start(events)
        self._broker = broker
        return _Running(redis, broker, events)

    async def __aexit__(self, *_: object) -> None:
        await self._broker.stop()
        await self._tasks.stop()
        await self._redis.aclose()


async def _shard_subscribers(port: int, channel: str) -> int:
    reply = await ask(port, "PUBSUB", "SHARDNUMSUB", channel)
    return int(reply[-1].strip().lstrip(b":"))


async def _plain_subscribers(port: int, channel: str) -> int:
    reply = await ask(port, "PUBSUB", "NUMSUB", channel)
    return int(reply[-1].strip().lstrip(b":"))


async def test_each_room_travels_on_the_sharded_pub_sub_of_the_shard_that_owns_it(
    running: _Running,
) -> None:
    rooms = await running.rooms_on_every_shard()
    for room in rooms.values():
        await running.broker.subscribe(room)
    for port, room in rooms.items():
        channel = _KEYS.room_channel(room)
        # The room's channel, counter and window share the room's slot, on its owner.
        assert {key_slot(k.encode()) for k in (channel, _KEYS.seq(room), _KEYS.window(room))} == {
            key_slot(channel.encode())
        }
        assert await _shard_subscribers(port, channel) == 1
        assert await _plain_subscribers(port, channel) == 0
        await running.broker.publish(frame_at(room, 1), room)
    await running.events.until(running.events.frames, len(rooms))
    received = sorted((room, frame.seq) for room, frame in running.events.frames)
    assert received == sorted((room, 1) for room in rooms.values())
    assert running.broker.healthy


async def _pub_sub_clients(port: int, name: str) -> int:
    """Connections named ``name`` on the node on ``port`` that are subscribed to anything."""
    node = Redis(host="127.0.0.1", port=port)
    try:
        clients = await node.client_list()
    finally:
        await node.aclose()
    return sum(
        1
        for client in clients
        if client["name"] == name and (client["sub"], client["ssub"]) != ("0", "0")
    )


async def test_a_gateway_opens_pub_sub_only_on_the_shards_of_its_rooms(
    redis_cluster: RedisClusterGroup,
) -> None:
    name = f"broker-{uuid.uuid4().hex[:8]}"
    async with _broker_on(redis_cluster, name) as running:
        room = f"room-{uuid.uuid4().hex[:10]}"
        await running.broker.subscribe(room)
        await running.published_and_received(room, 1)
        on = {port: await _pub_sub_clients(port, name) for port in redis_cluster.ports}
        # The room's shard, and the first primary's for the control channels: no other.
        assert on[running.owner(room)] == 1
        assert sorted(on.values()) in ([0, 0, 1], [0, 1, 1])
        assert running.broker.healthy


async def test_a_resend_after_a_crash_between_the_two_publish_steps_gets_the_same_entry(
    running: _Running,
) -> None:
    broker, redis = running.broker, running.redis
    room, user = f"room-{uuid.uuid4().hex[:10]}", f"user-{uuid.uuid4().hex[:10]}"
    head, _, tail = envelope_of(room, user, -1, "m1").partition(b'"seq":-1')
    draft = EnvelopeDraft(head + b'"seq":', tail)
    await broker.seed_seq(room, 9)
    assert (await broker.admit(user, "m1", "conn-1", room, draft)).outcome is Admission.NEW
    seq = await broker.next_seq(room)
    assert seq == 10
    envelope = draft.with_seq(seq)
    await broker.remember_pending(user, "m1", envelope)
    frame = frame_of(msgspec.json.decode(envelope, type=Envelope))
    # The room's step ran (the entry is in the window), the gateway died before the sender's.
    await redis.zadd(_KEYS.window(room), {to_payload(frame): seq})
    retry = await broker.admit(user, "m1", "conn-1", room, draft)
    assert (retry.outcome, retry.envelope) == (Admission.RETRY, envelope)
    await broker.publish(frame, room, user_id=user, client_msg_id="m1", envelope=envelope)
    assert [entry.seq for entry in await broker.window(room, 0)] == [10]
    assert await redis.zcard(_KEYS.window(room)) == 1
    done = await broker.admit(user, "m1", "conn-2", room, draft)
    assert (done.outcome, done.envelope) == (Admission.DONE, envelope)
    assert await broker.current_seq(room) == 10


async def test_delivery_resumes_on_a_shard_whose_primary_restarted(tmp_path: Path) -> None:
    cluster = RedisClusterGroup(tmp_path)
    await cluster.start()
    try:
        async with _broker_on(cluster) as running:
            rooms = await running.rooms_on_every_shard()
            for room in rooms.values():
                await running.broker.subscribe(room)
            restarted = cluster.ports[1]
            await cluster.restart(restarted)
            await running.published_and_received(rooms[restarted], 2)
            assert running.events.resubscribed >= 1
            for port, room in rooms.items():  # the other shards' rooms were never lost
                if port != restarted:
                    await running.published_and_received(room, 3)
            async with asyncio.timeout(10):
                while not running.broker.healthy:
                    await asyncio.sleep(0.05)
    finally:
        await cluster.stop()


async def test_a_room_whose_slot_moves_is_followed_on_its_new_node(tmp_path: Path) -> None:
    """Redis tells a shard subscriber that its channel's slot moved (a server-sent
    ``sunsubscribe``): the broker subscribes it on the new owner and has the handler catch up."""
    cluster = RedisClusterGroup(tmp_path)
    await cluster.start()
    try:
        async with _broker_on(cluster) as running:
            room = f"room-{uuid.uuid4().hex[:10]}"
            await running.broker.subscribe(room)
            await running.published_and_received(room, 1)
            source = running.owner(room)
            target = next(port for port in cluster.ports if port != source)
            slot = str(key_slot(_KEYS.room_channel(room).encode()))
            ids = {
                port: (await ask(port, "CLUSTER", "MYID"))[-1].strip().decode()
                for port in cluster.ports
            }
            await ask(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
            await ask(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
            # The room's window went with the slot, as redis-cli --cluster reshard moves keys.
            keys = (await ask(source, "CLUSTER", "GETKEYSINSLOT", slot, "100"))[1:]
            names = [line.strip().decode() for line in keys if not line.startswith(b"$")]
            if names:
                to = str(target)
                await ask(source, "MIGRATE", "127.0.0.1", to, "", "0", "5000", "KEYS", *names)
            # The new owner first, then the old one (which then drops the slot's subscribers).
            others = [port for port in cluster.ports if port not in (source, target)]
            for port in (target, source, *others):
                await ask(port, "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
            await running.published_and_received(room, 2)
            assert running.owner(room) == target
            assert await _shard_subscribers(target, _KEYS.room_channel(room)) == 1
            assert await _shard_subscribers(source, _KEYS.room_channel(room)) == 0
            assert running.events.resubscribed >= 1
    finally:
        await cluster.stop()


async def test_waiting_for_replicas_is_refused_on_a_cluster(
    redis_cluster: RedisClusterGroup,
) -> None:
    # WAIT names no key: it cannot follow a write to the node that owns its slot.
    redis = create_redis(
        redis_cluster.url, client_name="replicas", max_connections=2, pool_timeout_s=2
    )
    metrics = GatewayMetrics()
    try:
        with pytest.raises(ValueError, match="WAIT"):
            RedisBroker(
                redis,
                window_size=5,
                window_ttl_s=60,
                dedup_ttl_s=60,
                send_rate_per_s=1,
                send_burst=1,
                send_lock_s=15,
                control_channels=(),
                tasks=TaskSupervisor(metrics.task_failures),
                metrics=metrics,
                replicas=1,
            )
    finally:
        await redis.aclose()
