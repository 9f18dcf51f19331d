"""Formatted message bodies in Debian's Chromium through nginx against the real system: what one
person writes as **bold**, *italic*, `code`, a fenced block, a link or an @name the other sees
formatted, while a javascript: link, a bare javascript: URL and HTML stay inert text.

The waits are the suite's usual generous ones, since the machine is shared.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from test_web_app import body, create_room, join_room, say
from web_harness import People

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_formatting_renders_and_hostile_text_stays_text(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)

    await say(
        ann,
        f"**bold** and *leaning* and `x < y`, see [the docs](https://example.com/docs) @{bob.name}",
    )
    await say(ann, "```\n**not bold** <b>as written</b>\n```")
    await say(ann, "[click](javascript:alert(1)) and javascript:alert(2)")
    await say(ann, "<img src=x onerror=alert(3)><a href='javascript:alert(4)'>a</a>")
    await say(ann, "the last one")

    for person in (ann, bob):
        page = person.page
        await expect(body(person, "the last one")).to_be_visible()
        formatted = body(person, "leaning")
        await expect(formatted.locator("strong")).to_have_text("bold")
        await expect(formatted.locator("em")).to_have_text("leaning")
        await expect(formatted.locator("code")).to_have_text("x < y")
        link = formatted.get_by_role("link", name="the docs")
        await expect(link).to_have_attribute("href", "https://example.com/docs")
        await expect(link).to_have_attribute("target", "_blank")
        await expect(link).to_have_attribute("rel", "noopener noreferrer")

        block = body(person, "not bold").locator("pre code")
        await expect(block).to_have_text("**not bold** <b>as written</b>")
        await expect(body(person, "not bold").locator("strong, b")).to_have_count(0)

        hostile = body(person, "click")
        await expect(hostile).to_have_text("[click](javascript:alert(1)) and javascript:alert(2)")
        html = body(person, "onerror")
        await expect(html).to_have_text(
            "<img src=x onerror=alert(3)><a href='javascript:alert(4)'>a</a>"
        )
        messages = page.get_by_test_id("messages")
        await expect(messages.locator("a[href^=javascript], a[href^=JAVASCRIPT]")).to_have_count(0)
        await expect(messages.locator("img")).to_have_count(0)
        await expect(hostile.locator("a")).to_have_count(0)
        await expect(html.locator("*")).to_have_count(0)
        # Clicking the words that would have been links does nothing: no dialog, no new page.
        await hostile.get_by_text("click", exact=False).click()
        await html.click()

    # Only bob is named, so only bob's page highlights the name.
    mention = body(bob, "leaning").get_by_test_id("mention-me")
    await expect(mention).to_have_text(f"@{bob.name}")
    await expect(body(ann, "leaning").get_by_test_id("mention-me")).to_have_count(0)

    # A dialog or a page opened by a click would have arrived by now.
    await asyncio.sleep(0.5)
    for person in (ann, bob):
        assert person.dialogs == []
        assert len(person.context.pages) == 1
        assert person.csp_violations == []
