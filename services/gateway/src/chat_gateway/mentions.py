"""Which ``@username``s a message body names (pure logic; the room's members among them are
looked up by the sender, ``sending.py``).

A mention is ``@`` followed by a username (3-32 of ``a-z 0-9 _ . -``), where the ``@`` starts
the body or follows a character that cannot be part of a name: ``@alice,`` and ``(@alice)``
name alice, while ``bob@example.com`` names nobody, so an e-mail address or a handle pasted in
a word is never taken for a mention. Usernames are lower-case, so ``@Alice`` names alice too.
A name is the whole run of name characters after the ``@``; a run that ends in ``.`` or ``-``
(``thanks @alice.``) also offers the name without them, since those are punctuation more often
than part of a name, and the lookup keeps whichever belongs to a member.
"""

from __future__ import annotations

import re

# ``@`` not preceded by a word character, ``.``, ``-`` or another ``@``; then the name's run.
_MENTION = re.compile(r"(?<![\w.@-])@([A-Za-z0-9_.-]+)")
_USERNAME = re.compile(r"[a-z0-9_.-]{3,32}")
_TRAILING = ".-"


def mentioned_names(body: str, limit: int) -> list[str]:
    """The distinct usernames ``body`` may mention, in order of first appearance, at most
    ``limit`` of them; empty when the body has no ``@`` (checked first: the usual message
    costs one scan for a character)."""
    if "@" not in body:
        return []
    names: dict[str, None] = {}
    for match in _MENTION.finditer(body):
        run = match.group(1).lower()
        for name in (run, run.rstrip(_TRAILING)):
            if _USERNAME.fullmatch(name):
                names[name] = None
                if len(names) >= limit:
                    return list(names)
    return list(names)


def in_order_of(names: list[str], found: dict[str, str]) -> tuple[str, ...]:
    """The user ids of ``found`` (username → id) in the order the body names them."""
    return tuple(found[name] for name in names if name in found)
