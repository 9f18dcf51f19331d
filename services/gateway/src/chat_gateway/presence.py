"""Presence: who is connected and who is in which room, across every gateway and tab.

A user is online in a room while any of their connections has joined it. Entries expire unless
their gateway's heartbeat touches them, so the entries of a gateway killed with SIGKILL lapse by
themselves and a periodic sweep reports those users offline. Each transition (first join, last
leave, lapse) is reported by exactly one caller, the one whose step made it.

``Presence`` is what sessions, the heartbeat and the announcer need; the app factory chooses
the implementation (``redis_presence.RedisPresence``), and unit tests use an in-memory one.
"""

from __future__ import annotations

from typing import Protocol

import msgspec


class OnlineUser(msgspec.Struct, frozen=True):
    id: str
    name: str


class Member(msgspec.Struct, frozen=True):
    """One connection of a user, as presence knows it."""

    id: str
    name: str
    connection: str


class Presence(Protocol):
    async def admit_connection(self, user_id: str, connection: str, limit: int) -> bool:
        """Count a new connection of the user; False (and not counted) when ``limit`` of them
        are open already, on any gateway."""

    async def enter(self, room: str, member: Member) -> bool:
        """Record the connection in the room; True when the user just came online there."""

    async def leave(self, room: str, member: Member) -> bool:
        """Forget the connection in the room; True when the user just went offline there."""

    async def depart(self, member: Member, rooms: list[str]) -> list[str]:
        """Forget a closed connection everywhere; returns the rooms where the user just went
        offline."""

    async def sweep(self, room: str) -> list[OnlineUser]:
        """Users of ``room`` whose every entry lapsed (their gateway died); each reported once."""

    async def online(self, room: str, limit: int) -> list[OnlineUser]:
        """Up to ``limit`` of the users online in ``room``, by name."""

    async def online_among(self, room: str, user_ids: list[str]) -> set[str]:
        """Which of ``user_ids`` are online in ``room`` (a page of its members), in one step."""

    async def heartbeat(
        self, connections: list[tuple[str, str]], memberships: list[tuple[str, Member]]
    ) -> None:
        """Push the expiry of every local connection (user, connection) and room membership
        forward."""

    async def announcement(self, room: str, user_id: str, interval_ms: int) -> tuple[str, int]:
        """What to announce of the user in ``room`` now: ``online`` or ``offline`` when it
        differs from the last announcement and that one is ``interval_ms`` old, remembered as
        said; else ``""`` and the milliseconds until it may be said (0: nothing new to say)."""
