"""Files on messages in Debian's Chromium, through nginx, against the real system: the gateway
hands out presigned uploads, the browser PUTs the bytes to SeaweedFS through nginx's
/chat-attachments/ location, the media worker makes the thumbnail and the page shows it, for the
sender and for another member. A file that is not an image is a chip that downloads; a file too
large is refused before any byte moves, keeping what was typed; and an SVG or HTML file with a
script in it never runs it, in the page or opened on its own.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Download, FilePayload, Locator, expect
from playwright.async_api import Error as PlaywrightError

from test_web_app import create_room, join_room
from web_harness import (
    UPLOAD_MAX_BYTES,
    People,
    Person,
    WebSystem,
    hand_over,
    sample_photo,
    slow_uploads,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

expect.set_options(timeout=20_000)
# The media worker decodes and re-encodes the image and the gateway makes the event durable:
# seconds on a quiet machine, more on two shared cores.
PROCESSED_MS = 60_000


def composer(person: Person) -> Locator:
    return person.page.get_by_test_id("composer")


def chips(person: Person) -> Locator:
    return person.page.get_by_test_id("draft-file")


def files_of(person: Person, text: str) -> Locator:
    """The attachments of the message whose text holds `text`."""
    page = person.page
    row = page.get_by_test_id("message").filter(
        has=page.get_by_test_id("message-body").filter(has_text=text)
    )
    return row.get_by_test_id("attachments")


async def test_an_image_shows_as_a_thumbnail_for_both_and_opens_in_the_viewer(
    web_system: WebSystem, people: People
) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)

    # Ann pastes a photo; its upload is slowed so that its progress shows.
    await slow_uploads(ann.page, 60_000)
    jpeg = sample_photo()
    await hand_over(ann.page, "paste", [("harbour.jpg", "image/jpeg", jpeg)])
    chip = chips(ann).filter(has_text="harbour.jpg")
    progress = chip.get_by_test_id("upload-progress")
    await expect(progress).to_be_visible()
    await expect(chip).to_have_attribute("data-state", "uploading")
    # Part of it sent, and said: somewhere between 1 % and 99 %.
    await expect(chip.get_by_test_id("upload-percent")).to_have_text(re.compile(r"^[1-9][0-9]?%$"))
    assert 0 < float(await progress.get_attribute("value") or 0) < len(jpeg)
    await composer(ann).fill("the harbour this morning")
    await expect(chip).to_have_attribute("data-state", "ready", timeout=60_000)
    await slow_uploads(ann.page, -1)

    # While the media worker is away the image is a box of the right kind, for her and for Bob;
    # once it made the thumbnail, the thumbnail.
    await web_system.media_worker.stop()
    try:
        await composer(ann).press("Enter")
        await expect(chips(ann)).to_have_count(0)
        for person in (ann, bob):
            placeholder = files_of(person, "the harbour this morning").get_by_test_id(
                "image-placeholder"
            )
            await expect(placeholder).to_have_attribute("data-processed", "false")
            await expect(placeholder).to_contain_text("Processing image")
    finally:
        await web_system.media_worker.start()
    for person in (ann, bob):
        thumbnail = files_of(person, "the harbour this morning").get_by_role(
            "img", name="harbour.jpg", exact=True
        )
        await expect(thumbnail).to_be_visible(timeout=PROCESSED_MS)
        await expect(thumbnail).to_have_attribute(
            "src", re.compile(r"/chat-attachments/thumbnails/")
        )
        # Its box has the photo's shape: 1600 by 1000 scaled into 360 by 280.
        await expect(thumbnail).to_have_attribute("width", "360")
        await expect(thumbnail).to_have_attribute("height", "225")
        assert await thumbnail.evaluate("(img) => img.complete && img.naturalWidth > 0")

    # Bob opens the viewer with the keyboard: the original, as the media worker stored it.
    await (
        files_of(bob, "the harbour this morning")
        .get_by_role("button", name="Open harbour.jpg")
        .focus()
    )
    await bob.page.keyboard.press("Enter")
    viewer = bob.page.get_by_role("dialog", name="harbour.jpg", exact=True)
    original = viewer.get_by_test_id("viewer-image")
    await expect(original).to_be_visible()
    await expect(original).to_have_attribute("src", re.compile(r"/chat-attachments/originals/"))
    await expect(original).to_have_js_property("naturalWidth", 1600)
    # The original the store serves has lost its EXIF.
    served = await bob.context.request.get(await original.get_attribute("src") or "")
    assert served.status == 200
    content = await served.body()
    assert content[:2] == b"\xff\xd8"
    assert b"E2E Camera" not in content
    await bob.page.keyboard.press("Escape")
    await expect(viewer).to_have_count(0)

    for person in (ann, bob):
        assert person.dialogs == []
        assert person.csp_violations == []


async def test_a_dropped_file_is_a_chip_with_its_size_that_downloads(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    notes = ("Agenda\n" + "- item\n" * 1200).encode()  # 8,407 bytes
    await hand_over(ann.page, "drop", [("agenda.txt", "text/plain", notes)])
    await expect(chips(ann).filter(has_text="agenda.txt")).to_have_attribute("data-state", "ready")
    await composer(ann).fill("agenda for Thursday")
    await composer(ann).press("Enter")

    chip = files_of(bob, "agenda for Thursday").get_by_test_id("file-chip")
    await expect(chip.get_by_test_id("file-name")).to_have_text("agenda.txt")
    await expect(chip.get_by_test_id("file-size")).to_have_text("8.2 KB")
    await expect(chip.locator("img")).to_have_count(0)
    async with bob.page.expect_download() as started:
        await chip.get_by_role("button", name="Download agenda.txt").click()
    download: Download = await started.value
    assert download.suggested_filename == "agenda.txt"
    saved = await download.path()
    assert saved.read_bytes() == notes
    # Still in the room: the download did not take the page anywhere.
    await expect(bob.page.get_by_test_id("room-title")).to_contain_text(room)


async def test_a_file_too_large_is_refused_and_the_text_stays(people: People) -> None:
    ann = await people.sign_up("ann")
    await create_room(ann)
    await composer(ann).fill("the full recording, see attached")
    await ann.page.get_by_test_id("file-input").set_input_files(
        files=[
            FilePayload(
                name="recording.wav", mimeType="audio/wav", buffer=b"\0" * (UPLOAD_MAX_BYTES + 1)
            )
        ]
    )
    chip = chips(ann).filter(has_text="recording.wav")
    await expect(chip).to_have_attribute("data-state", "failed")
    await expect(chip.get_by_role("alert")).to_contain_text("Too large to send")
    await expect(composer(ann)).to_have_value("the full recording, see attached")
    await expect(ann.page.get_by_role("button", name="Send")).to_be_disabled()
    await chip.get_by_role("button", name="Remove recording.wav").click()
    await composer(ann).press("Enter")
    await expect(
        ann.page.get_by_test_id("message-body").filter(has_text="the full recording")
    ).to_be_visible()
    await expect(ann.page.get_by_test_id("message").last).to_have_attribute("data-state", "sent")


SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
<script>alert("svg"); console.log("script ran: svg")</script>
<rect width="10" height="10" fill="red"/></svg>"""
HTML = b"""<!doctype html><html><body><h1>hello</h1>
<script>alert("html"); console.log("script ran: html")</script>
<img src="x" onerror="console.log('script ran: onerror')"></body></html>"""


