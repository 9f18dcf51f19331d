"""Key and channel names by topology. On one Redis and behind Sentinel they must stay the names
they always had: gateways of two versions side by side in a rolling upgrade would otherwise run
two seq counters for one room and give one seq twice. On a Redis Cluster each carries the hash
tag of its room or person, so one script's keys share a slot."""

from __future__ import annotations

from redis.crc import key_slot

from chat_common.redis_client import KeyLayout
from chat_common.revocation import session_mark_key, user_mark_key
from chat_gateway.redis_broker import BrokerKeys, channel_of, person_channel_of
from chat_gateway.redis_presence import PresenceKeys

_ONE_REDIS, _CLUSTER = KeyLayout(), KeyLayout(clustered=True)


def test_one_redis_and_sentinel_keep_the_names_they_always_had() -> None:
    keys = BrokerKeys(_ONE_REDIS)
    assert [keys.seq("r1"), keys.window("r1"), keys.typing("r1", "u1")] == [
        "seq:r1",
        "recent:r1",
        "typing:r1:u1",
    ]
    assert [keys.dedup("u1", "m1"), keys.lock("u1", "m1"), keys.bucket("u1")] == [
        "dedup:u1:m1",
        "sending:u1:m1",
        "bucket:u1",
    ]
    assert keys.room_channel("r1") == channel_of("r1") == "room:r1"
    assert keys.person_channel("u1") == person_channel_of("u1") == "person:u1"
    presence = PresenceKeys(_ONE_REDIS)
    assert presence.room("r1", "u1") == ["presence:r1", "presence:r1:u1", "presence-names:r1"]
    assert presence.connections("u1") == "conns:u1"
    assert presence.said("r1", "u1") == "announced:presence:r1:u1"
    assert session_mark_key("s1", "u1") == "revoked:sid:s1"
    assert user_mark_key("u1") == "revoked:user:u1"


def test_on_a_cluster_a_room_s_keys_share_its_slot_and_a_person_s_theirs() -> None:
    keys, presence = BrokerKeys(_CLUSTER), PresenceKeys(_CLUSTER)
    room_keys = [
        keys.seq("r1"),
        keys.window("r1"),
        keys.typing("r1", "u2"),
        keys.room_channel("r1"),
        *presence.room("r1", "u2"),
        presence.said("r1", "u2"),
        presence.connections_in_prefix("r1") + "u3",
    ]
    person_keys = [
        keys.dedup("u1", "m1"),
        keys.lock("u1", "m1"),
        keys.bucket("u1"),
        keys.person_channel("u1"),
        presence.connections("u1"),
        session_mark_key("s1", "u1", _CLUSTER),
        session_mark_key("s2", "u1", _CLUSTER),
        user_mark_key("u1", _CLUSTER),
    ]
    assert {key_slot(key.encode()) for key in room_keys} == {key_slot(b"r1")}
    assert {key_slot(key.encode()) for key in person_keys} == {key_slot(b"u1")}
    assert keys.room_of(keys.room_channel("r1")) == "r1"
    assert keys.person_of(keys.person_channel("u1")) == "u1"
    assert keys.room_of(keys.person_channel("u1")) is None
