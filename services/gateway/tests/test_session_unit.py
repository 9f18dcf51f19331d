"""Sessions on a gateway wired as in production, on the in-memory broker, presence, store and
log, and a fake socket: the commands of docs/protocol.md and what members see, without a
server. What only real servers can show (Kafka and Redis outages, SIGKILL, the socket library)
stays in the multi-process tests."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from typing import Any

import pytest

from chat_common.envelope import Author, Envelope
from chat_common.errors import CloseCode
from chat_common.revocation import REVOCATION_CHANNEL, Revocation, encode_revocation
from chat_gateway.frames import RoomFrame, frame_of
from chat_gateway.hub import RUN_BYTES
from chat_gateway.presence import Member
from chat_gateway.room_events import RoomChange, announce
from fakes import MemoryLog
from memory_broker import MemoryBackend
from memory_gateway import Chat, Client, MemoryGateway, eventually
from memory_presence import MemoryPresence

ROOM = "lobby"


def _frame_of(seq: int | None, body: str) -> RoomFrame:
    assert seq is not None
    author = Author(id="slow", name="Slow")
    ts = "2026-01-01T00:00:00.000Z"
    return frame_of(
        Envelope(
            id=f"id-{seq}", room=ROOM, seq=seq, user=author, body=body, ts=ts, client_msg_id=body
        )
    )


def _seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [message["seq"] for message in messages]


async def _send(client: Client, body: str, room: str = ROOM, cmid: str = "") -> dict[str, Any]:
    return await client.request("send", room=room, body=body, client_msg_id=cmid or body)


async def _both_joined(gateway: MemoryGateway) -> tuple[Client, Client]:
    """Ada and Bob, each connected and joined to ``ROOM``."""
    ada, bob = await gateway.connect("ada"), await gateway.connect("bob")
    await ada.request("join", room=ROOM)
    await bob.request("join", room=ROOM)
    return ada, bob


async def _received(client: Client, count: int, room: str = ROOM) -> list[int]:
    """The seqs of ``room`` the client received, once it has ``count`` of them."""
    await eventually(lambda: True if len(client.messages(room)) >= count else None)
    return _seqs(client.messages(room))


async def test_connect_answers_who_and_the_limits_and_a_command_before_it_closes_4001() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada = await gateway.connect("ada", name="Ada")
        reply = ada.arrivals[0]
        assert reply["user"] == {"id": "ada", "name": "Ada", "roles": []}
        assert reply["limits"]["max_body_chars"] == gateway.settings.max_body_chars
        assert (await ada.request("connect", token="x"))["code"] == "bad_request"

        stranger = gateway.open()
        refused = await stranger.request("join", room=ROOM)
        assert (refused["type"], refused["code"]) == ("error", "unauthorized")
        await eventually(lambda: stranger.transport.closed)
        assert stranger.transport.closed == (
            CloseCode.UNAUTHORIZED,
            "connect must be the first frame",
        )


async def test_members_receive_each_message_live_in_seq_order_and_a_leaver_no_more() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await gateway.connect("ada"), await gateway.connect("bob")
        joined = await bob.request("join", room=ROOM)
        assert (joined["last_seq"], joined["recovered"], joined["messages"]) == (0, True, [])
        await ada.request("join", room=ROOM)
        for body in ("one", "two", "three"):
            await _send(ada, body)
        assert await _received(bob, 3) == [1, 2, 3]
        assert [m["body"] for m in bob.messages(ROOM)] == ["one", "two", "three"]
        assert await bob.request("leave", room=ROOM) == {"type": "reply", "id": 3}
        await _send(ada, "four")
        assert await _received(ada, 4) == [1, 2, 3, 4]
        assert _seqs(bob.messages(ROOM)) == [1, 2, 3]


async def test_acks_of_one_connection_come_in_the_order_of_its_sends() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada = await gateway.connect("ada")
        await ada.request("join", room=ROOM)
        ids = [ada.submit("send", room=ROOM, body=f"m{i}", client_msg_id=f"m{i}") for i in range(8)]
        acks = [await ada.answer(command_id) for command_id in ids]
        assert [ack["message"]["seq"] for ack in acks] == list(range(1, 9))
        replies = [frame["id"] for frame in ada.arrivals if frame["type"] == "reply"]
        assert replies == sorted(replies)


async def test_each_ack_is_timed_stage_by_stage() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada = await gateway.connect("ada")
        await ada.request("join", room=ROOM)
        for body in ("one", "two"):
            await _send(ada, body)
        registry = gateway.ctx.metrics.registry
        for stage in ("admit", "append", "publish"):
            counted = registry.get_sample_value(
                "chat_gateway_send_stage_seconds_count", {"stage": stage}
            )
            assert counted == 2
        assert registry.get_sample_value("chat_gateway_ack_latency_seconds_count") == 2


async def test_a_message_numbered_in_its_admission_is_logged_acked_and_delivered_alike() -> None:
    # The broker numbers a send by splitting its encoded envelope at the seq: text that looks
    # like that field, in the body or the name, is escaped in JSON and never a split point.
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        ada = await gateway.connect("ada", name='Ada "seq":-1,')
        bob = await gateway.connect("bob")
        await ada.request("join", room=ROOM)
        await bob.request("join", room=ROOM)
        bodies = ['first "seq":-1', '"seq":-1,"seq":-1', "plain"]
        acks = [(await _send(ada, body, cmid=f"m{i}"))["message"] for i, body in enumerate(bodies)]
        assert [(a["seq"], a["body"], a["user"]["name"]) for a in acks] == [
            (1, bodies[0], 'Ada "seq":-1,'),
            (2, bodies[1], 'Ada "seq":-1,'),
            (3, bodies[2], 'Ada "seq":-1,'),
        ]
        logged = [(r.seq, r.body, r.user.name, r.client_msg_id) for r in chat.log.records]
        acked = [(a["seq"], a["body"], a["user"]["name"], a["client_msg_id"]) for a in acks]
        assert logged == acked
        assert await _received(bob, 3) == [1, 2, 3]
        assert [m["body"] for m in bob.messages(ROOM)] == bodies
        # A resend is answered from the record the admission wrote: the same message.
        again = (await _send(ada, "changed", cmid="m1"))["message"]
        assert again == acks[1]


class _GatedPresence(MemoryPresence):
    """Presence whose ``enter`` waits while ``opened`` is clear: a join held between its
    catch-up read and its reply."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = asyncio.Event()
        self.opened.set()
        self.entered = asyncio.Event()

    async def enter(self, room: str, member: Member) -> bool:
        self.entered.set()
        await self.opened.wait()
        return await super().enter(room, member)


