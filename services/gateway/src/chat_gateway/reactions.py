"""What a reaction may be (docs/protocol.md, ``react``): one grapheme as a person sees it
(``👍``, ``👍🏽``, ``🇫🇷``: several code points each), or a short name like ``:party_parrot:``.

Graphemes follow Unicode's segmentation rules (UAX #29), as the ``regex`` module's ``\\X``
implements them; a grapheme may not be a space, a control, an invisible format character or a
lone combining mark, which would show as nothing or mangle what follows.
"""

from __future__ import annotations

import regex

MAX_EMOJI_BYTES = 32
_SHORT_NAME = regex.compile(r":[a-z0-9_+-]{1,30}:")
_GRAPHEME = regex.compile(r"\X")
# A grapheme that starts with one of these shows nothing by itself; a control has no place in
# any text (chat_common.text).
_INVISIBLE_START = regex.compile(r"[\p{C}\p{Z}\p{M}]")
_CONTROL = regex.compile(r"\p{Cc}")


def emoji_problem(emoji: str) -> str | None:
    """Why ``emoji`` cannot be a reaction, or None when it can."""
    if len(emoji.encode()) > MAX_EMOJI_BYTES:
        return f"emoji must be at most {MAX_EMOJI_BYTES} bytes"
    if _SHORT_NAME.fullmatch(emoji):
        return None
    if (
        _GRAPHEME.fullmatch(emoji) is None
        or _INVISIBLE_START.match(emoji)
        or _CONTROL.search(emoji)
    ):
        return "emoji must be one character as shown (👍, 👍🏽, 🇫🇷) or a :short_name:"
    return None
