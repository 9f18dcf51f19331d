"""Generated runs of commands with hostile field values against a gateway wired as in
production over the in-memory stand-ins: whatever a client sends, its connection stays open,
every command with an id is answered exactly once, nothing fails inside the gateway, and a
normal message still goes through afterwards (docs/security.md, "Fuzzing")."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from memory_gateway import Chat, Client, MemoryGateway

ROOM = "lobby"
# Placeholders for what exists only once the gateway runs: the caller's own token and messages.
OWN_TOKEN, OTHER_TOKEN = "<own token>", "<other token>"
OWN_MESSAGE, OTHERS_MESSAGE, ELSEWHERE = "<own message>", "<others message>", "<elsewhere>"

WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# A command id of a type the contract does not allow (ids are strings or integers): an integer
# here would be a valid id, and could be the id of one of the test's own commands.
WRONG_IDS = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "bell\x07",
            "line\r\nbreak",
            "\u202eevil",
            "\u200b",
            "Z\u0351\u0352\u0353\u0354" * 50,
            "👍" * 2_000,
            "x" * 4_000,
            "x" * 4_001,
            "x" * 70_000,
        ]
    ),
)
ROOMS = st.one_of(
    st.just(ROOM),
    st.sampled_from(
        [
            "lobby",
            "elsewhere",
            "never-joined",
            "dm:ada:bob",
            "dm:bob:carol",
            "Bad Room",
            "",
            "a" * 65,
        ]
    ),
)
MESSAGE_IDS = st.sampled_from(
    [
        OWN_MESSAGE,
        OTHERS_MESSAGE,
        ELSEWHERE,
        "00000000-0000-4000-8000-000000000000",
        "nope",
        "",
    ]
)
EMOJI = st.one_of(
    st.sampled_from(
        ["👍", "🎉", "❤️", ":tada:", "not one", "", "👍👍", "\x00", "🇺🇳", "👨‍👩‍👧", "a" * 40]
    ),
    st.text(max_size=3),
)
SEQS = st.one_of(
    st.integers(min_value=-5, max_value=50), st.integers(min_value=-(2**70), max_value=2**70)
)
TOKENS = st.one_of(st.sampled_from([OWN_TOKEN, OTHER_TOKEN, "", "not.a.jwt"]), st.text(max_size=20))


def _field(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Mostly values of the right type, so runs reach the handlers and not only the decoder.
    return st.one_of(values, values, values, WRONG_TYPES)


def _command(kind: str, required: dict[str, Any], optional: dict[str, Any] | None = None) -> Any:
    return st.tuples(
        st.just(kind),
        st.fixed_dictionaries(
            {name: _field(values) for name, values in required.items()},
            optional={name: _field(values) for name, values in (optional or {}).items()},
        ),
    )


ACTION = {"room": ROOMS, "message_id": MESSAGE_IDS, "client_msg_id": TEXTS}
COMMANDS = st.one_of(
    _command(
        "send", {"room": ROOMS, "body": TEXTS, "client_msg_id": TEXTS}, {"reply_to": MESSAGE_IDS}
    ),
    _command("edit", {**ACTION, "body": TEXTS}),
    _command("delete", ACTION),
    _command("react", {**ACTION, "emoji": EMOJI}),
    _command("join", {"room": ROOMS}, {"since": SEQS}),
    _command("leave", {"room": ROOMS}),
    _command("history", {"room": ROOMS}, {"before": SEQS, "limit": SEQS}),
    _command("read", {"room": ROOMS, "seq": SEQS}),
    _command("typing", {"room": ROOMS}),
    _command("presence", {"room": ROOMS}),
    _command("ping", {}),
    _command("connect", {"token": TOKENS}),
    _command("refresh", {"token": TOKENS}),
    _command("dance", {}, {"room": ROOMS}),
)


@dataclass(frozen=True)
class Frame:
    kind: str
    fields: dict[str, Any]
    # "number"/"text": a unique id of that type; "none": no id; "wrong": an id of a wrong type.
    id_form: str
    wrong_id: Any
    raw: str | None  # text sent as it is instead of a command


FRAMES = st.one_of(
    COMMANDS.flatmap(
        lambda command: st.builds(
            Frame,
            st.just(command[0]),
            st.just(command[1]),
            st.sampled_from(["number", "number", "text", "none", "wrong"]),
            WRONG_IDS,
            st.none(),
        )
    ),
    st.builds(Frame, st.just(""), st.just({}), st.just("none"), st.none(), TEXTS),
)


class _Failures(logging.Handler):
    """Every error the gateway logs: an unhandled exception in a command or a task."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _resolve(value: Any, known: dict[str, str]) -> Any:
    return known.get(value, value) if isinstance(value, str) else value