async def test_a_join_with_since_gets_the_gap_then_live_frames_none_missed_or_doubled() -> None:
    chat = Chat()
    gated = chat.presence = _GatedPresence()
    async with MemoryGateway(chat) as gateway:
        ada = await gateway.connect("ada")
        await ada.request("join", room=ROOM)
        for body in ("one", "two", "three"):
            await _send(ada, body)
        bob = await gateway.connect("bob")
        gated.opened.clear()
        gated.entered.clear()
        join = bob.submit("join", room=ROOM, since=1)
        await gated.entered.wait()  # caught up, not answered yet
        await _send(ada, "four")
        await asyncio.sleep(0.01)
        assert bob.messages(ROOM) == []  # held until the reply is out
        gated.opened.set()
        reply = await bob.answer(join)
        assert [m["seq"] for m in reply["messages"]] == [2, 3]
        assert await _received(bob, 1) == [4]
        arrivals = [f["type"] for f in bob.arrivals]
        assert arrivals.index("message") > arrivals.index("reply", 1)  # after the join reply


async def test_frames_delivered_out_of_order_or_twice_reach_members_once_in_order() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await _both_joined(gateway)
        gateway.broker.hold_live()
        for body in ("one", "two", "three"):
            await _send(ada, body)
        gateway.broker.release_held([2, 0, 2, 1, 0])
        assert await _received(bob, 3) == [1, 2, 3]
        await asyncio.sleep(0.05)
        assert _seqs(bob.messages(ROOM)) == [1, 2, 3]


