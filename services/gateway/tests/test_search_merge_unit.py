"""Reading rooms newest first (``search_merge``) and choosing between it and the index
(``search.plan_for``): pure logic, the rooms' messages held in lists."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chat_gateway.search import SearchPlan, plan_for, reads_rooms_whole
from chat_gateway.search_merge import HitKey, NewestFirstMerge, RoomWalk, WindowRead

_T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Stored:
    seq: int
    at: datetime
    hit: bool


class Rooms:
    """Each room's log in seq order, read as the window statement reads it."""

    def __init__(self, logs: dict[str, list[Stored]]) -> None:
        self.logs = logs
        self.read_rooms: list[str] = []

    def read(self, walks: list[RoomWalk]) -> list[WindowRead]:
        found = []
        for walk in walks:
            self.read_rooms.append(walk.room)
            window = [m for m in self.logs[walk.room] if m.seq < walk.below][::-1][: walk.window]
            if window:
                found.append(
                    WindowRead(
                        walk.room,
                        len(window),
                        min(m.seq for m in window),
                        min(m.at for m in window),
                        [(m.at, m.seq) for m in window if m.hit],
                    )
                )
        return found

    def newest(self) -> list[tuple[str, datetime]]:
        return [(room, max(m.at for m in log)) for room, log in self.logs.items() if log]

    def expected(self, limit: int, before: HitKey | None) -> list[HitKey]:
        every = sorted(
            ((m.at, room, m.seq) for room, log in self.logs.items() for m in log if m.hit),
            reverse=True,
        )
        return [key for key in every if before is None or key < before][:limit]


def _merged(
    rooms: Rooms, limit: int, before: HitKey | None = None, first_window: int = 2
) -> NewestFirstMerge:
    merge = NewestFirstMerge(
        rooms.newest(), limit, before, first_window=first_window, max_window=16, rooms_per_round=3
    )
    while walks := merge.next_round():
        merge.record(walks, rooms.read(walks))
    return merge


def _random_rooms(seed: int, rooms: int, density: float) -> Rooms:
    draw = random.Random(seed)
    logs: dict[str, list[Stored]] = {}
    for number in range(rooms):
        at = _T0 - timedelta(days=draw.random() * 30)
        log = []
        for seq in range(1, draw.randint(0, 60) + 1):
            at += timedelta(seconds=draw.randint(0, 3600))  # ties too: 0 s apart
            log.append(Stored(seq, at, draw.random() < density))
        logs[f"room-{number:02d}"] = log
    return Rooms(logs)