async def _run(frames: list[Frame]) -> None:
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        ada = await gateway.connect("ada")
        bob = await gateway.connect("bob")
        for client in (ada, bob):
            await client.request("join", room=ROOM)
        known = {
            OWN_TOKEN: chat.token("ada"),
            OTHER_TOKEN: chat.token("bob"),
            OWN_MESSAGE: await _sent(ada, ROOM, "mine"),
            OTHERS_MESSAGE: await _sent(bob, ROOM, "theirs"),
            ELSEWHERE: await _sent(bob, "elsewhere", "over there"),
        }
        answered = _answered_ids(ada)
        expected = [_submit(ada, n, frame, known) for n, frame in enumerate(frames)]
        # Commands of a connection run in order: once this is answered, all before it are.
        last = await ada.request("ping")
        assert last["type"] == "reply", last

        assert ada.transport.closed is None, ada.transport.closed
        assert not ada.session.closed
        counts = _answered_ids(ada)
        for command_id in answered:
            counts[command_id] -= 1
        for command_id in filter(None, expected):
            assert counts.get(command_id) == 1, (command_id, ada.arrivals)
        internal = [f for f in ada.arrivals if f["type"] == "error" and f["code"] == "internal"]
        assert internal == []
        failed = gateway.ctx.metrics.registry.get_sample_value("chat_gateway_task_failures_total")
        assert not failed

        after = await ada.request("send", room=ROOM, body="still here", client_msg_id="after")
        assert after["type"] == "reply", after
        assert after["message"]["body"] == "still here"


def _submit(client: Client, n: int, frame: Frame, known: dict[str, str]) -> Any:
    """Hands ``frame`` in; returns the id its answer must carry, or None."""
    if frame.raw is not None:
        client.session.receive(frame.raw)
        return None
    fields = {name: _resolve(value, known) for name, value in frame.fields.items()}
    command_id: Any = {"number": n + 1_000, "text": f"f{n}", "none": None}.get(
        frame.id_form, frame.wrong_id
    )
    if command_id is not None:
        fields["id"] = command_id
    client.session.receive(msgspec.json.encode({"type": frame.kind, **fields}).decode())
    return command_id if frame.id_form in ("number", "text") else None


def _answered_ids(client: Client) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for frame in client.arrivals:
        if frame["type"] in ("reply", "error") and "id" in frame:
            key = frame["id"]
            if isinstance(key, str | int):
                counts[key] = counts.get(key, 0) + 1
    return counts


async def _sent(client: Client, room: str, body: str) -> str:
    reply = await client.request("send", room=room, body=body, client_msg_id=body)
    assert reply["type"] == "reply", reply
    message_id: str = reply["message"]["id"]
    return message_id


@settings(max_examples=max(10, settings().max_examples // 4))
@given(st.lists(FRAMES, min_size=1, max_size=8))
def test_hostile_commands_are_each_answered_and_the_connection_stays_usable(
    frames: list[Frame],
) -> None:
    failures = _Failures()
    gateway_log = logging.getLogger("chat_gateway")
    gateway_log.addHandler(failures)
    try:
        asyncio.run(_run(frames))
    finally:
        gateway_log.removeHandler(failures)
    assert [record.getMessage() for record in failures.records] == []