async def test_messages_that_arrive_together_reach_each_member_in_one_write() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await _both_joined(gateway)
        gateway.broker.hold_live()
        for body in ("one", "two", "three"):
            await _send(ada, body)
        writes = len(bob.transport.written)
        gateway.broker.release_held()  # as a gateway that was busy reads three at once
        assert await _received(bob, 3) == [1, 2, 3]
        assert len(bob.transport.written) == writes + 1
        assert [m["body"] for m in bob.messages(ROOM)] == ["one", "two", "three"]


async def test_a_run_holding_a_message_the_member_has_sends_it_only_the_others() -> None:
    async with MemoryGateway(Chat()) as gateway:
        bob = await gateway.connect("bob")
        await bob.request("join", room=ROOM, since=0)
        frames = [_frame_of(seq, f"m{seq}") for seq in (1, 2, 3)]
        assert gateway.ctx.hub.deliver(ROOM, frames[1:2]) == 1  # 2 came first; 1 is a hole
        writes = len(bob.transport.written)
        assert gateway.ctx.hub.deliver(ROOM, frames) == 2  # 1 late, 2 again, 3 new
        assert len(bob.transport.written) == writes + 1
        assert _seqs(bob.messages(ROOM)) == [2, 1, 3]


async def test_a_long_run_is_written_in_bounded_pieces() -> None:
    async with MemoryGateway(Chat()) as gateway:
        bob = await gateway.connect("bob")
        await bob.request("join", room=ROOM)
        body = "x" * 1000
        frames = [_frame_of(seq, f"{body}{seq}") for seq in range(1, 201)]
        writes = len(bob.transport.written)
        assert gateway.ctx.hub.deliver(ROOM, frames) == 200
        assert _seqs(bob.messages(ROOM)) == list(range(1, 201))
        pieces = bob.transport.written[writes:]
        assert len(pieces) > 1
        assert all(size <= RUN_BYTES for size in pieces)
        assert len(pieces) <= math.ceil(sum(pieces) / RUN_BYTES) + 1  # each piece nearly full


async def test_a_frame_lost_on_the_way_is_filled_from_the_window_before_the_next() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await _both_joined(gateway)
        gateway.broker.drop_live(ROOM)
        for body in ("one", "two", "three"):
            await _send(ada, body)
        assert await _received(bob, 3) == [1, 2, 3]


async def test_a_seq_its_sender_never_published_is_given_up_and_delivery_goes_on() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await _both_joined(gateway)
        await _send(ada, "one")
        assert await gateway.broker.next_seq(ROOM) == 2  # a sender that died after its seq
        await _send(ada, "three")
        started = time.monotonic()
        assert await _received(bob, 2) == [1, 3]
        assert time.monotonic() - started < gateway.settings.hole_deadline_s + 1


async def test_a_seq_given_up_then_arriving_late_reaches_each_connection_once() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await _both_joined(gateway)
        await _send(ada, "one")
        late = await gateway.broker.next_seq(ROOM)  # a sender slower than the hole deadline
        await _send(ada, "three")
        assert await _received(bob, 2) == [1, 3]
        gateway.broker.hold_live()
        await gateway.broker.publish(_frame_of(late, "two"), ROOM)  # in the window at last
        rejoined = await bob.request("join", room=ROOM, since=1)
        assert [m["seq"] for m in rejoined["messages"]] == [2, 3]
        gateway.broker.release_held()  # and now live, late
        assert await _received(ada, 3) == [1, 3, 2]
        await asyncio.sleep(0.02)
        assert _seqs(bob.messages(ROOM)) == [1, 3]  # bob has seq 2 from the join already


