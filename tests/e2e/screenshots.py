"""Takes the screenshots in docs/screenshots/ from the real system: `make screenshots`.

Starts the same system as the end-to-end tests (web_harness), lets three people talk, and
photographs the main screens in light and dark, on a wide and on a phone-sized screen. Names given
on the command line (`python screenshots.py attachments image-viewer`) retake only those pictures.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

from playwright.async_api import FilePayload, Locator, Page, expect

from web_harness import (
    REPO,
    UPLOAD_MAX_BYTES,
    People,
    Person,
    chromium,
    hand_over,
    running_system,
    sample_photo,
    slow_uploads,
)

OUT = REPO / "docs/screenshots"
ONLY = set(sys.argv[1:])
expect.set_options(timeout=20_000)

CONVERSATION = [
    ("bob", "Morning! The new reconnect logic is deployed to staging."),
    ("ann", "Nice. Did you try killing a gateway mid-conversation?"),
    ("bob", "Twice. The page says Reconnecting…, then everything sent meanwhile shows up."),
    ("bob", "In order, and nothing twice."),
    ("cara", "I scrolled back through 5000 messages in the load-test room: smooth."),
    ("ann", "Lovely. Shipping it after lunch then?\nI will write the release notes."),
    ("cara", "+1, ship it"),
]


async def shoot(page: Page, name: str) -> None:
    if ONLY and name not in ONLY:
        return
    await page.wait_for_timeout(300)  # let transitions settle before the picture
    await page.screenshot(path=str(OUT / f"{name}.png"))
    print(f"docs/screenshots/{name}.png")


async def say(person: Person, text: str) -> None:
    composer = person.page.get_by_test_id("composer")
    lines = text.split("\n")
    await composer.fill(lines[0])
    for line in lines[1:]:
        await composer.press("Shift+Enter")
        await composer.press_sequentially(line)
    await composer.press("Enter")
    await expect(person.page.get_by_test_id("message").last).to_have_attribute("data-state", "sent")


def message(person: Person, text: str) -> Locator:
    """The message whose own text holds `text` (not an answer quoting it)."""
    page = person.page
    return page.get_by_test_id("message").filter(
        has=page.get_by_test_id("message-body").filter(has_text=text)
    )


def chip(person: Person, text: str, emoji: str) -> Locator:
    return message(person, text).locator(f"[data-testid=reaction][data-emoji='{emoji}']")


async def act_on(person: Person, text: str, action: str) -> None:
    """Shows the message's action bar (hover; focus on a phone) and presses one of its buttons."""
    target = message(person, text)
    await target.hover()
    await target.focus()
    await target.get_by_test_id("message-actions").get_by_role("button", name=action).click()


async def open_room(person: Person, room: str) -> None:
    menu = person.page.get_by_role("button", name="Show rooms")
    if await menu.is_visible():  # a phone-sized screen keeps the room list in a drawer
        await menu.click()
    link = person.page.locator(f"[data-room='{room}']").first
    find = person.page.get_by_test_id("find-room")
    await expect(link.or_(find).first).to_be_visible()
    if not await link.is_visible():
        await find.fill(room)
    await link.click()
    await expect(person.page.get_by_test_id("room-title")).to_contain_text(room)


