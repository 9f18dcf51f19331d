"""Seed a large deployment into a database of its own: people, rooms, memberships, read markers
and messages, for benchmarks of what a person sees (`loadtests/bench_people.py`).

The database (``chat_people_bench`` by default, never the development database) is created when
missing and migrated to head with ``chat-migrate``. The default shape: 100,000 users; 20,000
public rooms, 10,000 private rooms and 200,000 DMs; 100 users in 1,000 rooms each and the rest
in a few dozen (log-normal, median 20, plus a handful of DMs); room sizes and activity skewed as
in a real deployment (a few rooms with thousands of members and tens of thousands of messages,
most with a few); 10,000,000 messages with bodies of chat-like lengths, about 1 % carrying
``mentions``; read markers for nearly every membership (most rooms read to the end, some a
little behind, a few far behind); ``rooms.last_seq`` and ``last_active_at`` from the messages;
``unread_mentions`` for the mentions above each person's marker.

Everything is drawn from one seeded random generator, so a shape always gives the same data.
Tables are loaded with COPY (messages by several processes at once) with their keys and indexes
dropped, then the keys and indexes are rebuilt from their own definitions, as a bulk load does.
Every seeded user's password is ``SEEDED_PASSWORD`` (one Argon2id hash for all of them).

The shape and the time of each stage are recorded in the table ``bench_seed``: a second run with
the same shape sees a complete seed and does nothing; a run with another shape, or after an
interrupted one, drops the database and seeds it again.

    uv run python loadtests/seed_people.py                  # the full shape, a few minutes
    uv run python loadtests/seed_people.py --users 2000 --messages 100000 --public-rooms 1500 \\
        --private-rooms 500 --dms 4000 --heavy-users 5 --database-name chat_people_small
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
from argon2 import PasswordHasher, Type

from chat_common.settings import LOCAL_DATABASE_URL

REPO = Path(__file__).resolve().parents[1]
DATABASE_NAME = "chat_people_bench"
# The password of every seeded user: the benchmark logs a few of them in through the auth
# service. Hashed once with the auth service's default Argon2id parameters.
SEEDED_PASSWORD = "seeded-person-1"
# The tables the seed loads, in an order their foreign keys allow.
TABLES = ("users", "rooms", "room_members", "read_markers", "messages")
# Rows per COPY chunk: large enough that one chunk's formatting dominates its overhead, small
# enough that a worker holds a few megabytes at a time.
CHUNK_ROWS = 20_000
# Index builds after the load sort whole tables; the server's 64 MB default would spill to disk.
MAINTENANCE_WORK_MEM = "512MB"
DAY_S = 86_400.0


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_NAMES_FIRST = _words(
    "ada alan alice amir ana anna ben bo carla chen chloe dan dara david elena eli emma eva "
    "farah felix finn gita hana hugo ian ines ivan jack jade james jin jo jonas julia kai kara "
    "kim lars lea leo li lina luca lucy maya max mei mia mila nadia nia nils noah nora olga "
    "omar oscar paul pia priya quinn raj rana rosa ruth sam sara sean sofia sven tara tess "
    "theo tom uma vera wei will xin yara yuki zane zoe"
)
_NAMES_LAST = _words(
    "abbott adams ali baker berg brown chen costa cruz diaz dubois evans fischer garcia gupta "
    "hansen hill ito jensen jones kato khan kim klein lee lopez martin meyer miller moreau "
    "murphy nagy nguyen novak okafor olsen park patel perez popov rossi ruiz sato schmidt "
    "silva smith suzuki tanaka taylor walker wang weber white wilson wu yang young zhang"
)
_ROOM_WORDS = _words(
    "general random dev ops design frontend backend infra data ml security release support "
    "sales marketing hiring product mobile web api platform qa docs growth finance legal "
    "rust python golang kotlin swift react postgres kafka redis k8s linux books music movies "
    "games running cycling coffee cooking travel photos pets garden climbing chess memes news "
    "jobs events meetup help announce standup retro oncall incidents builds deploys alerts"
)
_WORDS = _words(
    "the a to and of is it in that for you i on this be with we are was have not but so can "
    "just do if at what my will about get know all like think there one out they up me your "
    "now no yes ok okay thanks thank good great nice sure right well also then when how why "
    "yeah lol hmm maybe really still need want see look looks make made going time today "
    "tomorrow yesterday week later soon back fix fixed bug deploy build test tests merged "
    "review pr branch main release ticket issue prod staging server db query index cache "
    "latency error logs alert meeting call lunch coffee weekend friday monday plan idea "
    "doc docs link slides demo update updated works working broken again first last new old "
    "quick small big team people everyone anyone someone here there agree sounds perfect "
    "tried try check checking done ready wait waiting sorry np cool awesome interesting"
)
_EMOJI = ("🙂", "😂", "👍", "🎉", "🙏", "🔥", "👀", "✅", "😅", "🚀")
_LINKS = (
    "https://example.com/docs/runbook",
    "https://example.org/issues/4821",
    "https://example.net/blog/postgres-indexes",
    "https://example.com/dashboards/latency?from=now-6h",
)
_TOPICS = (
    "Ask anything, be kind",
    "Release coordination; the train leaves Tuesdays",
    "Pictures welcome",
    "Read the pinned runbook before paging",
    "Off-topic is on-topic here",
    "Weekly sync notes and agenda",
)


@dataclass(frozen=True)
class Shape:
    """What is seeded; recorded with the seed, so a different shape is a different seed."""

    users: int = 100_000
    public_rooms: int = 20_000
    private_rooms: int = 10_000
    dms: int = 200_000
    # People in heavy_rooms rooms each (DMs included): the room list's worst case.
    heavy_users: int = 100
    heavy_rooms: int = 1_000
    # Everyone else: group rooms per person, log-normal around this median, plus DMs.
    median_rooms: int = 20
    messages: int = 10_000_000
    mention_share: float = 0.01
    # Bodies are drawn from a pool of this many generated ones (sizes as in chat, not repeats a
    # reader would notice; Postgres stores values this short uncompressed either way).
    body_pool: int = 50_000
    # Rooms were created over this many days before the seed; messages fall in their lifetime.
    history_days: int = 730
    random_seed: int = 20261130

    def parameters(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Plan:
    """Every row of the seed as arrays (users, rooms, memberships, messages), drawn up front."""

    now: float
    user_ids: list[str]
    user_names: list[str]
    user_created: np.ndarray[Any, Any]
    room_ids: list[str]
    room_kind: list[str]
    room_read_only: np.ndarray[Any, Any]
    room_topic: list[str]
    room_owner: np.ndarray[Any, Any]
    room_created: np.ndarray[Any, Any]
    room_last_seq: np.ndarray[Any, Any]
    room_last_active: np.ndarray[Any, Any]
    # Memberships sorted by room, then user: room_members and read_markers.
    member_room: np.ndarray[Any, Any]
    member_user: np.ndarray[Any, Any]
    member_role: np.ndarray[Any, Any]  # 0 member, 1 moderator, 2 owner
    member_added: np.ndarray[Any, Any]
    member_read: np.ndarray[Any, Any]  # -1: no marker row
    # Messages in the order they are loaded (oldest first, as they would have been stored).
    message_room: np.ndarray[Any, Any]
    message_seq: np.ndarray[Any, Any]
    message_author: np.ndarray[Any, Any]
    message_ts: np.ndarray[Any, Any]
    message_body: np.ndarray[Any, Any]
    message_mention: np.ndarray[Any, Any]  # -1: none
    bodies: list[str]


class Stopwatch:
    """Times each stage of the seed and prints it as it ends."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._started = time.perf_counter()

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)

    @property
    def total_s(self) -> float:
        return time.perf_counter() - self._started