async def test_a_join_while_a_seq_is_in_flight_gets_it_before_the_ones_after_it() -> None:
    # The window holds 3 while 2 is still on its way to Kafka: a catch-up that sent 3 would
    # have 2 arrive after it. Patient holes: the test must not race the deadline.
    async with MemoryGateway(Chat(), hole_deadline_s=30) as gateway:
        ada, carol = await _both_joined(gateway)
        await _send(ada, "one")
        slow = await gateway.broker.next_seq(ROOM)
        await _send(ada, "three")
        bob = await gateway.connect("bob")
        reply = await bob.request("join", room=ROOM, since=1)
        assert (reply["messages"], reply["last_seq"]) == ([], 1)
        await gateway.broker.publish(_frame_of(slow, "two"), ROOM)
        assert await _received(bob, 2) == [2, 3]
        assert await _received(carol, 3) == [1, 2, 3]


async def test_the_first_join_on_a_gateway_while_a_seq_is_in_flight_gets_it_first() -> None:
    chat = Chat()
    async with (
        MemoryGateway(chat, "gw-a", hole_deadline_s=30) as gw_a,
        MemoryGateway(chat, "gw-b", hole_deadline_s=30) as gw_b,
    ):
        ada = await gw_a.connect("ada")
        await ada.request("join", room=ROOM)
        await _send(ada, "one")
        slow = await gw_a.broker.next_seq(ROOM)
        await _send(ada, "three")
        bob = await gw_b.connect("bob")  # gw-b follows the room from this join on
        reply = await bob.request("join", room=ROOM, since=1)
        assert (reply["messages"], reply["last_seq"]) == ([], 1)
        await gw_a.broker.publish(_frame_of(slow, "two"), ROOM)
        assert await _received(bob, 2) == [2, 3]


async def test_a_failed_produce_voids_its_seq_and_its_retry_is_delivered_late_once() -> None:
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        ada, bob = await _both_joined(gateway)
        chat.log.failing = True
        failed = await _send(ada, "first", cmid="c1")
        assert failed["code"] == "unavailable"
        chat.log.failing = False
        await _send(ada, "second", cmid="c2")
        assert await _received(bob, 1) == [2]  # nobody waits for the voided seq
        retried = await _send(ada, "first", cmid="c1")
        assert retried["message"]["seq"] == 1  # the same envelope: same id, same seq
        assert await _received(bob, 2) == [2, 1]
        assert [record.seq for record in chat.log.records] == [2, 1]


async def test_a_resent_client_msg_id_gets_the_first_result_and_one_delivery() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await _both_joined(gateway)
        first = await _send(ada, "hello", cmid="c1")
        again = await _send(ada, "hello, edited", cmid="c1")
        assert again["message"] == first["message"]
        elsewhere = await _send(ada, "hello", room="other", cmid="c1")
        assert elsewhere["code"] == "bad_request"
        await _send(ada, "next", cmid="c2")
        assert await _received(bob, 2) == [1, 2]


async def test_a_reader_that_does_not_keep_up_is_closed_4008_and_the_others_get_everything() -> (
    None
):
    async with MemoryGateway(Chat(), outbound_queue_bytes=4096) as gateway:
        ada, carol = await gateway.connect("ada"), await gateway.connect("carol")
        slow = await gateway.connect("slow", reading=False)
        for client in (ada, carol, slow):
            await client.request("join", room=ROOM)
        for i in range(30):
            await _send(ada, f"{i:03d} " + "x" * 200, cmid=f"c{i}")
        assert await _received(carol, 30) == list(range(1, 31))
        await eventually(lambda: slow.transport.closed)
        assert slow.transport.closed == (CloseCode.POLICY_VIOLATION, "slow consumer")
        assert slow.transport.buffered() <= 4096  # the unread bytes never passed the bound
        overflows = "chat_gateway_outbound_overflows_total"
        assert gateway.ctx.metrics.registry.get_sample_value(overflows) == 1


