"""A room's topic, in Debian's Chromium through nginx against the real system: the owner sets it
from the room's header and another member who has the room open sees it without a reload (the
gateway's ``room`` event); a member without a role is not offered the control.

The waits are the suite's usual generous ones, since the machine is shared.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from test_web_app import create_room, join_room
from web_harness import People

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_owner_sets_the_topic_and_a_member_sees_it_at_once(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    await expect(bob.page.get_by_test_id("room-topic")).to_have_count(0)
    await expect(bob.page.get_by_role("button", name="Edit topic")).to_have_count(0)

    await ann.page.get_by_role("button", name="Edit topic").click()
    dialog = ann.page.get_by_role("dialog", name="Room topic")
    topic = dialog.get_by_role("textbox", name="Topic")
    # Two lines are refused before anything is sent.
    await topic.fill("Release on Friday\nand party after")
    await expect(dialog.get_by_role("alert")).to_have_text(
        "A topic is one line: remove the line breaks."
    )
    await expect(dialog.get_by_role("button", name="Save")).to_be_disabled()

    await topic.fill("Release on Friday — bring cake")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_have_count(0)
    await expect(ann.page.get_by_test_id("room-topic")).to_have_text(
        "Release on Friday — bring cake"
    )
    await expect(bob.page.get_by_test_id("room-topic")).to_have_text(
        "Release on Friday — bring cake"
    )

    # Cleared: the line goes from both pages.
    await ann.page.get_by_role("button", name="Edit topic").click()
    await topic.fill("")
    await topic.press("Enter")
    await expect(dialog).to_have_count(0)
    await expect(bob.page.get_by_test_id("room-topic")).to_have_count(0)
    await expect(ann.page.get_by_test_id("room-topic")).to_have_count(0)
    assert not ann.csp_violations
    assert not bob.csp_violations
