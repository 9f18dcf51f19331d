"""Authors' read markers waiting to be written: per (author, room), the newest seq stored.

A person has read what they wrote, so every stored message moves its author's marker in its
room up to its seq. Batches are small and most of their messages have an author and room of
their own, so the markers are gathered here and written together (``AuthorMarksFlusher``): a
marker only moves forward, so keeping the highest seq per (author, room) loses nothing of what
the rows it replaces would have said.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from chat_worker.rows import MessageRow

# (author's user id, room)
Author = tuple[str, str]


def newest_by_author(rows: Iterable[MessageRow]) -> dict[Author, int]:
    """The highest seq of each (author, room) among ``rows``."""
    newest: dict[Author, int] = {}
    for row in rows:
        key = (row.user_id, row.room)
        if newest.get(key, 0) < row.seq:
            newest[key] = row.seq
    return newest


class AuthorMarks:
    """At most ``max_entries`` (author, room) marks; a new one beyond that is dropped."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._newest: dict[Author, int] = {}

    def __len__(self) -> int:
        return len(self._newest)

    @property
    def full(self) -> bool:
        return len(self._newest) >= self._max_entries

    def merge(self, marks: Mapping[Author, int]) -> int:
        """Keep the higher seq of each mark; returns how many new ones found no room."""
        newest = self._newest
        dropped = 0
        for key, seq in marks.items():
            known = newest.get(key)
            if known is None:
                if len(newest) >= self._max_entries:
                    dropped += 1
                    continue
                newest[key] = seq
            elif known < seq:
                newest[key] = seq
        return dropped

    def take(self) -> dict[Author, int]:
        """Every mark, leaving none."""
        taken, self._newest = self._newest, {}
        return taken