async def test_sending_too_fast_is_rate_limited_and_flooding_closes_4008() -> None:
    chat = Chat(MemoryBackend(send_rate_per_s=1.0, send_burst=2))
    async with MemoryGateway(chat, abuse_strikes=3) as gateway:
        ada = await gateway.connect("ada")
        await ada.request("join", room=ROOM)
        answers = [await _send(ada, f"m{i}") for i in range(4)]
        assert [a["type"] for a in answers] == ["reply", "reply", "error", "error"]
        assert answers[2]["code"] == "rate_limited"
        assert 0 < answers[2]["retry_after_ms"] <= 1001
        assert ada.transport.closed is None
        for i in range(4, 8):  # strikes fade by one a second: a few more to pass three
            ada.submit("send", room=ROOM, body=f"m{i}", client_msg_id=f"m{i}")
        await eventually(lambda: ada.transport.closed)
        assert ada.transport.closed == (CloseCode.POLICY_VIOLATION, "flooding")


async def test_a_connection_joins_a_bounded_number_of_rooms() -> None:
    async with MemoryGateway(Chat(), max_rooms_per_connection=2) as gateway:
        ada = await gateway.connect("ada")
        for room in ("a", "b", "a"):
            assert (await ada.request("join", room=room))["type"] == "reply"
        refused = await ada.request("join", room="c")
        assert (refused["code"], refused["message"]) == (
            "forbidden",
            "this connection has joined 2 rooms; leave one first",
        )


async def test_a_kick_on_the_control_channel_stops_delivery_at_once() -> None:
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        ada, bob = await _both_joined(gateway)
        await announce(gateway.broker, RoomChange(room=ROOM, action="kick", user_id="bob"))
        kicked = await eventually(lambda: bob.events("kicked") or None)
        assert kicked == [{"type": "kicked", "room": ROOM, "reason": "removed from the room"}]
        assert (ROOM, "bob") in chat.rooms.forgotten
        await _send(ada, "after the kick")
        assert await _received(ada, 1) == [1]
        assert bob.messages(ROOM) == []


async def test_a_revocation_closes_the_sessions_it_covers_with_4001() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await gateway.connect("ada"), await gateway.connect("bob")
        revocation = Revocation(user_id="bob", sid=None, reason="logout", revoked_at=2**40)
        await gateway.broker.publish_control(REVOCATION_CHANNEL, encode_revocation(revocation))
        await eventually(lambda: bob.transport.closed)
        assert bob.transport.closed == (CloseCode.UNAUTHORIZED, "session revoked")
        assert ada.transport.closed is None


async def test_a_revoked_session_cannot_connect() -> None:
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        client = gateway.open()
        token = chat.token("ada")
        chat.revoked.add((await chat.verify(token)).sid)
        refused = await client.request("connect", token=token)
        assert (refused["code"], refused["message"]) == (
            "unauthorized",
            "this session was revoked",
        )


async def test_typing_reaches_the_members_once_per_interval_and_presence_says_who_came() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await gateway.connect("ada"), await gateway.connect("bob")
        await bob.request("join", room=ROOM)
        joined = await ada.request("join", room=ROOM)
        assert [user["id"] for user in joined["online"]] == ["ada", "bob"]
        came = await eventually(
            lambda: [e for e in bob.events("presence") if e["user"]["id"] == "ada"] or None
        )
        assert [e["state"] for e in came] == ["online"]
        assert (await ada.request("typing", room=ROOM))["type"] == "reply"
        await ada.request("typing", room=ROOM)  # within 2 s: not announced again
        typing = await eventually(lambda: bob.events("typing") or None)
        await asyncio.sleep(0.02)
        assert len(bob.events("typing")) == 1
        assert typing[0]["user"] == {"id": "ada", "name": "Ada"}
        refused = await ada.request("typing", room="elsewhere")
        assert refused["code"] == "forbidden"