# Windows doubling from 2, and rooms read whole in windows of the largest size from the start.
@pytest.mark.parametrize("first_window", [2, 16])
@pytest.mark.parametrize("seed", range(40))
def test_the_newest_hits_over_many_rooms_are_those_of_sorting_every_hit(
    seed: int, first_window: int
) -> None:
    rooms = _random_rooms(seed, rooms=12, density=[0.02, 0.3, 0.9][seed % 3])
    limit = 1 + seed % 7
    assert _merged(rooms, limit, None, first_window).hits() == rooms.expected(limit, None)
    # Every page below a cursor, as the route pages.
    every = rooms.expected(10_000, None)
    before = every[len(every) // 2] if every else None
    merged = _merged(rooms, limit, before, first_window)
    assert merged.hits() == rooms.expected(limit, before)


def test_rooms_older_than_the_pages_oldest_hit_are_never_read() -> None:
    busy = [Stored(seq, _T0 + timedelta(minutes=seq), True) for seq in range(1, 101)]
    old = [Stored(seq, _T0 - timedelta(days=1, minutes=-seq), True) for seq in range(1, 101)]
    logs = {"busy": busy, **{f"old-{n}": old for n in range(20)}}
    rooms = Rooms(logs)
    merge = _merged(rooms, 5)
    assert [key[1:] for key in merge.hits()] == [("busy", seq) for seq in (100, 99, 98, 97, 96)]
    # Busy's windows of 2 and 4, and one window of the 4 old rooms read beside it in the first
    # two rounds (3 rooms a round) before busy's hits showed the old ones can hold none newer.
    assert merge.rows_read == 2 + 4 + 4 * 2
    assert len(set(rooms.read_rooms)) == 1 + 4


def test_a_room_read_to_its_start_is_read_no_further() -> None:
    rooms = Rooms({"small": [Stored(1, _T0, False), Stored(2, _T0, True)]})
    merge = _merged(rooms, 20)
    assert merge.hits() == [(_T0, "small", 2)]
    assert rooms.read_rooms == ["small"]


@pytest.mark.parametrize(
    ("matches", "in_rooms", "plan"),
    [
        # A common word (5 % of the table) over a thousand rooms: a page is ~400 messages.
        (500_000, 1_000_000, SearchPlan.MERGE),
        # Two common words together (0.25 %): ~8,000 messages, still within the reading.
        (25_000, 1_000_000, SearchPlan.MERGE),
        # A word the statistics do not list, over a thousand rooms: the index, which finds a
        # rare one in milliseconds, where the rooms would be read to their start.
        (19_000, 1_000_000, SearchPlan.INDEX),
        # Any word in a few small rooms: reading them whole is cheap.
        (19_000, 3_000, SearchPlan.MERGE),
        (500_000, 300, SearchPlan.MERGE),
        # Rooms larger than the reading's bound, and a word rarer than a page's worth in them.
        (19_000, 50_000, SearchPlan.INDEX),
        # Fewer matches in the table than messages to read.
        (2_000, 5_000, SearchPlan.INDEX),
    ],
)
def test_the_merge_is_chosen_when_it_surely_reads_few_rows(
    matches: float, in_rooms: float, plan: SearchPlan
) -> None:
    chosen = plan_for(20, matches=matches, total=10_000_000, in_rooms=in_rooms, merge_rows=8_000)
    assert chosen is plan


def test_an_unanalyzed_table_is_read_room_by_room_when_the_rooms_are_small() -> None:
    # reltuples is -1 before the first ANALYZE, and an estimate is at least one row.
    assert plan_for(20, matches=1, total=-1, in_rooms=0, merge_rows=8_000) is SearchPlan.MERGE
    assert plan_for(20, matches=1, total=-1, in_rooms=5, merge_rows=8_000) is SearchPlan.INDEX


@pytest.mark.parametrize(
    ("matches", "in_rooms", "whole"),
    [
        # A word the statistics do not list, in 15 rooms of about a thousand messages: fewer
        # than a page of hits is expected in them, so they are read to their start.
        (22_000, 1_083, True),
        # Found nowhere in a small room.
        (1, 300, True),
        # A common word in the same rooms: a page is known after a few hundred messages.
        (660_000, 1_083, False),
        # Two common words over a thousand rooms.
        (43_000, 982_000, False),
    ],
)
def test_rooms_are_read_whole_when_they_hold_less_than_a_page_of_hits(
    matches: float, in_rooms: float, whole: bool
) -> None:
    assert reads_rooms_whole(20, matches=matches, total=10_000_000, in_rooms=in_rooms) is whole


def test_small_rooms_read_whole_take_one_round_where_doubling_windows_take_several() -> None:
    logs = {
        f"room-{n}": [Stored(seq, _T0 + timedelta(minutes=seq), False) for seq in range(1, 15)]
        for n in range(3)
    }
    doubling, whole = Rooms(logs), Rooms(logs)
    assert _merged(doubling, 20, None, first_window=2).hits() == []
    assert _merged(whole, 20, None, first_window=16).hits() == []
    # Windows of 2, 4 and 8 (14 messages a room) against one window of 16.
    assert len(doubling.read_rooms) == 3 * 3
    assert len(whole.read_rooms) == 3
