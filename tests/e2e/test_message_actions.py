"""Replies, reactions, edits and deletes between two people, @name completion and message search,
in Debian's Chromium through nginx against the real system. What one person does to a message the
other sees without a reload, and a reload shows the same: the message list is folded from the
log by the same rules the server's history follows.

The waits are the suite's usual generous ones, since the machine is shared.
"""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from playwright.async_api import Locator, expect

from test_web_app import body, create_room, join_room, message, say
from web_harness import People, Person

pytestmark = pytest.mark.asyncio(loop_scope="session")


def written(person: Person, text: str) -> Locator:
    """The message whose own text holds `text` (not one quoting it)."""
    page = person.page
    return page.get_by_test_id("message").filter(
        has=page.get_by_test_id("message-body").filter(has_text=text)
    )


async def act_on(person: Person, text: str, action: str) -> None:
    """Hovers the message with `text` and presses one of its actions."""
    target = written(person, text)
    await target.hover()
    await target.get_by_test_id("message-actions").get_by_role("button", name=action).click()


def chip(person: Person, text: str, emoji: str) -> Locator:
    return written(person, text).locator(f"[data-testid=reaction][data-emoji='{emoji}']")


async def test_reply_react_edit_and_delete_reach_the_other_person(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    await say(ann, "lunch at noon?")
    await expect(body(bob, "lunch at noon?")).to_be_visible()

    # Bob answers: the composer quotes what he answers, and so does the message he sends.
    await act_on(bob, "lunch at noon?", "Reply")
    await expect(bob.page.get_by_test_id("replying-to")).to_contain_text("lunch at noon?")
    await say(bob, "yes, the usual place")
    await expect(bob.page.get_by_test_id("replying-to")).to_have_count(0)
    for person in (ann, bob):
        answer = message(person, "yes, the usual place")
        await expect(answer.get_by_test_id("reply-quote")).to_contain_text(ann.name)
        await expect(answer.get_by_test_id("reply-quote")).to_contain_text("lunch at noon?")

    # Ann reacts, Bob sees one; Bob adds his, two; Ann takes hers back, one.
    await act_on(ann, "lunch at noon?", "React")
    await (
        ann.page.get_by_test_id("emoji-picker").get_by_role("button", name="React with 👍").click()
    )
    await expect(chip(bob, "lunch at noon?", "👍")).to_contain_text("1")
    await expect(chip(bob, "lunch at noon?", "👍")).to_have_attribute("aria-pressed", "false")
    await expect(chip(ann, "lunch at noon?", "👍")).to_have_attribute("aria-pressed", "true")
    await chip(bob, "lunch at noon?", "👍").click()
    for person in (ann, bob):
        await expect(chip(person, "lunch at noon?", "👍")).to_contain_text("2")
    await chip(ann, "lunch at noon?", "👍").click()
    for person in (ann, bob):
        await expect(chip(person, "lunch at noon?", "👍")).to_contain_text("1")
    await expect(chip(bob, "lunch at noon?", "👍")).to_have_attribute("aria-pressed", "true")

    # Ann edits in place; what she writes stays text, links to javascript: included.
    await act_on(ann, "lunch at noon?", "Edit")
    box = ann.page.get_by_role("textbox", name="Edit message")
    await box.fill("lunch at one? <b>bold</b> [go](javascript:alert(1)) javascript:alert(2)")
    await box.press("Enter")
    for person in (ann, bob):
        edited = body(person, "lunch at one?")
        await expect(edited).to_contain_text("<b>bold</b> [go](javascript:alert(1))")
        await expect(edited.get_by_test_id("edited")).to_have_text("(edited)")
        await expect(edited.get_by_test_id("edited")).to_have_attribute(
            "title", re.compile(r"^Edited .+")
        )
        await expect(edited.locator("a, b, img")).to_have_count(0)
    await expect(body(bob, "lunch at noon?")).to_have_count(0)

    # Ann deletes it, after saying yes to the question; Bob sees the placeholder, also after a
    # reload, and his answer's quote says the original is gone.
    await act_on(ann, "lunch at one?", "Delete")
    confirm = ann.page.get_by_test_id("delete-confirm")
    await confirm.get_by_role("button", name="Delete").click()
    for person in (ann, bob):
        await expect(body(person, "Message deleted")).to_have_count(1)
        await expect(body(person, "lunch at one?")).to_have_count(0)
    await bob.page.reload()
    await expect(body(bob, "yes, the usual place")).to_be_visible()
    await expect(body(bob, "Message deleted")).to_have_count(1)
    await expect(body(bob, "lunch at")).to_have_count(0)
    quote = message(bob, "yes, the usual place").get_by_test_id("reply-quote")
    await expect(quote).to_contain_text("Message deleted")

    await asyncio.sleep(0.5)  # a dialog opened by a javascript: link would have arrived by now
    for person in (ann, bob):
        assert person.dialogs == []
        assert person.csp_violations == []


async def test_someone_elses_message_offers_no_edit_and_a_refusal_is_said(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    await say(ann, "owner's words")
    target = written(bob, "owner's words")
    await target.hover()
    actions = target.get_by_test_id("message-actions")
    await expect(actions.get_by_role("button", name="Reply")).to_be_visible()
    await expect(actions.get_by_role("button", name="Edit")).to_have_count(0)
    await expect(actions.get_by_role("button", name="Delete")).to_have_count(0)
    # The room's owner may delete anyone's message.
    await say(bob, "a member's words")
    await act_on(ann, "a member's words", "Delete")
    await ann.page.get_by_test_id("delete-confirm").get_by_role("button", name="Delete").click()
    await expect(body(bob, "Message deleted")).to_have_count(1)


async def test_typing_an_at_and_letters_offers_the_rooms_members(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    await expect(bob.page.get_by_test_id("room-title")).to_contain_text(room)
    composer = ann.page.get_by_test_id("composer")
    await composer.press_sequentially(f"hello @{bob.name[:4]}")
    option = ann.page.get_by_test_id("mention-option").filter(has_text=bob.name)
    await expect(option).to_be_visible()
    await composer.press("Enter")
    await expect(composer).to_have_value(f"hello @{bob.name} ")
    await composer.press_sequentially("how are you")
    await composer.press("Enter")
    mention = body(bob, "how are you").get_by_test_id("mention-me")
    await expect(mention).to_have_text(f"@{bob.name}")


async def test_search_finds_a_message_and_opens_its_room(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    word = f"zebra{uuid.uuid4().hex[:8]}"
    await say(ann, f"the {word} <b>crossing</b> is at noon")
    await expect(message(ann, word)).to_have_attribute("data-state", "sent")
    await create_room(ann)

    page = ann.page
    await page.keyboard.press("Control+k")
    await page.get_by_test_id("search-input").fill(word)
    hit = page.get_by_test_id("search-hit")
    # The message is searchable once the persistence worker stored it: ask again until then.
    for _ in range(40):
        await page.get_by_role("button", name="Search", exact=True).click()
        await expect(
            page.get_by_test_id("search-results").or_(page.get_by_test_id("search-error"))
        ).to_be_visible()
        if await hit.count() > 0:
            break
        await asyncio.sleep(0.5)
    await expect(hit).to_have_count(1)
    await expect(hit).to_contain_text(f"#{room}")
    await expect(hit).to_contain_text(ann.name)
    await expect(hit.locator("mark")).to_have_text(word)
    await expect(hit).to_contain_text("<b>crossing</b>")
    await expect(hit.locator("b")).to_have_count(0)
    await hit.click()
    await expect(page.get_by_test_id("room-title")).to_contain_text(room)
    await expect(body(ann, word)).to_be_visible()
