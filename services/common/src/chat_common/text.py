"""Which characters user text may carry, decided once for every service.

Message bodies are a person's words in any script: direction marks and zero-width joiners are
part of writing Arabic, Hebrew or an emoji family, so bodies keep them and clients isolate each
message's direction (``dir="auto"``, ``<bdi>``). Control characters other than tab and newline
have no place in any text: they corrupt terminals and logs downstream. Single-line labels shown
beside other people's words (a ban reason, a topic) refuse direction overrides and invisible
characters too, since there they are only good for spoofing ("gnp.exe" that reads "exe.png").
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and the C1 controls.
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"
# Arabic letter mark, zero-width space/non-joiner/joiner, LRM/RLM, bidi embeddings and
# overrides, word joiner and invisible operators, bidi isolates, and the byte-order mark.
_INVISIBLE = "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"

BODY_FORBIDDEN = re.compile(f"[{_CONTROLS}]")
# A pattern (for msgspec.Meta) of one line of plain, visible text.
PLAIN_LINE = f"^[^\\t\\n{_CONTROLS}{_INVISIBLE}]*$"


def body_problem(body: str) -> str | None:
    """Why ``body`` cannot be a message, or None when it can."""
    if BODY_FORBIDDEN.search(body):
        return "body contains control characters other than \\n and \\t"
    return None
