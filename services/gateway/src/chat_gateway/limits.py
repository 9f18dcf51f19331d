"""Every limit of the gateway (G5), named in one place; their values are settings (settings.py).

The rules of one connection are here, pure logic with an injectable clock (``ConnectionLimits``,
``TokenBucket``, ``StrikeMeter``), unit-tested without a server. A limit that must hold across
connections and gateways is kept where the shared state is, by the same rule:

- send rate per user (``SEND_RATE_PER_S``, ``SEND_BURST``): ``TokenBucket``'s rule, in the
  broker's admission script (``redis_broker``), so it holds across a user's gateways;
- typing events, one per user and room per ``TYPING_INTERVAL_MS``: the broker (``typing``);
- connections per user (``MAX_CONNECTIONS_PER_USER``): presence (``admit_connection``), one
  atomic count across gateways;
- connections per address (``MAX_CONNECTIONS_PER_IP``): counted by the hub, the one past it
  closed with 4008 as its socket opens (``websocket``);
- bytes unread by one connection (``OUTBOUND_QUEUE_BYTES``): ``outbound``, on the delivery path;
- frame size (``MAX_FRAME_BYTES``), connect timeout and pings: the socket (``websocket``);
  message length (``MAX_BODY_CHARS``): ``sending``; reply sizes (``MAX_REPLY_BYTES``,
  ``CATCH_UP_LIMIT``): ``history`` and ``session``; users listed online
  (``MAX_ONLINE_LISTED``): ``session``; rooms in the room list (``MAX_OWN_ROOMS_LISTED``,
  ``DIRECTORY_PAGE_SIZE``): ``rooms_http`` and ``room_list``; sessions in setup
  (``MAX_CONCURRENT_CONNECTS``, ``MAX_PENDING_CONNECTS``): ``admission``; presence events
  (``PRESENCE_ANNOUNCE_INTERVAL_S``): ``presence_announcer``;
- attachments: a file's size (``UPLOAD_MAX_BYTES``) and the URLs' lifetimes
  (``UPLOAD_URL_TTL_S``, ``DOWNLOAD_URL_TTL_S``): ``uploads_http``, the store enforcing the size
  the PUT was signed for; uploads per person and hour (``UPLOADS_PER_HOUR``): ``uploads``, one
  count in Postgres across gateways; files per message (``UPLOAD_MAX_PER_MESSAGE``): ``sending``;
  the bytes read to tell a file's type and the time a send's files may take
  (``UPLOAD_SNIFF_BYTES``, ``ATTACHMENT_CHECK_TIMEOUT_S``): ``attachments``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.settings import GatewaySettings

Clock = Callable[[], float]

# Typing events: at most one per user and room every 2 s, never stored. A constant, not a
# setting: the interval is part of the wire contract (docs/protocol.md), which clients rely on
# to expire a typing indicator.
TYPING_INTERVAL_MS = 2000
# Commands of one connection waiting to run. A client in a hurry sends a few at once; past the
# high mark reading from its socket pauses until the queue is down to the low mark, so a client
# that sends faster than it is served is held back by TCP, not by the gateway's memory.
COMMANDS_WAITING_HIGH = 32
COMMANDS_WAITING_LOW = 8


class TokenBucket:
    """``burst`` actions at once, then ``rate_per_s`` per second."""

    def __init__(self, rate_per_s: float, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> int:
        """0 when the action may go ahead (and it is counted), else milliseconds to wait."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0
        return max(1, int((1 - self._tokens) / self._rate * 1000) + 1)


class StrikeMeter:
    """Refusals of one connection, fading at ``decay_per_s``; reaching ``limit`` means flooding.

    Success does not clear the count: a flood interleaved with commands that succeed is still a
    flood. A client that hits a limit now and then never gets near it.
    """

    def __init__(self, limit: int, decay_per_s: float, clock: Clock = time.monotonic) -> None:
        self._limit = limit
        self._decay = decay_per_s
        self._clock = clock
        self._count = 0.0
        self._at = clock()

    def strike(self) -> bool:
        """Count one refusal; True when the connection is now flooding."""
        now = self._clock()
        self._count = max(0.0, self._count - (now - self._at) * self._decay) + 1
        self._at = now
        return self._count >= self._limit


class ConnectionLimits:
    """What one connection may do on its own: rooms joined at once, joins and leaves per
    second, refusals and malformed frames before it is closed."""

    __slots__ = ("_bad_frames_left", "_max_rooms", "_room_moves", "_strikes")

    def __init__(self, settings: GatewaySettings, clock: Clock = time.monotonic) -> None:
        self._max_rooms = settings.max_rooms_per_connection
        # join and leave share one bucket: a reconnect rejoins a room list in one burst.
        self._room_moves = TokenBucket(settings.join_rate_per_s, settings.join_burst, clock)
        self._strikes = StrikeMeter(settings.abuse_strikes, settings.strike_decay_per_s, clock)
        self._bad_frames_left = settings.bad_frames_before_close

    def check_join(self, joined: int, again: bool) -> None:
        """A join while ``joined`` rooms are joined (``again``: this room is one of them)."""
        if not again and joined >= self._max_rooms:
            raise ChatError(
                ErrorCode.FORBIDDEN,
                f"this connection has joined {self._max_rooms} rooms; leave one first",
            )
        self.check_move()

    def check_move(self) -> None:
        """A join or a leave."""
        wait_ms = self._room_moves.take()
        if wait_ms:
            raise ChatError(
                ErrorCode.RATE_LIMITED, "joining and leaving rooms too fast", retry_after_ms=wait_ms
            )

    def flooding(self, failure: ChatError) -> bool:
        """Count a refused command; True when the connection is flooding (close it)."""
        return failure.code is ErrorCode.RATE_LIMITED and self._strikes.strike()

    def malformed(self) -> bool:
        """Count a malformed frame; True when there were too many (close the connection)."""
        self._bad_frames_left -= 1
        return self._bad_frames_left <= 0
