"""State that follows the person, in Debian's Chromium through nginx against the real system: the
same person signed in on two browsers sees the same rooms and read state, a new DM reaches the
other person without a reload, and every room has a URL that survives a reload and the history
buttons.

Nothing here polls: the room list is asked once per connection, so whatever reaches a page
without a reload was pushed on the person's channel. The waits are the suite's usual generous
ones, since the machine is shared; the one-second delivery is asserted by the gateway tests.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, expect

from test_web_app import create_room, join_room, say
from web_harness import People, Person

pytestmark = pytest.mark.asyncio(loop_scope="session")


def room_link(person: Person, room: str) -> Locator:
    return person.page.locator(f"[data-testid=room-link][data-room='{room}']")


async def test_a_room_joined_in_one_browser_is_in_the_other_with_its_read_state(
    people: People,
) -> None:
    bob = await people.sign_up("bob")
    room = await create_room(bob)
    ann = await people.sign_up("ann")
    ann_elsewhere = await people.sign_in(ann)

    await join_room(ann, room)
    await expect(room_link(ann_elsewhere, room)).to_be_visible()

    # Ann opens a room of her own in the first browser, so neither page is reading `room`.
    await create_room(ann)
    await say(bob, "news for ann")
    for page in (ann, ann_elsewhere):
        await expect(room_link(page, room).get_by_test_id("unread-badge")).to_have_text("1")

    # Reading it in the first browser clears the badge in the second.
    await room_link(ann, room).click()
    news = ann.page.get_by_test_id("message-body").filter(has_text="news for ann")
    await expect(news).to_be_visible()
    await expect(room_link(ann_elsewhere, room).get_by_test_id("unread-badge")).to_have_count(0)

    # A third device, signed in later, starts from the server's list: the room, already read.
    ann_later = await people.sign_in(ann)
    await expect(room_link(ann_later, room)).to_be_visible()
    await expect(room_link(ann_later, room).get_by_test_id("unread-badge")).to_have_count(0)


async def test_a_dm_started_by_one_person_reaches_the_others_list_without_a_reload(
    people: People,
) -> None:
    bob = await people.sign_up("bob")
    alice = await people.sign_up("alice")
    await alice.page.get_by_role("button", name="Start a direct message").click()
    await alice.page.get_by_role("textbox", name="Find a person").fill(bob.name[:6])
    await alice.page.get_by_role("button", name=bob.name, exact=True).click()
    await expect(alice.page.get_by_test_id("room-title")).to_contain_text(bob.name)
    await say(alice, "hi bob, a word?")

    dm = bob.page.get_by_test_id("room-link").filter(has_text=alice.name)
    await expect(dm).to_be_visible()
    await expect(dm.get_by_test_id("unread-badge")).to_have_text("1")
    await dm.click()
    await expect(bob.page.get_by_test_id("message-body").filter(has_text="hi bob")).to_be_visible()
    await expect(bob.page).to_have_url(re.compile(r"/dm/[^/]+$"))


async def test_every_room_has_a_url_that_survives_a_reload_and_the_history_buttons(
    people: People,
) -> None:
    ann = await people.sign_up("ann")
    first = await create_room(ann)
    second = await create_room(ann)
    title = ann.page.get_by_test_id("room-title")
    await expect(ann.page).to_have_url(re.compile(f"/r/{second}$"))

    await ann.page.reload()
    await expect(title).to_contain_text(second)

    await ann.page.go_back()
    await expect(title).to_contain_text(first)
    await expect(ann.page).to_have_url(re.compile(f"/r/{first}$"))
    await ann.page.go_forward()
    await expect(title).to_contain_text(second)

    # A link to a room opens it directly, on a page that had none open.
    await ann.page.goto(ann.page.url.replace(f"/r/{second}", f"/r/{first}"))
    await expect(title).to_contain_text(first)
