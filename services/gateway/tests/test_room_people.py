"""The people routes against the real gateways, Postgres and Redis: the people directory
(GET /v1/users), a room's topic (PATCH /v1/rooms/{room}) and its members with their presence
(GET /v1/rooms/{room}/members)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from gateway_harness import ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The gateways' defaults (settings.py): a people page, its largest, a members page.
PEOPLE_PAGE, PEOPLE_MAX, MEMBERS_PAGE = 20, 50, 100


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


async def _create(system: ChatSystem, token: str, room: str, kind: str = "public") -> None:
    created = await system.http("POST", "/v1/rooms", token, {"name": room, "kind": kind})
    assert created.status_code == 201, created.text


async def _add(system: ChatSystem, token: str, room: str, user_id: str, role: str) -> None:
    added = await system.http(
        "POST", f"/v1/rooms/{room}/members", token, {"user_id": user_id, "role": role}
    )
    assert added.status_code == 201, added.text


# -- the people directory -------------------------------------------------------------------


async def test_the_directory_finds_people_by_the_start_of_their_name_in_name_order(
    system: ChatSystem,
) -> None:
    base = f"pd{uuid.uuid4().hex[:8]}"
    people = [await system.register(f"{base}{suffix}") for suffix in ("b", "a", "_x", "c")]
    _, _, token = await system.person("viewer")

    found = await system.http("GET", "/v1/users", token, params={"prefix": base})
    assert found.status_code == 200, found.text
    expected = sorted(
        ({"id": user_id, "name": name} for user_id, name in people), key=lambda p: p["name"]
    )
    assert found.json() == {"users": expected}

    # Usernames are lower-case: the prefix is matched without regard to case.
    upper = await system.http("GET", "/v1/users", token, params={"prefix": base.upper()})
    assert upper.json() == found.json()
    first_two = await system.http("GET", "/v1/users", token, params={"prefix": base, "limit": 2})
    assert first_two.json()["users"] == expected[:2]
    # "_" is a character of names, not LIKE's any-character.
    underscore = await system.http("GET", "/v1/users", token, params={"prefix": f"{base}_"})
    assert [p["name"] for p in underscore.json()["users"]] == [people[2][1]]
    nobody = await system.http("GET", "/v1/users", token, params={"prefix": f"{base}zz"})
    assert nobody.json() == {"users": []}


async def test_a_directory_page_is_twenty_people_unless_asked_for_up_to_fifty(
    system: ChatSystem, database: asyncpg.Connection
) -> None:
    base = f"pp{uuid.uuid4().hex[:8]}"
    # Accounts written straight to the table: 60 sign-ups would spend a minute hashing.
    rows = [(uuid.uuid4(), f"{base}-{n:03d}") for n in range(60)]
    await database.executemany(
        "INSERT INTO users (id, username, password_hash) VALUES ($1, $2, 'not-a-hash')", rows
    )
    try:
        _, _, token = await system.person("viewer")
        names = [name for _, name in rows]
        page = await system.http("GET", "/v1/users", token, params={"prefix": base})
        assert [p["name"] for p in page.json()["users"]] == names[:PEOPLE_PAGE]
        most = await system.http(
            "GET", "/v1/users", token, params={"prefix": base, "limit": PEOPLE_MAX}
        )
        assert [p["name"] for p in most.json()["users"]] == names[:PEOPLE_MAX]
    finally:
        await database.execute("DELETE FROM users WHERE username LIKE $1", f"{base}-%")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": PEOPLE_MAX + 1}, "at most 50"),
        ({"limit": "many"}, "limit"),
        ({"prefix": "a b"}, "prefix"),
        ({"prefix": "a%"}, "prefix"),
        ({"prefix": "x" * 33}, "prefix"),
    ],
)
async def test_a_bad_directory_query_is_refused_with_the_reason(
    system: ChatSystem, params: dict[str, Any], reason: str
) -> None:
    _, _, token = await system.person("viewer")
    refused = await system.http("GET", "/v1/users", token, params=params)
    assert refused.status_code == 422
    assert refused.json()["code"] == "bad_request"
    assert reason in refused.json()["message"]


async def test_the_directory_is_for_signed_in_people_only(system: ChatSystem) -> None:
    anonymous = await system.http("GET", "/v1/users", None, params={"prefix": "a"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = await system.http("GET", "/v1/users", "not.a.token", params={"prefix": "a"})
    assert forged.status_code == 401


# -- the topic ------------------------------------------------------------------------------


async def test_the_owner_sets_the_topic_and_the_rooms_joined_members_see_it_at_once(
    system: ChatSystem,
) -> None:
    owner_id, owner_name, owner_token = await system.person("owner")
    _, _, member_token = await system.person("member")
    _, _, away_token = await system.person("away")
    room = _room()
    await _create(system, owner_token, room)
    member = await system.client(system.gateways[1], member_token)
    away = await system.client(system.gateways[1], away_token)  # signed in, not joined
    try:
        await member.request("join", room=room)
        topic = "Design reviews — Thursdays 10:00 ✓"
        changed = await system.http("PATCH", f"/v1/rooms/{room}", owner_token, {"topic": topic})
        assert changed.status_code == 200, changed.text
        assert changed.json() == {
            "id": room,
            "name": room,
            "kind": "public",
            "read_only": False,
            "topic": topic,
        }
        await member.wait_for(lambda c: any(e["type"] == "room" for e in c.events), limit_s=2.0)
        assert [e for e in member.events if e["type"] == "room"] == [
            {
                "type": "room",
                "room": room,
                "topic": topic,
                "user": {"id": owner_id, "name": owner_name},
            }
        ]
        await away.request("ping")
        assert not [e for e in away.events if e["type"] == "room"]

        own = await system.http("GET", "/v1/rooms", owner_token)
        found = await system.http("GET", "/v1/rooms", away_token, params={"query": room})
        for listed in (own, found):  # the owner's own room, and a directory entry
            assert {r["id"]: r["topic"] for r in listed.json()["rooms"]}[room] == topic

        cleared = await system.http("PATCH", f"/v1/rooms/{room}", owner_token, {"topic": ""})
        assert cleared.json()["topic"] == ""
    finally:
        await member.close()
        await away.close()


async def test_a_topic_change_is_in_the_audit_trail(system: ChatSystem) -> None:
    owner_id, _, owner_token = await system.person("owner")
    mod_id, _, mod_token = await system.person("mod")
    room = _room()
    await _create(system, owner_token, room, "private")
    await _add(system, owner_token, room, mod_id, "moderator")
    await system.http("PATCH", f"/v1/rooms/{room}", owner_token, {"topic": "first"})
    by_mod = await system.http("PATCH", f"/v1/rooms/{room}", mod_token, {"topic": "second"})
    assert by_mod.status_code == 200, by_mod.text

    trail = (await system.http("GET", f"/v1/rooms/{room}/audit", owner_token)).json()
    topics = [entry for entry in trail["entries"] if entry["action"] == "topic"]
    assert [(entry["actor_id"], _detail(entry)) for entry in topics] == [
        (mod_id, {"topic": "second", "previous": "first"}),
        (owner_id, {"topic": "first", "previous": ""}),
    ]


async def test_a_member_may_not_set_the_topic(system: ChatSystem) -> None:
    _, _, owner_token = await system.person("owner")
    member_id, _, member_token = await system.person("member")
    room = _room()
    await _create(system, owner_token, room, "private")
    await _add(system, owner_token, room, member_id, "member")
    refused = await system.http("PATCH", f"/v1/rooms/{room}", member_token, {"topic": "mine"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    listed = await system.http("GET", "/v1/rooms", member_token)
    assert {r["id"]: r["topic"] for r in listed.json()["rooms"]}[room] == ""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"topic": "x" * 251}, "length <= 250"),
        ({"topic": "line one\nline two"}, "topic"),
        ({"topic": "bell \x07"}, "topic"),
        ({"topic": "gnp.\u202eexe"}, "topic"),
        ({"topic": 7}, "Expected `str`"),
        ({"topic": "ok", "name": "renamed"}, "unknown field"),
        ({}, "nothing to change"),
    ],
)
async def test_a_bad_topic_is_refused_with_the_reason_and_changes_nothing(
    system: ChatSystem, body: dict[str, Any], reason: str
) -> None:
    _, _, owner_token = await system.person("owner")
    room = _room()
    await _create(system, owner_token, room)
    refused = await system.http("PATCH", f"/v1/rooms/{room}", owner_token, body)
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["message"]
    listed = await system.http("GET", "/v1/rooms", owner_token)
    assert {r["id"]: r["topic"] for r in listed.json()["rooms"]}[room] == ""


async def test_the_longest_topic_is_250_characters(system: ChatSystem) -> None:
    _, _, owner_token = await system.person("owner")
    room = _room()
    await _create(system, owner_token, room)
    topic = "é" * 250  # characters, not bytes
    changed = await system.http("PATCH", f"/v1/rooms/{room}", owner_token, {"topic": topic})
    assert changed.status_code == 200, changed.text


async def test_a_dm_or_a_missing_room_has_no_topic_to_set(system: ChatSystem) -> None:
    a_id, _, a_token = await system.person("a")
    b_id, _, _ = await system.person("b")
    dm = f"dm:{min(a_id, b_id)}:{max(a_id, b_id)}"
    for room in (dm, _room()):
        refused = await system.http("PATCH", f"/v1/rooms/{room}", a_token, {"topic": "t"})
        assert refused.status_code == 404, refused.text
    anonymous = await system.http("PATCH", f"/v1/rooms/{_room()}", None, {"topic": "t"})
    assert anonymous.status_code == 401


# -- the members ----------------------------------------------------------------------------


async def test_members_are_listed_with_role_and_presence_a_page_at_a_time(
    system: ChatSystem,
) -> None:
    owner_id, owner_name, owner_token = await system.person("owner")
    mod_id, mod_name, _ = await system.person("mod")
    member_id, member_name, member_token = await system.person("member")
    room = _room()
    await _create(system, owner_token, room, "private")
    await _add(system, owner_token, room, mod_id, "moderator")
    await _add(system, owner_token, room, member_id, "member")
    member = await system.client(system.gateways[1], member_token)
    try:
        await member.request("join", room=room)
        everyone = await system.http("GET", f"/v1/rooms/{room}/members", owner_token)
        assert everyone.status_code == 200, everyone.text
        expected = sorted(
            [
                {"id": owner_id, "name": owner_name, "role": "owner", "online": False},
                {"id": mod_id, "name": mod_name, "role": "moderator", "online": False},
                {"id": member_id, "name": member_name, "role": "member", "online": True},
            ],
            key=lambda m: str(m["id"]),
        )
        assert everyone.json() == {"members": expected, "next_cursor": None}

        pages: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            page = (
                await system.http("GET", f"/v1/rooms/{room}/members", member_token, params=params)
            ).json()
            assert len(page["members"]) == 1
            pages += page["members"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == expected

        await member.request("leave", room=room)
        after = await system.http("GET", f"/v1/rooms/{room}/members", owner_token)
        assert not any(m["online"] for m in after.json()["members"])
    finally:
        await member.close()


async def test_a_private_rooms_or_a_dms_members_are_for_its_members_only(
    system: ChatSystem,
) -> None:
    a_id, a_name, a_token = await system.person("a")
    b_id, b_name, _ = await system.person("b")
    _, _, outsider_token = await system.person("outsider")
    room = _room()
    await _create(system, a_token, room, "private")
    dm = f"dm:{min(a_id, b_id)}:{max(a_id, b_id)}"
    for private in (room, dm):
        refused = await system.http("GET", f"/v1/rooms/{private}/members", outsider_token)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
    pair = await system.http("GET", f"/v1/rooms/{dm}/members", a_token)
    assert pair.json()["members"] == sorted(
        [
            {"id": a_id, "name": a_name, "role": "member", "online": False},
            {"id": b_id, "name": b_name, "role": "member", "online": False},
        ],
        key=lambda m: str(m["id"]),
    )
    missing = await system.http("GET", f"/v1/rooms/{_room()}/members", a_token)
    assert missing.status_code == 404
    anonymous = await system.http("GET", f"/v1/rooms/{room}/members", None)
    assert anonymous.status_code == 401


async def test_a_public_rooms_members_are_those_with_a_membership_and_anyone_may_look(
    system: ChatSystem,
) -> None:
    owner_id, owner_name, owner_token = await system.person("owner")
    member_id, member_name, _ = await system.person("member")
    _, _, passer_token = await system.person("passer")
    room = _room()
    await _create(system, owner_token, room)
    await _add(system, owner_token, room, member_id, "member")
    listed = await system.http("GET", f"/v1/rooms/{room}/members", passer_token)
    assert listed.status_code == 200, listed.text
    assert {(m["id"], m["name"], m["role"]) for m in listed.json()["members"]} == {
        (owner_id, owner_name, "owner"),
        (member_id, member_name, "member"),
    }


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": MEMBERS_PAGE + 1}, "at most 100"),
        ({"cursor": "not/one"}, "cursor"),
        ({"cursor": ""}, "cursor"),
    ],
)
async def test_a_bad_members_query_is_refused_with_the_reason(
    system: ChatSystem, params: dict[str, Any], reason: str
) -> None:
    _, _, owner_token = await system.person("owner")
    room = _room()
    await _create(system, owner_token, room)
    refused = await system.http("GET", f"/v1/rooms/{room}/members", owner_token, params=params)
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["message"]


def _detail(entry: dict[str, Any]) -> Any:
    detail = entry["detail"]
    return json.loads(detail) if isinstance(detail, str) else detail