async def test_join_leave_cycling_costs_the_members_one_presence_event_per_interval() -> None:
    async with MemoryGateway(Chat(), presence_announce_interval_s=0.2) as gateway:
        ada, bob = await gateway.connect("ada"), await gateway.connect("bob")
        await bob.request("join", room=ROOM)

        def said() -> list[str]:
            return [e["state"] for e in bob.events("presence") if e["user"]["id"] == "ada"]

        for _ in range(10):
            await ada.request("join", room=ROOM)
            await ada.request("leave", room=ROOM)
        await ada.request("join", room=ROOM)  # back where the interval began: nothing to say
        await asyncio.sleep(0.4)
        assert said() == ["online"]
        await ada.request("leave", room=ROOM)  # gone for good: said once the interval ends
        assert await eventually(lambda: said() if len(said()) == 2 else None) == [
            "online",
            "offline",
        ]


async def test_a_closed_connection_leaves_presence_and_the_last_one_unsubscribes() -> None:
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        ada, bob = await _both_joined(gateway)
        await bob.gone()
        assert [user.id for user in await chat.presence.online(ROOM, 10)] == ["ada"]
        assert ROOM in gateway.broker.subscribed
        await ada.gone()
        assert ROOM not in gateway.broker.subscribed
        assert await chat.presence.online(ROOM, 10) == []


async def test_a_lost_counter_is_seeded_from_the_store_and_seqs_go_on() -> None:
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        ada = await gateway.connect("ada")
        await ada.request("join", room=ROOM)
        await _send(ada, "one")
        await _send(ada, "two")
        chat.backend.lose_counters()
        assert (await _send(ada, "three"))["message"]["seq"] == 3


async def test_an_edit_of_a_message_not_stored_yet_when_redis_lost_its_window_waits_for_it() -> (
    None
):
    chat = Chat()
    chat.log = MemoryLog(chat.store, stores=False)  # the worker has not stored it yet
    async with MemoryGateway(chat) as gateway:
        ada = await gateway.connect("ada")
        await ada.request("join", room=ROOM)
        sent = (await _send(ada, "helo"))["message"]
        chat.backend.restart_empty()  # the window went with Redis: only Kafka has it now
        edited = await ada.request(
            "edit", room=ROOM, message_id=sent["id"], body="hello", client_msg_id="e1"
        )
        assert edited["message"]["target"] == sent["id"]
        missing = await ada.request(
            "edit", room=ROOM, message_id=str(uuid.uuid4()), body="x", client_msg_id="e2"
        )
        assert missing["code"] == "not_found"


async def test_a_gateway_that_lost_its_subscription_catches_up_once_it_is_back() -> None:
    chat = Chat()
    async with MemoryGateway(chat, "gw-a") as gw_a, MemoryGateway(chat, "gw-b") as gw_b:
        ada, bob = await gw_a.connect("ada"), await gw_b.connect("bob")
        await ada.request("join", room=ROOM)
        await bob.request("join", room=ROOM)
        await _send(ada, "one")
        assert await _received(bob, 1) == [1]
        gw_b.broker.lose_connection()
        await _send(ada, "two")
        await _send(ada, "three")
        await asyncio.sleep(0.02)
        assert _seqs(bob.messages(ROOM)) == [1]
        gw_b.broker.reconnect()
        await _send(ada, "four")
        assert await _received(bob, 4) == [1, 2, 3, 4]


@pytest.mark.parametrize("window_size", [1000, 1])
async def test_reconnecting_to_another_gateway_with_since_gets_exactly_what_was_missed(
    window_size: int,
) -> None:
    chat = Chat(MemoryBackend(window_size=window_size))  # 1: older messages only in the store
    async with MemoryGateway(chat, "gw-a") as gw_a, MemoryGateway(chat, "gw-b") as gw_b:
        ada, bob = await gw_a.connect("ada"), await gw_a.connect("bob")
        await ada.request("join", room=ROOM)
        await bob.request("join", room=ROOM)
        await _send(ada, "one")
        assert await _received(bob, 1) == [1]
        await bob.gone()
        for body in ("two", "three", "four"):
            await _send(ada, body)
        again = await gw_b.connect("bob")
        reply = await again.request("join", room=ROOM, since=1)
        assert ([m["seq"] for m in reply["messages"]], reply["recovered"]) == ([2, 3, 4], True)
        await _send(ada, "five")
        assert await _received(again, 1) == [5]