class _Stage:
    def __init__(self, watch: Stopwatch, name: str) -> None:
        self._watch, self._name, self._at = watch, name, 0.0

    def __enter__(self) -> None:
        self._at = time.perf_counter()
        print(f"  {self._name} ...", flush=True)

    def __exit__(self, *_: object) -> None:
        took = time.perf_counter() - self._at
        self._watch.stages[self._name] = round(took, 1)
        print(f"  {self._name}: {took:.1f} s", flush=True)


# --- drawing the plan -------------------------------------------------------------------------


def _uuid_strings(rng: np.random.Generator, count: int) -> list[str]:
    """Version-4 UUIDs, as ``str(uuid.uuid4())`` spells them, from the seeded generator."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    text = raw.tobytes().hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def _copy_escape(text: str) -> str:
    """A value as COPY's text format reads it."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def _bodies(rng: np.random.Generator, count: int) -> list[str]:
    """Chat-like bodies: mostly a short sentence, some long, a few with a link, an emoji, a
    second line or a code snippet. Already escaped for COPY."""
    words = np.array(_WORDS)
    lengths = np.clip(np.rint(rng.lognormal(np.log(8), 0.8, count)), 1, 150).astype(int)
    extras = rng.random((count, 4))
    out = []
    for n, length in enumerate(lengths):
        text = " ".join(words[rng.integers(0, len(words), length)])
        text = text[0].upper() + text[1:]
        if extras[n, 0] < 0.03:
            text += "\n" + " ".join(words[rng.integers(0, len(words), 6)])
        if extras[n, 1] < 0.02:
            text += " " + _LINKS[n % len(_LINKS)]
        if extras[n, 2] < 0.08:
            text += " " + _EMOJI[n % len(_EMOJI)]
        if extras[n, 3] < 0.01:
            text += "\n```\nSELECT count(*) FROM messages WHERE room = $1;\n```"
        out.append(_copy_escape(text))
    return out


