"""The web app in Debian's Chromium, through nginx over https and wss, against the real system:
what two people see when they chat, what a message body can never do, and what a person sees
when the gateway their browser is connected to dies."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from playwright.async_api import Locator, expect

from chat_testing import stack
from chat_testing.processes import ServiceProcess
from gateway_harness import ChatClient
from web_harness import PASSWORD, People, Person, WebSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Generous: the first page load also warms every service's caches (JWKS, rooms, connections).
expect.set_options(timeout=20_000)


async def create_room(person: Person) -> str:
    room = f"e2e-{uuid.uuid4().hex[:8]}"
    await person.page.get_by_role("button", name="Create a room").first.click()
    await person.page.get_by_test_id("new-room-name").fill(room)
    await person.page.get_by_test_id("create-room").click()
    await expect(person.page.get_by_test_id("room-title")).to_contain_text(room)
    return room


async def join_room(person: Person, room: str) -> None:
    target = person.page.locator(f"[data-testid=browse-room][data-room='{room}']")
    find = person.page.get_by_test_id("find-room")
    await expect(target.or_(find).first).to_be_visible()
    if not await target.is_visible():  # many public rooms: the sidebar shows a few and a search
        await find.fill(room)
    await target.click()
    await expect(person.page.get_by_test_id("room-title")).to_contain_text(room)


async def say(person: Person, text: str) -> None:
    composer = person.page.get_by_test_id("composer")
    await composer.fill(text)
    await composer.press("Enter")


def message(person: Person, text: str) -> Locator:
    return person.page.get_by_test_id("message").filter(has_text=text)


def body(person: Person, text: str) -> Locator:
    return person.page.get_by_test_id("message-body").filter(has_text=text)


def online(person: Person, name: str) -> Locator:
    return person.page.locator(f"[data-testid=person][data-user='{name}']")


async def test_two_people_chat_in_real_time(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    await expect(online(ann, bob.name)).to_be_visible()
    await expect(online(bob, ann.name)).to_be_visible()

    await say(ann, "hello bob")
    await expect(message(bob, "hello bob")).to_have_attribute("data-own", "false")
    await expect(message(ann, "hello bob")).to_have_attribute("data-own", "true")
    await expect(message(ann, "hello bob")).to_have_attribute("data-state", "sent")

    # Typing shows on the other side; Shift+Enter is a new line, Enter sends.
    composer = bob.page.get_by_test_id("composer")
    await composer.press_sequentially("hi ann", delay=40)
    await expect(ann.page.get_by_test_id("typing")).to_have_text(f"{bob.name} is typing…")
    await composer.press("Shift+Enter")
    await composer.press_sequentially("second line")
    await composer.press("Enter")
    await expect(body(ann, "second line")).to_have_text("hi ann\nsecond line")
    await expect(ann.page.get_by_test_id("typing")).to_have_text("")

    # While bob reads a direct message from ann's name, the room collects an unread badge.
    await online(bob, ann.name).hover()  # "Message" takes room in the list on hover or focus
    await online(bob, ann.name).get_by_role("button", name="Message").click()
    await expect(bob.page.get_by_test_id("room-title")).to_contain_text(ann.name)
    await say(ann, "are you still there?")
    link = bob.page.locator(f"[data-testid=room-link][data-room='{room}']")
    await expect(link.get_by_test_id("unread-badge")).to_have_text("1")
    await link.click()
    await expect(body(bob, "are you still there?")).to_be_visible()
    await expect(link.get_by_test_id("unread-badge")).to_have_count(0)

    assert ann.csp_violations == []
    assert bob.csp_violations == []


async def test_stays_signed_in_until_signing_out(people: People) -> None:
    ann = await people.sign_up("ann")
    status = ann.page.get_by_test_id("connection-status")
    # The access token lives in memory only: a reload signs in again from the refresh cookie.
    await ann.page.reload()
    await expect(ann.page.get_by_test_id("me")).to_have_text(ann.name)
    await expect(status).to_have_attribute("data-state", "online")
    stored = await ann.page.evaluate("JSON.stringify({...localStorage, ...sessionStorage})")
    assert "eyJ" not in stored  # no JWT in web storage

    await ann.page.get_by_test_id("logout").click()
    await expect(ann.page.get_by_role("button", name="Sign in")).to_be_visible()
    await ann.page.reload()
    await expect(ann.page.get_by_role("button", name="Sign in")).to_be_visible()

    await ann.page.fill("input[name=username]", ann.name)
    await ann.page.fill("input[name=password]", "not the password")
    await ann.page.get_by_role("button", name="Sign in").click()
    await expect(ann.page.get_by_role("alert")).to_have_text("Wrong username or password.")
    await ann.page.fill("input[name=password]", PASSWORD)
    await ann.page.get_by_role("button", name="Sign in").click()
    await expect(status).to_have_attribute("data-state", "online")


async def test_message_text_is_never_html(people: People) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    payload = "<img src=x onerror=alert(1)>"
    await say(bob, payload)
    for person in (ann, bob):
        await expect(body(person, payload)).to_have_text(payload)
        await expect(person.page.locator("[data-testid=messages] img")).to_have_count(0)
    # A later message arrives behind it, so an image's error handler would have had its chance.
    await say(ann, "after the payload")
    await expect(body(bob, "after the payload")).to_be_visible()
    assert ann.dialogs == []
    assert bob.dialogs == []


# True when the element's text runs left to right on screen: its first character is drawn left
# of its last.
RUNS_LEFT_TO_RIGHT = """(element) => {
    const text = element.firstChild;
    const range = document.createRange();
    range.setStart(text, 0);
    range.setEnd(text, 1);
    const first = range.getBoundingClientRect().left;
    range.setStart(text, text.length - 1);
    range.setEnd(text, text.length);
    return first < range.getBoundingClientRect().left;
}"""


async def test_a_direction_override_in_a_message_ends_with_it(
    people: People, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ann = await people.sign_up("ann")
    room = await create_room(ann)
    bob = await people.sign_up("bob")
    await join_room(bob, room)
    await say(bob, "\u202egnp.exe is a picture")
    await say(bob, "plain words after it")
    await say(ann, "and a reply")
    for person in (ann, bob):
        spoofed = body(person, "gnp.exe")
        await expect(spoofed).to_have_attribute("dir", "auto")
        assert not await spoofed.evaluate(RUNS_LEFT_TO_RIGHT)  # reversed inside, as written
        for later in ("plain words after it", "and a reply"):
            assert await body(person, later).evaluate(RUNS_LEFT_TO_RIGHT), later
    author = ann.page.locator(".msg-author").filter(has_text=bob.name).first
    assert await author.evaluate("(element) => element.tagName") == "BDI"
    shot = tmp_path_factory.mktemp("bidi") / "direction-override.png"
    await ann.page.screenshot(path=str(shot))


async def gateway_of(person: Person, system: WebSystem) -> ServiceProcess:
    """The gateway a page is connected to: the connection id starts with its node id."""
    status = person.page.get_by_test_id("connection-status")
    await expect(status).to_have_attribute("data-state", "online")
    session = await status.get_attribute("data-session")
    assert session is not None
    node = session.split(":", 1)[0]
    return next(g for g in system.gateways if g.env["CHAT_GATEWAY_NODE_ID"] == node)


async def sign_up_elsewhere(people: People, system: WebSystem, avoid: ServiceProcess) -> Person:
    """Someone connected to another gateway than `avoid`."""
    person = await people.sign_up("bob")
    for _ in range(5):
        if await gateway_of(person, system) is not avoid:
            return person
        # least_conn also counts requests in flight: the page's own room-list request can tie
        # the count at the moment its WebSocket connects. A new connection is placed anew.
        await person.page.reload()
    raise AssertionError("the balancer kept placing both people on one gateway")


# Records every state the connection status shows, as the page renders it.
WATCH_STATUS = """() => {
    const status = document.querySelector("[data-testid=connection-status]");
    window.seenStates = [];
    const note = () => window.seenStates.push([status.dataset.state, status.textContent]);
    new MutationObserver(note).observe(status, {
        attributes: true, childList: true, subtree: true, characterData: true,
    });
}"""


async def test_reconnect_after_gateway_killed(web_system: WebSystem, people: People) -> None:
    ann = await people.sign_up("ann")
    ann_gateway = await gateway_of(ann, web_system)
    room = await create_room(ann)
    bob = await sign_up_elsewhere(people, web_system, ann_gateway)
    await join_room(bob, room)
    await say(bob, "before the crash")
    await expect(body(ann, "before the crash")).to_be_visible()

    await ann.page.evaluate(WATCH_STATUS)
    try:
        await ann_gateway.kill()
        missed = [f"while you were away {n}" for n in range(1, 4)]
        for text in missed:
            await say(bob, text)
        for text in missed:
            await expect(message(bob, text)).to_have_attribute("data-state", "sent")

        await expect(body(ann, missed[-1])).to_be_visible()
        status = ann.page.get_by_test_id("connection-status")
        await expect(status).to_have_attribute("data-state", "online")
        seen = await ann.page.evaluate("window.seenStates")
        assert any(
            state == "reconnecting" and text.startswith("Reconnecting") for state, text in seen
        ), seen
        # Everything once and in order: nothing lost, nothing doubled by the catch-up.
        texts = await ann.page.get_by_test_id("message-body").all_inner_texts()
        assert texts == ["before the crash", *missed]

        await say(bob, "back to normal")
        await expect(body(ann, "back to normal")).to_be_visible()
    finally:
        await ann_gateway.start()


async def test_scroll_back_through_history(web_system: WebSystem, people: People) -> None:
    room = f"e2e-history-{uuid.uuid4().hex[:6]}"
    token = await people.access_token("writer")
    port = web_system.gateways[0].env["CHAT_GATEWAY_WS_PORT"]
    client = await ChatClient.open(
        f"ws://127.0.0.1:{port}/ws", token=token, origin=web_system.origin
    )
    try:
        await client.request("join", room=room)
        for n in range(1, 181):
            await client.request("send", room=room, body=f"history {n}", client_msg_id=f"h{n}")
    finally:
        await client.close()

    reader = await people.sign_up("reader")
    await join_room(reader, room)
    await expect(body(reader, "history 180")).to_be_visible()
    # A virtualized list: only the rows near the view exist in the page.
    assert await reader.page.get_by_test_id("message").count() < 100
    # Scrolling to the top fetches the page before; the view stays on what was read, so the
    # reader scrolls up again, page after page, until the room's very first message.
    start = reader.page.get_by_text("This is the very beginning of the room.")
    await reader.page.get_by_test_id("messages").hover()
    for _ in range(150):
        if await start.is_visible():
            break
        await reader.page.mouse.wheel(0, -100_000)
        await asyncio.sleep(0.2)
    await expect(start).to_be_visible()
    first = reader.page.get_by_test_id("message-body").get_by_text("history 1", exact=True)
    await expect(first).to_be_visible()


@contextlib.asynccontextmanager
async def public_rooms(count: int) -> AsyncIterator[list[str]]:
    """``count`` public rooms made directly in Postgres, one a second further back in time (the
    most recently active first), as a busy deployment has them; deleted afterwards."""
    prefix = f"e2e-many-{uuid.uuid4().hex[:6]}-"
    rooms = [f"{prefix}{n:04d}" for n in range(count)]
    connection = await asyncpg.connect(stack.database_url())
    try:
        await connection.execute(
            "INSERT INTO rooms (id, kind, last_active_at)"
            " SELECT room, 'public', now() - n * interval '1 second'"
            " FROM unnest($1::text[]) WITH ORDINALITY AS listed (room, n)",
            rooms,
        )
        yield rooms
    finally:
        await connection.execute("DELETE FROM rooms WHERE id = ANY($1::text[])", rooms)
        await connection.close()


async def test_thousands_of_public_rooms_leave_the_app_usable(
    people: People, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with public_rooms(3000) as rooms:
        ann = await people.sign_up("ann")
        # The room list has arrived: a page of the directory, and word that there is more.
        await expect(ann.page.get_by_test_id("public-count")).to_have_text("100+")
        await expect(ann.page.get_by_test_id("browse-room")).to_have_count(8)
        await expect(ann.page.get_by_test_id("find-room-hint")).to_have_text(
            "More rooms: type a name to find one."
        )
        # ... and the page answers the person at once.
        await create_room(ann)
        shot = tmp_path_factory.mktemp("directory") / "directory.png"
        await ann.page.screenshot(path=str(shot))

        # The room whose activity lies furthest back is nowhere near the first page: a search
        # for its name finds it.
        far = rooms[-1]
        target = ann.page.locator(f"[data-testid=browse-room][data-room='{far}']")
        await expect(target).to_have_count(0)
        await ann.page.get_by_test_id("find-room").fill(far)
        await expect(target).to_be_visible()
        await ann.page.screenshot(path=str(shot.with_name("found.png")))
        await target.click()
        await expect(ann.page.get_by_test_id("room-title")).to_contain_text(far)
        link = ann.page.locator(f"[data-testid=room-link][data-room='{far}']")
        await expect(link).to_have_attribute("aria-current", "page")
        await say(ann, "found it")
        await expect(message(ann, "found it")).to_have_attribute("data-state", "sent")