async def create_room(person: Person, room: str) -> None:
    await person.page.get_by_role("button", name="Create a room").first.click()
    await person.page.get_by_test_id("new-room-name").fill(room)
    await person.page.get_by_test_id("create-room").click()
    await expect(person.page.get_by_test_id("room-title")).to_contain_text(room)


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="chat-screenshots-"))
    async with running_system(log_dir) as system, chromium() as browser:
        people = People(browser, system)
        try:
            login = await browser.new_context(
                ignore_https_errors=True, viewport={"width": 1280, "height": 800}
            )
            page = await login.new_page()
            await page.goto(system.url)
            await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
            await shoot(page, "sign-in")
            await login.close()

            ann = await people.sign_up("ann")
            room, other = "design-review", "random"
            suffix = ann.name.rsplit("-", 1)[1]
            room, other = f"{room}-{suffix}", f"{other}-{suffix}"
            await create_room(ann, other)
            await create_room(ann, room)
            await shoot(ann.page, "empty-room")
            bob = await people.sign_up("bob", dark=True)
            cara = await people.sign_up("cara", width=390, height=844)
            by_name = {"ann": ann, "bob": bob, "cara": cara}
            for person in (bob, cara):
                await person.page.reload()  # the room list as it is now, with ann's rooms
                status = person.page.get_by_test_id("connection-status")
                await expect(status).to_have_attribute("data-state", "online")
                await open_room(person, other)
                await open_room(person, room)
            for who, text in CONVERSATION:
                await say(by_name[who], text)
            await open_room(cara, other)
            await say(cara, "Anyone up for lunch at noon?")
            await open_room(cara, room)
            entry = ann.page.locator(f"[data-testid=person][data-user='{cara.name}']")
            await entry.hover()
            await entry.get_by_role("button", name="Message").click()
            await say(ann, "Lunch at noon sounds good. The usual place?")
            await open_room(ann, room)
            await bob.page.get_by_test_id("composer").press_sequentially("On my way to", delay=30)
            await expect(ann.page.get_by_test_id("typing")).not_to_have_text("")
            await shoot(ann.page, "chat")
            await shoot(bob.page, "chat-dark")
            await cara.page.mouse.move(0, 0)  # the last tap's place is no hover on a phone
            await shoot(cara.page, "phone")
            await cara.page.get_by_role("button", name="Show rooms").click()
            await shoot(cara.page, "phone-rooms")

            # Back in a room after a while: the line at what one had read.
            await open_room(bob, other)
            await say(ann, "Notes from the review are in the doc.")
            await say(ann, "Two questions left for Thursday; shout if you have more.")
            await open_room(bob, room)
            await expect(bob.page.get_by_test_id("new-messages")).to_be_visible()
            await shoot(bob.page, "new-messages")

            # What one does with a message: a reply with its quote, reactions, an edit, the bar.
            await act_on(bob, "Notes from the review", "Reply")
            await say(bob, "Thanks! I added mine under Thursday.")
            await act_on(ann, "Notes from the review", "React")
            picker = ann.page.get_by_test_id("emoji-picker")
            await picker.get_by_role("button", name="React with 👍").click()
            await chip(bob, "Notes from the review", "👍").click()
            await expect(chip(ann, "Notes from the review", "👍")).to_contain_text("2")
            await act_on(bob, "Notes from the review", "React")
            picker = bob.page.get_by_test_id("emoji-picker")
            await picker.get_by_role("button", name="React with 🎉").click()
            await expect(chip(ann, "Notes from the review", "🎉")).to_contain_text("1")
            await act_on(ann, "Two questions left", "Edit")
            box = ann.page.get_by_role("textbox", name="Edit message")
            await box.fill("Three questions left for Thursday; shout if you have more.")
            await box.press("Enter")
            await expect(ann.page.get_by_test_id("edited")).to_be_visible()
            await message(ann, "Thanks! I added mine").hover()
            await shoot(ann.page, "message-actions")

            # Files: a photo pasted and a PDF picked; the other person sees the thumbnail and
            # the chip, and opens the photo.
            await hand_over(ann.page, "paste", [("harbour.jpg", "image/jpeg", sample_photo())])
            await ann.page.get_by_test_id("file-input").set_input_files(
                files=[
                    FilePayload(
                        name="review-notes.pdf",
                        mimeType="application/pdf",
                        buffer=b"%PDF-1.4\n" + b"%" * 180_000 + b"\n%%EOF\n",
                    )
                ]
            )
            for draft in await ann.page.get_by_test_id("draft-file").all():
                await expect(draft).to_have_attribute("data-state", "ready", timeout=60_000)
            await say(ann, "Photos from the offsite, and the notes.")
            files = message(bob, "Photos from the offsite").get_by_test_id("attachments")
            thumbnail = files.get_by_role("img", name="harbour.jpg", exact=True)
            await expect(thumbnail).to_have_js_property("complete", True, timeout=60_000)
            await expect(files.get_by_test_id("file-chip")).to_be_visible()
            await bob.page.mouse.move(0, 0)  # no message's action bar in the picture
            await shoot(bob.page, "attachments")
            await files.get_by_role("button", name="Open harbour.jpg").click()
            viewer = bob.page.get_by_test_id("viewer-image")
            await expect(viewer).to_have_js_property("complete", True)
            await shoot(bob.page, "image-viewer")
            await bob.page.keyboard.press("Escape")
            # A file on its way, and one the gateway refused as too large; the text stays.
            await slow_uploads(ann.page, 60_000)
            whiteboard = sample_photo(2400, 1600)
            await hand_over(ann.page, "paste", [("whiteboard.jpg", "image/jpeg", whiteboard)])
            too_large = b"\0" * (UPLOAD_MAX_BYTES * 3 // 2)
            await ann.page.get_by_test_id("file-input").set_input_files(
                files=[
                    FilePayload(name="offsite.mov", mimeType="video/quicktime", buffer=too_large)
                ]
            )
            await ann.page.get_by_test_id("composer").fill("And the whiteboard, for Thursday")
            await expect(ann.page.get_by_test_id("upload-error")).to_be_visible()
            await expect(ann.page.get_by_test_id("upload-progress")).to_be_visible()
            await ann.page.wait_for_timeout(1500)
            await shoot(ann.page, "attachment-upload")
            await slow_uploads(ann.page, -1)
            drafts = ann.page.get_by_test_id("draft-file")
            while await drafts.count() > 0:
                await drafts.first.get_by_role("button", name=re.compile("^Remove ")).click()
            await ann.page.get_by_test_id("composer").fill("")

            # Finding a message by its words, in every room of the person's.
            await ann.page.keyboard.press("Control+k")
            await ann.page.get_by_test_id("search-input").fill("lunch")
            hits = ann.page.get_by_test_id("search-hit")
            for _ in range(40):  # searchable once the persistence worker stored them
                await ann.page.get_by_role("button", name="Search", exact=True).click()
                await ann.page.wait_for_timeout(500)
                if await hits.count() >= 3:
                    break
            await expect(hits).to_have_count(3)
            await shoot(ann.page, "search")
            await ann.page.keyboard.press("Escape")

            # Starting a DM with anyone, found by the start of their name.
            await ann.page.get_by_role("button", name="Start a direct message").click()
            await ann.page.get_by_role("textbox", name="Find a person").fill(bob.name[:5])
            await expect(ann.page.get_by_role("button", name=bob.name, exact=True)).to_be_visible()
            await shoot(ann.page, "new-dm")
            await ann.page.keyboard.press("Escape")

            await ann.page.get_by_role("button", name="Create a room").first.click()
            await ann.page.get_by_test_id("new-room-name").fill("release-notes")
            await shoot(ann.page, "new-room")
            await ann.page.keyboard.press("Escape")

            # Every gateway gone: the page says so, keeps what is typed, sends it when back.
            for gateway in system.gateways:
                await gateway.kill()
            await expect(ann.page.get_by_test_id("offline-banner")).to_be_visible()
            composer = ann.page.get_by_test_id("composer")
            await composer.fill("Sent while the gateways were down")
            await composer.press("Enter")
            await shoot(ann.page, "reconnecting")
            for gateway in system.gateways:
                await gateway.start()
            await expect(ann.page.get_by_test_id("message").last).to_have_attribute(
                "data-state", "sent", timeout=60_000
            )
        finally:
            await people.close()


if __name__ == "__main__":
    asyncio.run(main())