def _zipf_weights(count: int, exponent: float, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Popularity by rank (1/(rank+10)^exponent), ranks shuffled over the items."""
    weights = 1.0 / (np.arange(count) + 10.0) ** exponent
    rng.shuffle(weights)
    normalised: np.ndarray[Any, Any] = weights / weights.sum()
    return normalised


def draw_plan(shape: Shape, now: float) -> Plan:
    rng = np.random.default_rng(shape.random_seed)
    users = shape.users
    user_ids = _uuid_strings(rng, users)
    first = rng.integers(0, len(_NAMES_FIRST), users)
    last = rng.integers(0, len(_NAMES_LAST), users)
    user_names = [
        f"{_NAMES_FIRST[f]}.{_NAMES_LAST[g]}{n}"
        for n, (f, g) in enumerate(zip(first.tolist(), last.tolist(), strict=True))
    ]
    history_s = shape.history_days * DAY_S
    user_created = now - history_s - rng.random(users) * 60 * DAY_S
    heavy = rng.choice(users, shape.heavy_users, replace=False)
    is_heavy = np.zeros(users, dtype=bool)
    is_heavy[heavy] = True

    # DMs: pairs of distinct people, a heavy person in a few dozen of them.
    wanted = shape.dms
    a = rng.integers(0, users, wanted * 2)
    b = rng.integers(0, users, wanted * 2)
    heavy_dms = max(1, shape.heavy_rooms // 25)
    a[: shape.heavy_users * heavy_dms] = np.repeat(heavy, heavy_dms)
    keep = a != b
    a, b = a[keep], b[keep]
    ids = np.array(user_ids)
    swap = ids[a] > ids[b]  # a dm room is dm:<smaller id>:<larger id>
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    pairs = np.unique(a.astype(np.int64) * users + b, return_index=True)[1]
    pairs = np.sort(pairs)[:wanted]
    dm_a, dm_b = a[pairs], b[pairs]
    dms = len(dm_a)

    # Group rooms: popularity skewed (a few rooms with thousands, most with a few dozen);
    # private rooms a third as popular as public ones.
    groups = shape.public_rooms + shape.private_rooms
    popularity = _zipf_weights(groups, 0.9, rng)
    popularity[shape.public_rooms :] *= 0.3
    popularity /= popularity.sum()
    dm_count = np.bincount(dm_a, minlength=users) + np.bincount(dm_b, minlength=users)
    per_user = np.clip(np.rint(rng.lognormal(np.log(shape.median_rooms), 0.9, users)), 2, 300)
    per_user = per_user.astype(np.int64)
    normal = np.flatnonzero(~is_heavy)
    draws = per_user[normal]
    chosen_rooms = rng.choice(groups, int(draws.sum()), p=popularity)
    chosen_users = np.repeat(normal, draws)
    heavy_rooms = [
        rng.choice(
            groups, max(0, shape.heavy_rooms - int(dm_count[h])), replace=False, p=popularity
        )
        for h in heavy
    ]
    chosen_rooms = np.concatenate([chosen_rooms, *heavy_rooms])
    chosen_users = np.concatenate(
        [chosen_users, *(np.full(len(r), h) for r, h in zip(heavy_rooms, heavy, strict=True))]
    )
    # Every group room has someone: an empty one gets a random person as its owner.
    empty = np.setdiff1d(np.arange(groups), chosen_rooms)
    chosen_rooms = np.concatenate([chosen_rooms, empty])
    chosen_users = np.concatenate([chosen_users, rng.integers(0, users, len(empty))])
    key = np.unique(chosen_rooms.astype(np.int64) * users + chosen_users)
    group_room, group_user = key // users, key % users
    dm_rooms = np.arange(groups, groups + dms)
    member_room = np.concatenate([group_room, np.repeat(dm_rooms, 2)])
    member_user = np.concatenate([group_user, np.column_stack([dm_a, dm_b]).ravel()])
    rooms = groups + dms
    order = np.lexsort((member_user, member_room))
    member_room, member_user = member_room[order], member_user[order]
    members_of = np.bincount(member_room, minlength=rooms)
    member_start = np.concatenate([[0], np.cumsum(members_of)[:-1]])

    # Rooms: ids, kinds, owners (a random member of a group room), creation times.
    words = np.array(_ROOM_WORDS)
    pick = rng.integers(0, len(words), (groups, 2))
    room_ids = [
        f"{words[x]}-{words[y]}-{n:x}" if n < shape.public_rooms else f"team-{words[x]}-{n:x}"
        for n, (x, y) in enumerate(pick.tolist())
    ]
    room_ids += [f"dm:{user_ids[x]}:{user_ids[y]}" for x, y in zip(dm_a, dm_b, strict=True)]
    room_kind = ["public"] * shape.public_rooms + ["private"] * shape.private_rooms
    room_kind += ["dm"] * dms
    room_read_only = np.zeros(rooms, dtype=bool)
    room_read_only[: shape.public_rooms] = rng.random(shape.public_rooms) < 0.01
    topics = rng.integers(0, len(_TOPICS), groups)
    with_topic = rng.random(groups) < 0.3
    room_topic = [_TOPICS[t] if w else "" for t, w in zip(topics, with_topic, strict=True)]
    room_topic += [""] * dms
    owner_pick = member_start + (rng.random(rooms) * members_of).astype(np.int64)
    room_owner = member_user[owner_pick]
    room_owner[groups:] = dm_a
    room_created = now - history_s * rng.random(rooms) ** 0.7 - DAY_S
    member_role = np.zeros(len(member_room), dtype=np.int8)
    member_role[rng.random(len(member_room)) < 0.02] = 1
    member_role[member_room >= groups] = 0
    member_role[owner_pick[:groups]] = 2
    age = now - room_created[member_room]
    member_added = room_created[member_room] + rng.random(len(member_room)) * np.minimum(
        age * 0.1, 7 * DAY_S
    )

    # Messages: activity grows with a room's size and varies a lot between rooms of one size;
    # a tenth of the rooms are silent.
    activity = members_of**0.7 * rng.lognormal(0.0, 1.2, rooms)
    activity[rng.random(rooms) < 0.1] = 0.0
    counts = rng.multinomial(shape.messages, activity / activity.sum())
    total = int(counts.sum())
    message_room = np.repeat(np.arange(rooms), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    message_seq = np.arange(total) - np.repeat(starts, counts) + 1
    lifetime = now - room_created[message_room]
    message_ts = room_created[message_room] + rng.random(total) * lifetime
    # Seqs follow time within a room: sort by (room, time).
    within = np.lexsort((message_ts, message_room))
    message_ts = message_ts[within]
    del within, lifetime
    # Authors: members of the room, some far chattier than others.
    off = member_start[message_room]
    cnt = members_of[message_room]
    slot = (rng.random(total) ** 2 * cnt).astype(np.int64)
    message_author = member_user[off + slot]
    mentioned = (rng.random(total) < shape.mention_share) & (cnt > 1)
    target = (rng.random(total) * cnt).astype(np.int64)
    target = np.where(target == slot, (target + 1) % np.maximum(cnt, 1), target)
    message_mention = np.where(mentioned, member_user[off + target], -1)
    del off, cnt, slot, target, mentioned
    message_body = rng.integers(0, shape.body_pool, total)

    room_last_seq = counts
    last_index = starts + counts - 1
    room_last_active = np.where(counts > 0, message_ts[np.maximum(last_index, 0)], room_created)

    # Read markers: most rooms read to the end, some a little behind, a few far behind, a few
    # never opened; never below the newest message the person wrote (they read what they wrote).
    last = room_last_seq[member_room]
    state = rng.random(len(member_room))
    behind = rng.geometric(1 / 20, len(member_room))
    read = np.where(state < 0.6, last, np.maximum(last - behind, 0))
    far = (state >= 0.9) & (state < 0.97)
    read = np.where(far, (rng.random(len(member_room)) * (last + 1)).astype(np.int64), read)
    read = np.where(state >= 0.97, -1, read)
    authored_key = message_room.astype(np.int64) * users + message_author
    by_key = np.argsort(authored_key, kind="stable")
    keys, first_at = np.unique(authored_key[by_key], return_index=True)
    last_at = np.concatenate([first_at[1:], [len(by_key)]]) - 1
    wrote = message_seq[by_key[last_at]]
    del by_key, authored_key
    member_key = member_room.astype(np.int64) * users + member_user
    found = np.minimum(np.searchsorted(keys, member_key), len(keys) - 1)
    own = np.where(keys[found] == member_key, wrote[found], 0)
    member_read = np.where(own > 0, np.maximum(read, own), read)

    # Loaded oldest first, as the persistence worker would have stored them.
    oldest_first = np.argsort(message_ts, kind="stable")
    return Plan(
        now=now,
        user_ids=user_ids,
        user_names=user_names,
        user_created=user_created,
        room_ids=room_ids,
        room_kind=room_kind,
        room_read_only=room_read_only,
        room_topic=room_topic,
        room_owner=room_owner,
        room_created=room_created,
        room_last_seq=room_last_seq,
        room_last_active=room_last_active,
        member_room=member_room,
        member_user=member_user,
        member_role=member_role,
        member_added=member_added,
        member_read=member_read,
        message_room=message_room[oldest_first].astype(np.int32),
        message_seq=message_seq[oldest_first].astype(np.int32),
        message_author=message_author[oldest_first].astype(np.int32),
        message_ts=message_ts[oldest_first],
        message_body=message_body[oldest_first].astype(np.int32),
        message_mention=message_mention[oldest_first].astype(np.int32),
        bodies=_bodies(rng, shape.body_pool),
    )


# --- rows as COPY text ------------------------------------------------------------------------


def _timestamps(seconds: np.ndarray[Any, Any]) -> list[str]:
    """Epoch seconds as timestamptz text, microseconds, UTC."""
    micros = (seconds * 1e6).astype("datetime64[us]")
    strings: list[str] = np.datetime_as_string(micros, unit="us", timezone="UTC").tolist()
    return strings


def _chunks(rows: int, render: Callable[[int, int], str]) -> Iterator[bytes]:
    for start in range(0, rows, CHUNK_ROWS):
        yield render(start, min(rows, start + CHUNK_ROWS)).encode()


def user_rows(plan: Plan, password_hash: str) -> Iterator[bytes]:
    def render(start: int, end: int) -> str:
        times = _timestamps(plan.user_created[start:end])
        return "".join(
            f"{plan.user_ids[n]}\t{plan.user_names[n]}\t{password_hash}\t{times[n - start]}\n"
            for n in range(start, end)
        )

    return _chunks(len(plan.user_ids), render)


def room_rows(plan: Plan) -> Iterator[bytes]:
    def render(start: int, end: int) -> str:
        created = _timestamps(plan.room_created[start:end])
        active = _timestamps(plan.room_last_active[start:end])
        owners = plan.room_owner[start:end].tolist()
        seqs = plan.room_last_seq[start:end].tolist()
        read_only = plan.room_read_only[start:end].tolist()
        return "".join(
            f"{plan.room_ids[n]}\t{plan.room_kind[n]}\t{'t' if read_only[i] else 'f'}\t"
            f"{plan.user_ids[owners[i]]}\t{created[i]}\t{active[i]}\t{seqs[i]}\t"
            f"{plan.room_topic[n]}\n"
            for i, n in enumerate(range(start, end))
        )

    return _chunks(len(plan.room_ids), render)


_ROLES = ("member", "moderator", "owner")
_NULL = "\\N"  # COPY text for NULL


def member_rows(plan: Plan) -> Iterator[bytes]:
    def render(start: int, end: int) -> str:
        rooms = plan.member_room[start:end].tolist()
        users = plan.member_user[start:end].tolist()
        roles = plan.member_role[start:end].tolist()
        added = _timestamps(plan.member_added[start:end])
        owners = plan.room_owner[plan.member_room[start:end]].tolist()
        # A DM's memberships are made by whoever opens it first: added by nobody.
        added_by = [
            _NULL if plan.room_kind[r] == "dm" else plan.user_ids[o]
            for r, o in zip(rooms, owners, strict=True)
        ]
        return "".join(
            f"{plan.room_ids[r]}\t{plan.user_ids[u]}\t{_ROLES[role]}\t{by}\t{at}\n"
            for r, u, role, by, at in zip(rooms, users, roles, added_by, added, strict=True)
        )

    return _chunks(len(plan.member_room), render)


def marker_rows(plan: Plan) -> Iterator[bytes]:
    def render(start: int, end: int) -> str:
        rooms = plan.member_room[start:end].tolist()
        users = plan.member_user[start:end].tolist()
        reads = plan.member_read[start:end].tolist()
        return "".join(
            f"{plan.user_ids[u]}\t{plan.room_ids[r]}\t{seq}\n"
            for r, u, seq in zip(rooms, users, reads, strict=True)
            if seq >= 0
        )

    return _chunks(len(plan.member_room), render)


def message_rows(plan: Plan, share: int, shares: int) -> Iterator[bytes]:
    """Every ``shares``-th message from the ``share``-th on, oldest first, as COPY text."""
    rng = np.random.default_rng([share, shares])
    picked = np.arange(share, len(plan.message_room), shares)
    for start in range(0, len(picked), CHUNK_ROWS):
        rows = picked[start : start + CHUNK_ROWS]
        ids = _uuid_strings(rng, 2 * len(rows))
        times = _timestamps(plan.message_ts[rows])
        lines = []
        for n, (room, seq, author, body, mention) in enumerate(
            zip(
                plan.message_room[rows].tolist(),
                plan.message_seq[rows].tolist(),
                plan.message_author[rows].tolist(),
                plan.message_body[rows].tolist(),
                plan.message_mention[rows].tolist(),
                strict=True,
            )
        ):
            text = plan.bodies[body]
            mentions = _NULL
            if mention >= 0:
                text = f"@{plan.user_names[mention]} {text}"
                mentions = f"{{{plan.user_ids[mention]}}}"
            lines.append(
                f"{ids[2 * n]}\t{plan.room_ids[room]}\t{seq}\t{plan.user_ids[author]}\t"
                f"{plan.user_names[author]}\t{text}\t{ids[2 * n + 1]}\t{times[n]}\t{mentions}\n"
            )
        yield "".join(lines).encode()


_COLUMNS = {
    "users": ["id", "username", "password_hash", "created_at"],
    "rooms": [
        "id", "kind", "read_only", "created_by", "created_at", "last_active_at", "last_seq",
        "topic",
    ],
    "room_members": ["room", "user_id", "role", "added_by", "added_at"],
    "read_markers": ["user_id", "room", "seq"],
    "messages": [
        "id", "room", "seq", "user_id", "user_name", "body", "client_msg_id", "created_at",
        "mentions",
    ],
}  # fmt: skip


async def _as_async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def copy_rows(database_url: str, table: str, chunks: Iterator[bytes]) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        status = await connection.copy_to_table(
            table, source=_as_async(chunks), columns=_COLUMNS[table], format="text"
        )
    finally:
        await connection.close()
    return int(status.split()[-1])


def _copy_messages(plan: Plan, database_url: str, share: int, shares: int) -> None:
    """One loading process's share of the messages (run in a forked child: the plan is
    inherited, not pickled)."""
    asyncio.run(copy_rows(database_url, "messages", message_rows(plan, share, shares)))


# --- the database -----------------------------------------------------------------------------


def database_url_named(base_url: str, name: str) -> str:
    return base_url.rsplit("/", 1)[0] + f"/{name}"


@dataclass(frozen=True)
class Schema:
    """Keys, uniques, foreign keys and indexes of the seeded tables, as Postgres spells them."""

    foreign_keys: list[tuple[str, str, str]]  # table, name, definition
    keys: list[tuple[str, str, str]]
    indexes: list[tuple[str, str, str]]  # table, name, CREATE INDEX statement


async def read_schema(connection: asyncpg.Connection) -> Schema:
    constraints = await connection.fetch(
        """
        SELECT c.conrelid::regclass::text AS tbl, c.conname, c.contype::text AS contype,
               pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c
        WHERE (c.contype IN ('p', 'u') AND c.conrelid IN (SELECT unnest($1::text[])::regclass))
           -- every foreign key to or from a seeded table: a key cannot go while one leans on it
           OR (c.contype = 'f' AND (c.conrelid IN (SELECT unnest($1::text[])::regclass)
                                    OR c.confrelid IN (SELECT unnest($1::text[])::regclass)))
        ORDER BY c.conname
        """,
        list(TABLES),
    )
    indexes = await connection.fetch(
        """
        SELECT i.indrelid::regclass::text AS tbl, i.indexrelid::regclass::text AS name,
               pg_get_indexdef(i.indexrelid) AS definition
        FROM pg_index i
        WHERE i.indrelid IN (SELECT unnest($1::text[])::regclass)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY name
        """,
        list(TABLES),
    )
    return Schema(
        foreign_keys=[
            (r["tbl"], r["conname"], r["definition"]) for r in constraints if r["contype"] == "f"
        ],
        keys=[
            (r["tbl"], r["conname"], r["definition"]) for r in constraints if r["contype"] != "f"
        ],
        indexes=[(r["tbl"], r["name"], r["definition"]) for r in indexes],
    )


async def drop_schema(connection: asyncpg.Connection, schema: Schema) -> None:
    """Without keys and indexes, COPY appends rows and nothing else; they are built once after."""
    for table, name, _ in schema.foreign_keys + schema.keys:
        await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for _, name, _ in schema.indexes:
        await connection.execute(f'DROP INDEX "{name}"')


async def rebuild_schema(database_url: str, schema: Schema) -> None:
    """Keys and indexes back from their definitions, each table's on a connection of its own
    (the largest first, so the small ones fill in beside it); foreign keys last."""

    async def table_keys(table: str) -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            for owner, name, definition in schema.keys:
                if owner == table:
                    await connection.execute(
                        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                    )
            for owner, _, statement in schema.indexes:
                if owner == table:
                    await connection.execute(statement)
        finally:
            await connection.close()

    await asyncio.gather(*(table_keys(table) for table in reversed(TABLES)))
    connection = await asyncpg.connect(database_url)
    try:
        for table, name, definition in schema.foreign_keys:
            await connection.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    finally:
        await connection.close()


_SEED_TABLE = """
CREATE TABLE IF NOT EXISTS bench_seed (
    id            int PRIMARY KEY CHECK (id = 1),
    parameters    jsonb NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    stages        jsonb NOT NULL DEFAULT '[]',
    figures       jsonb NOT NULL DEFAULT '{}'
)
"""


async def seed_state(database_url: str) -> asyncpg.Record | None:
    """The recorded seed, or None when the database is missing or was never seeded."""
    try:
        connection = await asyncpg.connect(database_url)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        exists = await connection.fetchval("SELECT to_regclass('bench_seed') IS NOT NULL")
        if not exists:
            return None
        return await connection.fetchrow("SELECT * FROM bench_seed WHERE id = 1")
    finally:
        await connection.close()


def complete(state: asyncpg.Record | None, shape: Shape) -> bool:
    return (
        state is not None
        and state["completed_at"] is not None
        and json.loads(state["parameters"]) == shape.parameters()
    )


async def recreate_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "chat_migrations.cli", "upgrade", "head"],
        env={**os.environ, "CHAT_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


async def figures(database_url: str) -> dict[str, Any]:
    """What the seed holds: row counts and sizes, and how people's room counts spread."""
    connection = await asyncpg.connect(database_url)
    try:
        counts = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
            for table in TABLES
        }
        spread = await connection.fetchrow(
            """
            SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n) AS median,
                   percentile_disc(0.99) WITHIN GROUP (ORDER BY n) AS p99,
                   max(n) AS max,
                   count(*) FILTER (WHERE n >= 1000) AS in_1000
            FROM (SELECT count(*) AS n FROM room_members GROUP BY user_id) per_person
            """
        )
        assert spread is not None
        largest = await connection.fetchrow(
            "SELECT max(n) AS members FROM (SELECT count(*) AS n FROM room_members GROUP BY room) r"
        )
        assert largest is not None
        busiest = await connection.fetchval("SELECT max(last_seq) FROM rooms")
        mentions = await connection.fetchval(
            "SELECT count(*) FROM messages WHERE mentions IS NOT NULL"
        )
        sizes = await connection.fetch(
            """
            SELECT relname AS tbl, pg_total_relation_size(oid) AS total
            FROM pg_class WHERE relname = ANY($1::text[]) AND relkind = 'r'
            """,
            list(TABLES),
        )
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await connection.close()
    return {
        "rows": counts,
        "rooms_per_person": dict(spread),
        "largest_room_members": largest["members"],
        "busiest_room_messages": busiest,
        "messages_with_mentions": mentions,
        "table_bytes": {row["tbl"]: row["total"] for row in sizes},
        "database_bytes": size,
    }


