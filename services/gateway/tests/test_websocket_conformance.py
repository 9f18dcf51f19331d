"""RFC 6455 conformance of the gateway's WebSocket endpoint, by the categories of the Autobahn
TestSuite that apply to a server: each case sends frames byte by byte (``raw_websocket``),
checks the close code the gateway answers with, and that the gateway still serves a new
connection afterwards. Where the gateway departs from an echo server on purpose
(docs/protocol.md: text frames only, binary closes with 1003) the documented behaviour is what
is checked. The table of categories and results is in docs/reliability.md."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import msgspec
import pytest
import pytest_asyncio

from gateway_harness import ChatSystem
from raw_websocket import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    Frame,
    RawWebSocket,
    close_payload,
    encode_frame,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The frame limit of the gateway under test: the setting's default, 64 KiB.
LIMIT = 65_536


@dataclass
class Endpoint:
    host: str
    port: int
    sign: Callable[[str, str], str]
    opened: list[RawWebSocket] = field(default_factory=list)

    async def open(self, headers: dict[str, str] | None = None) -> RawWebSocket:
        ws = await RawWebSocket.open(self.host, self.port, headers=headers)
        self.opened.append(ws)
        return ws

    async def connected(self) -> RawWebSocket:
        """A socket whose session is signed in, as a new user."""
        ws = await self.open()
        user = f"conformance-{uuid.uuid4().hex[:10]}"
        await ws.send(TEXT, command("connect", 1, token=self.sign(user, user)))
        reply = await reply_to(ws, 1)
        assert reply["type"] == "reply", reply
        return ws


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sign(system: ChatSystem) -> Callable[[str, str], str]:
    return await system.token_signer()


@pytest_asyncio.fixture(loop_scope="session")
async def endpoint(system: ChatSystem, sign: Callable[[str, str], str]) -> AsyncIterator[Endpoint]:
    """The WebSocket port of a gateway of the system, with the default frame limit."""
    served = Endpoint("127.0.0.1", int(system.gateways[0].env["CHAT_GATEWAY_WS_PORT"]), sign)
    try:
        yield served
        await assert_healthy(served)  # whatever the case did, the next connection is served
    finally:
        for ws in served.opened:
            await ws.close()


_ids = itertools.count(100)


def command(kind: str, command_id: int, **fields: object) -> bytes:
    return msgspec.json.encode({"type": kind, "id": command_id, **fields})


def padded_ping(command_id: int, size: int) -> bytes:
    """A ``ping`` command of exactly ``size`` bytes: JSON allows the padding as whitespace."""
    text = command("ping", command_id)
    assert len(text) <= size
    return text + b" " * (size - len(text))


async def reply_to(ws: RawWebSocket, command_id: int) -> dict[str, object]:
    while True:
        frame = await ws.next_data()
        assert frame.opcode == TEXT, f"closed instead of answering: {frame}"
        event: dict[str, object] = msgspec.json.decode(frame.payload)
        if event.get("id") == command_id:
            return event


async def answers_ping(ws: RawWebSocket) -> None:
    command_id = next(_ids)
    await ws.send(TEXT, command("ping", command_id))
    assert (await reply_to(ws, command_id))["type"] == "reply"


async def assert_healthy(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await answers_ping(ws)


async def assert_closes(ws: RawWebSocket, code: int) -> Frame:
    frame = await ws.closed_with()
    assert frame.close_code == code, f"closed with {frame.close_code} {frame.close_reason!r}"
    return frame


# -- 1 framing ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [32, 125, 126, 127, 128, 65_535, LIMIT])
async def test_1_text_messages_at_every_length_encoding_boundary_are_served(
    endpoint: Endpoint, size: int
) -> None:
    ws = await endpoint.connected()
    await ws.send(TEXT, padded_ping(7, size))
    assert (await reply_to(ws, 7))["type"] == "reply"


async def test_1_an_empty_text_message_is_a_malformed_command_not_a_protocol_error(
    endpoint: Endpoint,
) -> None:
    ws = await endpoint.connected()
    await ws.send(TEXT, b"")
    error = msgspec.json.decode((await ws.next_data()).payload)
    assert error["code"] == "bad_request"
    await answers_ping(ws)


async def test_1_a_message_written_in_small_tcp_chunks_is_served(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    data = encode_frame(TEXT, padded_ping(8, LIMIT))
    for start in range(0, len(data), 997):  # Autobahn 1.1.8's chunk size
        await ws.send_bytes(data[start : start + 997])
    assert (await reply_to(ws, 8))["type"] == "reply"


@pytest.mark.parametrize("size", [0, 125, LIMIT])
async def test_1_binary_messages_close_with_1003_as_documented(
    endpoint: Endpoint, size: int
) -> None:
    ws = await endpoint.connected()
    await ws.send(BINARY, b"\xfe" * size)
    await assert_closes(ws, 1003)


# -- 2 pings and pongs ----------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"hello", bytes(range(125)), b"\x00\xff" * 62])
async def test_2_a_ping_is_answered_by_a_pong_with_its_payload(
    endpoint: Endpoint, payload: bytes
) -> None:
    ws = await endpoint.connected()
    await ws.send(PING, payload)
    assert await ws.receive() == Frame(PONG, True, payload)


async def test_2_pings_sent_at_once_are_each_answered_in_order(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await ws.send_bytes(b"".join(encode_frame(PING, b"%d" % n) for n in range(10)))
    assert [await ws.receive() for _ in range(10)] == [
        Frame(PONG, True, b"%d" % n) for n in range(10)
    ]


@pytest.mark.parametrize("payload", [b"", b"unsolicited"])
async def test_2_an_unsolicited_pong_is_ignored(endpoint: Endpoint, payload: bytes) -> None:
    ws = await endpoint.connected()
    await ws.send(PONG, payload)
    await answers_ping(ws)


async def test_2_a_ping_over_125_bytes_closes_with_1002(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await ws.send(PING, b"x" * 126)
    await assert_closes(ws, 1002)


async def test_2_a_fragmented_ping_closes_with_1002(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await ws.send(PING, b"frag", fin=False)
    await ws.send(CONTINUATION, b"ment")
    await assert_closes(ws, 1002)


# -- 3 reserved bits ------------------------------------------------------------------------


@pytest.mark.parametrize("rsv", range(1, 8))
@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING, CLOSE])
async def test_3_a_reserved_bit_without_an_extension_closes_with_1002(
    endpoint: Endpoint, rsv: int, opcode: int
) -> None:
    ws = await endpoint.connected()
    payload = close_payload(1000) if opcode == CLOSE else command("ping", 9)
    await ws.send(opcode, payload, rsv=rsv)
    await assert_closes(ws, 1002)


async def test_3_a_reserved_bit_after_a_good_message_closes_with_1002(
    endpoint: Endpoint,
) -> None:
    ws = await endpoint.connected()
    await answers_ping(ws)
    await ws.send(TEXT, b"{}", rsv=1)
    await ws.send(PING, b"after")  # never answered: the connection failed before it
    await assert_closes(ws, 1002)


# -- 4 opcodes ------------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
async def test_4_a_reserved_opcode_closes_with_1002(endpoint: Endpoint, opcode: int) -> None:
    ws = await endpoint.connected()
    await ws.send(opcode, b"reserved")
    await assert_closes(ws, 1002)


# -- 5 fragmentation ------------------------------------------------------------------------


async def test_5_a_text_message_in_fragments_with_pings_between_is_served(
    endpoint: Endpoint,
) -> None:
    ws = await endpoint.connected()
    text = padded_ping(11, 300)
    await ws.send(TEXT, text[:100], fin=False)
    await ws.send(PING, b"one")
    await ws.send(CONTINUATION, text[100:200], fin=False)
    await ws.send(PING, b"two")
    await ws.send(CONTINUATION, text[200:])
    assert await ws.receive() == Frame(PONG, True, b"one")
    assert await ws.receive() == Frame(PONG, True, b"two")
    assert (await reply_to(ws, 11))["type"] == "reply"


async def test_5_empty_fragments_are_served(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await ws.send(TEXT, b"", fin=False)
    await ws.send(CONTINUATION, command("ping", 12), fin=False)
    await ws.send(CONTINUATION, b"")
    assert (await reply_to(ws, 12))["type"] == "reply"


@pytest.mark.parametrize("fin", [True, False])
async def test_5_a_continuation_with_no_message_to_continue_closes_with_1002(
    endpoint: Endpoint, fin: bool
) -> None:
    ws = await endpoint.connected()
    await ws.send(CONTINUATION, b"orphan", fin=fin)
    await assert_closes(ws, 1002)


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
async def test_5_a_new_data_frame_inside_a_fragmented_message_closes_with_1002(
    endpoint: Endpoint, opcode: int
) -> None:
    ws = await endpoint.connected()
    await ws.send(TEXT, b'{"type":', fin=False)
    await ws.send(opcode, b'"ping"}')
    await assert_closes(ws, 1002)


async def test_5_a_fragmented_binary_message_closes_with_1003_as_documented(
    endpoint: Endpoint,
) -> None:
    ws = await endpoint.connected()
    await ws.send(BINARY, b"\x01", fin=False)
    await ws.send(CONTINUATION, b"\x02")
    await assert_closes(ws, 1003)


# -- 6 UTF-8 --------------------------------------------------------------------------------

_INVALID_UTF8 = [
    b"\xff",  # never valid
    b"\xc0\xaf",  # overlong "/"
    b"\xed\xa0\x80",  # a surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xce\xba\xe1\xbd",  # a sequence cut short at the end
    b"\x80",  # a continuation byte alone
]


@pytest.mark.parametrize("bad", _INVALID_UTF8)
async def test_6_invalid_utf8_in_one_frame_closes_with_1007(endpoint: Endpoint, bad: bytes) -> None:
    ws = await endpoint.connected()
    await ws.send(TEXT, b'{"type":"ping","x":"' + bad + b'"}')
    await assert_closes(ws, 1007)


@pytest.mark.parametrize("bad", _INVALID_UTF8)
async def test_6_invalid_utf8_split_across_fragments_closes_with_1007(
    endpoint: Endpoint, bad: bytes
) -> None:
    ws = await endpoint.connected()
    text = b'{"type":"ping","x":"' + bad + b'"}'
    cut = text.index(bad) + 1
    await ws.send(TEXT, text[:cut], fin=False)
    await ws.send(CONTINUATION, text[cut:])
    await assert_closes(ws, 1007)


@pytest.mark.parametrize("bad", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])
async def test_6_invalid_utf8_closes_with_1007_at_its_fragment_not_at_the_end_of_the_message(
    endpoint: Endpoint, bad: bytes
) -> None:
    # Autobahn's "fail fast": the message never ends, and the close comes anyway.
    ws = await endpoint.connected()
    await ws.send(TEXT, b'{"type":"ping","x":"', fin=False)
    await ws.send(CONTINUATION, bad + b"more to come", fin=False)
    await assert_closes(ws, 1007)


async def test_6_valid_multibyte_characters_split_inside_themselves_are_served(
    endpoint: Endpoint,
) -> None:
    ws = await endpoint.connected()
    text = msgspec.json.encode({"type": "ping", "id": 13, "x": "κόσμε €𝄞"})
    # One byte per fragment: every multi-byte character is cut in every place it can be.
    await ws.send(TEXT, text[:1], fin=False)
    for n in range(1, len(text) - 1):
        await ws.send(CONTINUATION, text[n : n + 1], fin=False)
    await ws.send(CONTINUATION, text[-1:])
    assert (await reply_to(ws, 13))["type"] == "reply"


# -- 7 close handling -----------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011])
async def test_7_a_close_with_a_valid_code_is_answered_with_the_same_code_and_reason(
    endpoint: Endpoint, code: int
) -> None:
    ws = await endpoint.connected()
    await ws.send(CLOSE, close_payload(code, "bye ✓".encode()))
    frame = await ws.receive()
    assert frame == Frame(CLOSE, True, close_payload(code, "bye ✓".encode()))
    assert await ws.reader.read() == b""


@pytest.mark.parametrize("code", [1012, 1013, 1014, 3000, 3999, 4000, 4999])
async def test_7_a_close_with_an_application_or_later_registered_code_is_echoed(
    endpoint: Endpoint, code: int
) -> None:
    ws = await endpoint.connected()
    await ws.send(CLOSE, close_payload(code))
    assert await ws.receive() == Frame(CLOSE, True, close_payload(code))


async def test_7_an_empty_close_is_answered_with_1000(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await ws.send(CLOSE, b"")
    assert await ws.receive() == Frame(CLOSE, True, close_payload(1000))
    assert await ws.reader.read() == b""


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
)
async def test_7_a_close_with_an_invalid_code_is_answered_with_1002(
    endpoint: Endpoint, code: int
) -> None:
    ws = await endpoint.connected()
    await ws.send(CLOSE, close_payload(code))
    await assert_closes(ws, 1002)


async def test_7_a_close_payload_of_one_byte_is_answered_with_1002(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await ws.send(CLOSE, b"\x03")
    await assert_closes(ws, 1002)


async def test_7_a_close_reason_of_invalid_utf8_is_answered_with_1007(
    endpoint: Endpoint,
) -> None:
    ws = await endpoint.connected()
    await ws.send(CLOSE, close_payload(1000, b"bye \xff"))
    await assert_closes(ws, 1007)


async def test_7_a_close_reason_of_the_full_123_bytes_is_echoed(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await ws.send(CLOSE, close_payload(1000, b"r" * 123))
    assert await ws.receive() == Frame(CLOSE, True, close_payload(1000, b"r" * 123))


@pytest.mark.parametrize("after", [TEXT, PING, PONG, BINARY])
async def test_7_frames_after_the_close_are_ignored(endpoint: Endpoint, after: int) -> None:
    ws = await endpoint.connected()
    late = encode_frame(after, command("ping", 14))
    await ws.send_bytes(encode_frame(CLOSE, close_payload(1000)) + late)
    assert await ws.receive() == Frame(CLOSE, True, close_payload(1000))
    assert await ws.reader.read() == b""  # no reply, no pong, no other close


async def test_7_a_second_close_sent_with_the_first_is_a_protocol_error_as_documented(
    endpoint: Endpoint,
) -> None:
    # picows checks each frame as it parses it, one frame ahead of handing it over: the second
    # close is refused before the first is answered (docs/protocol.md, "Close codes").
    ws = await endpoint.connected()
    twice = encode_frame(CLOSE, close_payload(1000))
    await ws.send_bytes(twice + twice)
    refusal = await ws.receive()
    assert refusal is not None
    assert (refusal.opcode, refusal.close_code) == (CLOSE, 1002)
    assert await ws.reader.read() == b""


# -- 9 limits -------------------------------------------------------------------------------


async def test_9_a_frame_over_the_limit_closes_with_1009_before_its_payload_arrives(
    endpoint: Endpoint,
) -> None:
    ws = await endpoint.connected()
    # The header alone promises a megabyte: the close comes without waiting for a byte of it.
    await ws.send_bytes(encode_frame(TEXT, b"", claimed_length=1 << 20))
    await assert_closes(ws, 1009)


async def test_9_a_frame_one_byte_over_the_limit_closes_with_1009(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    await ws.send(TEXT, padded_ping(15, LIMIT + 1))
    await assert_closes(ws, 1009)


async def test_9_a_fragmented_message_over_the_limit_closes_with_1009_before_it_ends(
    endpoint: Endpoint,
) -> None:
    ws = await endpoint.connected()
    piece = b" " * 4096
    await ws.send(TEXT, b"{" + piece[1:], fin=False)
    for _ in range(LIMIT // len(piece)):  # one fragment past the limit, and no final one
        await ws.send(CONTINUATION, piece, fin=False)
    await assert_closes(ws, 1009)


@pytest.mark.parametrize("fragment", [1, 64, 4096])
async def test_9_a_message_of_many_small_fragments_up_to_the_limit_is_served(
    endpoint: Endpoint, fragment: int
) -> None:
    ws = await endpoint.connected()
    size = LIMIT if fragment > 1 else 4096
    text = padded_ping(16, size)
    pieces = [text[n : n + fragment] for n in range(0, size, fragment)]
    frames = [encode_frame(TEXT, pieces[0], fin=len(pieces) == 1)]
    frames += [
        encode_frame(CONTINUATION, piece, fin=n == len(pieces) - 1)
        for n, piece in enumerate(pieces)
        if n > 0
    ]
    await ws.send_bytes(b"".join(frames))
    assert (await reply_to(ws, 16))["type"] == "reply"


async def test_9_many_small_messages_in_one_write_are_all_answered(endpoint: Endpoint) -> None:
    ws = await endpoint.connected()
    # Fewer than the commands a connection may queue, so reading is never paused here.
    await ws.send_bytes(b"".join(encode_frame(TEXT, command("ping", n)) for n in range(20)))
    for n in range(20):
        assert (await reply_to(ws, n))["type"] == "reply"


# -- 12/13 per-message deflate, and masking --------------------------------------------------


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "x-webkit-deflate-frame",
    ],
)
async def test_12_13_per_message_deflate_is_never_negotiated(
    endpoint: Endpoint, offer: str
) -> None:
    ws = await endpoint.open({"Sec-WebSocket-Extensions": offer})
    assert "sec-websocket-extensions" not in ws.response_headers
    await ws.send(TEXT, command("connect", 1, token=endpoint.sign("deflate", "deflate")))
    assert (await reply_to(ws, 1))["type"] == "reply"
    # A compressed frame (RSV1) is then one with a reserved bit set.
    await ws.send(TEXT, b"\xaaV*\xa9,HU\xb2R*\xc8\xccKW\xaa\x05\x00", rsv=4)
    await assert_closes(ws, 1002)


@pytest.mark.parametrize("opcode", [TEXT, PING, CLOSE])
async def test_an_unmasked_client_frame_closes_with_1002(endpoint: Endpoint, opcode: int) -> None:
    ws = await endpoint.connected()
    payload = close_payload(1000) if opcode == CLOSE else command("ping", 17)
    await ws.send(opcode, payload, masked=False)
    await assert_closes(ws, 1002)


async def test_a_protocol_error_before_connect_closes_with_1002(endpoint: Endpoint) -> None:
    ws = await endpoint.open()
    await ws.send(TEXT, b"{}", rsv=2)
    await assert_closes(ws, 1002)
