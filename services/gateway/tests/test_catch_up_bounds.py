"""A catch-up or a history page never shuts its reader out (G3 under G5): replies are bounded in
bytes, a cut catch-up says ``recovered: false``, and history pages reach everything."""

from __future__ import annotations

import uuid

import pytest

from gateway_harness import STRICT_ORIGIN, ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_catch_up_larger_than_the_outbound_queue_is_cut_and_history_pages_the_rest(
    system: ChatSystem,
) -> None:
    # The strict gateway queues at most 64 KiB per connection; 150 messages of 480 characters
    # are ~90 KiB, which as one catch-up reply used to close the reader as a slow consumer,
    # and its client rejoined into the same wall at every reconnect.
    room = f"room-{uuid.uuid4().hex[:12]}"
    (_, writer_token), (_, reader_token) = await system.user("writer"), await system.user("reader")
    writer = await system.client(system.gateways[0], writer_token)
    assert system.strict is not None
    reader = await ChatClient.open(
        system.ws_url(system.strict), token=reader_token, origin=STRICT_ORIGIN
    )
    try:
        await writer.request("join", room=room)
        sent = [
            (
                await writer.request(
                    "send", room=room, body=f"{n:03d}" + "é" * 477, client_msg_id=f"w{n}"
                )
            )["message"]["seq"]
            for n in range(150)
        ]
        joined = await reader.request("join", room=room, since=0)
        assert joined["recovered"] is False
        caught = [message["seq"] for message in joined["messages"]]
        assert caught, "a cut catch-up still shows the present"
        assert caught == sent[-len(caught) :]
        assert len(caught) < len(sent)

        pages = 0
        seen = caught
        has_more = True
        while has_more:
            page = await reader.request("history", room=room, before=seen[0], limit=100)
            assert page["messages"], "a page that says has_more moves back"
            seen = [message["seq"] for message in page["messages"]] + seen
            has_more = page["has_more"]
            pages += 1
        assert seen == sent
        assert pages >= 2  # pages of 100 were cut by bytes too
        assert (await reader.command("ping"))["type"] == "reply"
        assert not reader.closed.done()
    finally:
        await writer.close()
        await reader.close()