# --- the seed ---------------------------------------------------------------------------------


def seed(shape: Shape, database_url: str, admin_url: str, workers: int) -> dict[str, Any]:
    """Seeds the database unless it already holds this shape; returns the recorded seed."""
    name = database_url.rsplit("/", 1)[1]
    state = asyncio.run(seed_state(database_url))
    if complete(state, shape):
        assert state is not None
        print(
            f"{name}: seed complete since {state['completed_at']:%Y-%m-%d %H:%M} UTC; nothing to do"
        )
        return {"stages": json.loads(state["stages"]), "figures": json.loads(state["figures"])}
    watch = Stopwatch()
    print(f"{name}: seeding {json.dumps(shape.parameters())}", flush=True)
    with watch.stage("create and migrate the database"):
        asyncio.run(recreate_database(admin_url, name))
        migrate(database_url)
        schema = asyncio.run(_prepare(database_url, shape))
    with watch.stage("draw the plan (numpy)"):
        plan = draw_plan(shape, time.time())
        hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, type=Type.ID)
        hashed = hasher.hash(SEEDED_PASSWORD)
    with watch.stage(f"COPY messages in {workers} processes beside the other tables"):
        # Forked after the plan is drawn: the children read its arrays without copying them.
        fork = multiprocessing.get_context("fork")
        loaders = [
            fork.Process(target=_copy_messages, args=(plan, database_url, n, workers))
            for n in range(workers)
        ]
        for loader in loaders:
            loader.start()
        asyncio.run(_copy_small(database_url, plan, hashed))
        for loader in loaders:
            loader.join()
        if any(loader.exitcode != 0 for loader in loaders):
            raise RuntimeError("a message loader failed; the next run seeds again")
    with watch.stage("rebuild keys and indexes"):
        asyncio.run(rebuild_schema(database_url, schema))
    with watch.stage("record the unread mentions"):
        asyncio.run(_record_unread_mentions(database_url))
    with watch.stage("VACUUM ANALYZE"):
        asyncio.run(_vacuum(database_url))
    held = asyncio.run(figures(database_url))
    asyncio.run(_finish(database_url, watch, held))
    print(f"{name}: seeded in {watch.total_s:.0f} s; {held['database_bytes'] / 2**30:.2f} GiB")
    return {"stages": [*watch.stages.items(), ("total", round(watch.total_s, 1))], "figures": held}