async def test_svg_and_html_files_never_run_their_scripts(
    web_system: WebSystem, people: People
) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    ran: list[str] = []
    for person in (ann, bob):
        person.page.on("console", lambda message: ran.append(message.text))
    await ann.page.get_by_test_id("file-input").set_input_files(
        files=[
            FilePayload(name="logo.svg", mimeType="image/svg+xml", buffer=SVG),
            FilePayload(name="page.html", mimeType="text/html", buffer=HTML),
        ]
    )
    await expect(chips(ann).filter(has_text="page.html")).to_have_attribute("data-state", "ready")
    await expect(chips(ann).filter(has_text="logo.svg")).to_have_attribute("data-state", "ready")
    await composer(ann).fill("two files with scripts")
    await composer(ann).press("Enter")

    files = files_of(bob, "two files with scripts")
    await expect(files.get_by_test_id("file-chip")).to_have_count(2)
    await expect(files.locator("img, object, embed, iframe")).to_have_count(0)

    # Downloading saves them; opening the presigned URL in a tab of its own runs nothing either.
    for name in ("logo.svg", "page.html"):
        async with (
            bob.page.expect_response(lambda r: "/attachments/" in r.url) as answered,
            bob.page.expect_download() as started,
        ):
            await files.get_by_role("button", name=f"Download {name}").click()
        download = await started.value
        assert download.suggested_filename == name
        url = (await (await answered.value).json())["url"]
        assert url.startswith(f"{web_system.origin}/chat-attachments/originals/")
        served = await bob.context.request.get(url)
        assert served.status == 200
        assert served.headers["content-disposition"].startswith("attachment")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        tab = await bob.context.new_page()
        tab.on("dialog", lambda dialog: ran.append(f"dialog: {dialog.message}"))
        tab.on("console", lambda message: ran.append(message.text))
        # The store answers with a download, never a page: nothing renders, nothing runs.
        with pytest.raises(PlaywrightError, match="Download is starting"):
            await tab.goto(url)
        await asyncio.sleep(1)
        await tab.close()
    await asyncio.sleep(0.5)
    assert [line for line in ran if "script ran" in line or line.startswith("dialog")] == []
    for person in (ann, bob):
        assert person.dialogs == []