# What the persistence worker records as it stores a message that mentions people: a row per
# person mentioned above their read marker (migration 0007 backfills the same way).
_UNREAD_MENTIONS = """
INSERT INTO unread_mentions (user_id, room, seq)
SELECT u.user_id, m.room, m.seq
FROM messages m CROSS JOIN LATERAL unnest(m.mentions) AS u (user_id)
LEFT JOIN read_markers k ON k.user_id = u.user_id AND k.room = m.room
WHERE m.mentions IS NOT NULL AND m.seq > COALESCE(k.seq, 0)
ON CONFLICT DO NOTHING
"""


async def _record_unread_mentions(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(_UNREAD_MENTIONS)
    finally:
        await connection.close()


async def _prepare(database_url: str, shape: Shape) -> Schema:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(_SEED_TABLE)
        await connection.execute(
            "INSERT INTO bench_seed (id, parameters) VALUES (1, $1::jsonb)",
            json.dumps(shape.parameters()),
        )
        schema = await read_schema(connection)
        await drop_schema(connection, schema)
    finally:
        await connection.close()
    return schema


async def _copy_small(database_url: str, plan: Plan, password_hash: str) -> None:
    for table, chunks in (
        ("users", user_rows(plan, password_hash)),
        ("rooms", room_rows(plan)),
        ("room_members", member_rows(plan)),
        ("read_markers", marker_rows(plan)),
    ):
        await copy_rows(database_url, table, chunks)


async def _vacuum(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        for table in TABLES:
            await connection.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await connection.close()


async def _finish(database_url: str, watch: Stopwatch, held: dict[str, Any]) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE bench_seed SET completed_at = now(), stages = $1::jsonb, figures = $2::jsonb",
            # Pairs, not an object: jsonb would not keep the stages in their order.
            json.dumps([*watch.stages.items(), ("total", round(watch.total_s, 1))]),
            json.dumps(held, default=int),
        )
    finally:
        await connection.close()


def shape_arguments(parser: argparse.ArgumentParser) -> None:
    """The shape's fields as options (the defaults are the documented seed)."""
    for field in dataclasses.fields(Shape):
        default = field.default
        assert isinstance(default, int | float)
        parser.add_argument(
            f"--{field.name.replace('_', '-')}", type=type(default), default=default
        )
    parser.add_argument(
        "--database-name", default=DATABASE_NAME, help="a database of the seed's own"
    )
    parser.add_argument(
        "--admin-database-url",
        default=os.environ.get("CHAT_DATABASE_URL", LOCAL_DATABASE_URL),
        help="where CREATE DATABASE runs (the seed never writes there)",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="COPY processes")


def shape_of(args: argparse.Namespace) -> Shape:
    return Shape(**{field.name: getattr(args, field.name) for field in dataclasses.fields(Shape)})


def seeded_database(args: argparse.Namespace) -> str:
    """Seeds (when needed) the database the arguments name; returns its URL."""
    if "bench" not in args.database_name:
        raise SystemExit(
            f"{args.database_name!r}: the seed's database must have 'bench' in its name"
        )
    url = database_url_named(args.admin_database_url, args.database_name)
    seed(shape_of(args), url, args.admin_database_url, args.workers)
    return url


def print_figures(recorded: dict[str, Any], out: Callable[[str], None] = print) -> None:
    held = recorded["figures"]
    out("rows: " + ", ".join(f"{table} {count:,}" for table, count in held["rows"].items()))
    out(
        "sizes: "
        + ", ".join(f"{t} {b / 2**20:,.0f} MiB" for t, b in sorted(held["table_bytes"].items()))
        + f"; database {held['database_bytes'] / 2**30:.2f} GiB"
    )
    spread = held["rooms_per_person"]
    out(
        f"rooms per person: median {spread['median']}, p99 {spread['p99']}, max {spread['max']};"
        f" {spread['in_1000']} people in 1,000 or more; largest room"
        f" {held['largest_room_members']:,} members; busiest room"
        f" {held['busiest_room_messages']:,} messages;"
        f" {held['messages_with_mentions']:,} messages with mentions"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shape_arguments(parser)
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    seeded_database(args)
    state = asyncio.run(seed_state(database_url_named(args.admin_database_url, args.database_name)))
    assert state is not None
    print_figures({"figures": json.loads(state["figures"])})
    stages = json.loads(state["stages"])
    print("stages: " + ", ".join(f"{name} {s} s" for name, s in stages))
    print(f"(this run: {(datetime.now(UTC) - started).total_seconds():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
