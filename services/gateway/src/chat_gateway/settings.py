"""Gateway settings, read from ``CHAT_GATEWAY_*`` variables and validated at start-up."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Annotated

import msgspec

from chat_common.envelope import MAX_ATTACHMENTS, MAX_MENTIONS
from chat_common.object_store import SETTINGS_PREFIX as OBJECT_STORE_PREFIX
from chat_common.object_store import ObjectStoreSettings
from chat_common.proxies import check_trusted_proxies
from chat_common.settings import (
    LOCAL_DATABASE_URL,
    LOCAL_KAFKA_BOOTSTRAP,
    LOCAL_REDIS_URL,
    NonEmptyStr,
    NonNegativeFloat,
    Port,
    PositiveFloat,
    PositiveInt,
    ServiceSettings,
    load_settings,
)

PREFIX = "CHAT_GATEWAY_"
# The internal token is a shared secret: 16 characters of `openssl rand -hex` are 64 bits.
_MIN_INTERNAL_TOKEN_CHARS = 16


class GatewaySettings(ServiceSettings, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    # HTTP routes (/v1/…, probes, metrics) on ``port``; the WebSocket endpoint /ws on
    # ``ws_port``, served by a library built for fan-out (picows) in the same process.
    port: Port = 8101
    ws_port: Port = 8111
    # Names this process in metrics, logs and connection ids; unique per gateway.
    node_id: NonEmptyStr = f"{socket.gethostname()}-{os.getpid()}"

    redis_url: NonEmptyStr = LOCAL_REDIS_URL
    kafka_bootstrap: NonEmptyStr = LOCAL_KAFKA_BOOTSTRAP
    database_url: NonEmptyStr = LOCAL_DATABASE_URL
    kafka_topic: NonEmptyStr = "chat.messages"
    # The persistence worker's consumer group: a lost seq counter is re-seeded from Postgres only
    # after this group has stored everything already in Kafka, so seq never goes backwards.
    persistence_group: NonEmptyStr = "chat-persistence"
    seed_wait_s: PositiveFloat = 15.0

    jwks_url: NonEmptyStr = "http://127.0.0.1:8200/.well-known/jwks.json"
    token_issuer: NonEmptyStr = "chat-auth"  # noqa: S105 - a claim value, not a secret
    token_audience: NonEmptyStr = "chat"  # noqa: S105 - a claim value, not a secret

    # Exact-match Origin allowlist; a handshake without Origin (native apps) is allowed.
    allowed_origins: tuple[str, ...] = ("https://localhost:8443",)
    create_rooms_on_join: bool = True

    # G5 limits. 64 KiB frames: OWASP's suggestion, far above a 4000-character message.
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 65_536
    max_body_chars: Annotated[int, msgspec.Meta(ge=1, le=4000)] = 4000
    # 5 messages/s sustained with bursts of 20: above any typist, far below a flood.
    send_rate_per_s: PositiveFloat = 5.0
    send_burst: PositiveInt = 20
    # A connection refused (rate_limited) this many times, less one per second that passes, is
    # flooding, not typing: closed with 4008.
    abuse_strikes: PositiveInt = 50
    bad_frames_before_close: PositiveInt = 100
    max_connections_per_user: PositiveInt = 20
    max_connections_per_ip: PositiveInt = 200
    # Bytes queued for one connection before it counts as a slow reader (4008). 1 MiB holds
    # ~2000 typical messages: minutes of a busy room, yet bounded per connection.
    outbound_queue_bytes: Annotated[int, msgspec.Meta(ge=4096)] = 1_048_576
    # Rooms one connection may have joined at once: a person's whole room list in one tab
    # (Slack and Zulip users rarely pass a few hundred), not a crawl of every public room.
    max_rooms_per_connection: PositiveInt = 500
    # join and leave share one bucket per connection: 200 at once covers a reconnect that
    # rejoins a large room list, then 5/s, which no person clicking through rooms reaches.
    join_rate_per_s: PositiveFloat = 5.0
    join_burst: PositiveInt = 200
    # A refusal (rate_limited) adds a strike and strikes fade at this rate, so a client that
    # keeps hitting the limit is closed however it interleaves commands that succeed.
    strike_decay_per_s: PositiveFloat = 1.0
    # A join's catch-up and a WebSocket history page stop at this many bytes of messages (and
    # at half the outbound queue, whichever is less), so no reply trips the slow-reader rule
    # by itself: 256 KiB is ~60 messages of 4,000 characters, or ~1,000 ordinary ones.
    max_reply_bytes: Annotated[int, msgspec.Meta(ge=4096)] = 262_144
    # A user's presence in a room is announced at most once per this interval; changes in
    # between are folded into one announcement of the state at its end. Join/leave cycling
    # (or a tab reloaded) then costs every member at most one event per interval.
    presence_announce_interval_s: PositiveFloat = 5.0
    # Who is online, as a join reply and the presence command list it: a room of tens of
    # thousands would otherwise answer with megabytes. 1,000 names are ~60 KiB, more than any
    # member list shows at once.
    max_online_listed: PositiveInt = 1000
    connect_timeout_s: PositiveFloat = 10.0
    # A join waits this long for the room's Redis subscription before answering `unavailable`:
    # Redis answers in milliseconds, and 5 s rides out the fan-out connection's reconnect. A
    # user's first connect waits as long for their person channel, then goes ahead without it
    # (it is made when Redis is back; the client's GET /v1/me/rooms covers the gap).
    join_follow_timeout_s: PositiveFloat = 5.0
    # A send whose client_msg_id is in flight on another connection waits this long for the
    # first attempt's outcome: as long as that attempt may wait for Kafka.
    duplicate_wait_s: PositiveFloat = 5.0
    # The in-flight mark of a send outlives any produce (kafka_request_timeout_ms), so a
    # gateway that dies mid-send frees its client_msg_id for a retry this long after.
    send_lock_s: PositiveFloat = 15.0
    # Access decisions are dropped at once on every change (room events); this only bounds how
    # long a change whose announcement was lost (pub/sub is at-most-once) goes unnoticed.
    access_cache_ttl_s: PositiveFloat = 30.0
    # While Postgres cannot be reached, a decision that expired less than this long ago is used
    # instead of refusing every send: a Postgres restart or failover (seconds to a minute) then
    # does not stop people talking in rooms they were talking in. Nothing can change a decision
    # meanwhile (a membership, mute or ban is a Postgres write), and 0 turns this off.
    access_stale_if_error_s: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    # GET /v1/rooms lists the caller's own rooms (memberships, private rooms, DMs), the most
    # recently active first, up to this many: past any person's room list (Slack and Zulip users
    # rarely pass a few hundred; one tab joins at most max_rooms_per_connection), and ~150 KiB
    # of JSON at most, so no account answers every poll with megabytes. GET /v1/me/rooms has the
    # same bound (~250 KiB with read markers; one statement, ~200 ms for 1,000 rooms measured
    # on a loaded 2-core machine: loadtests/bench_my_rooms.py).
    max_own_rooms_listed: PositiveInt = 1000
    # Public rooms per page of the directory (the rest of GET /v1/rooms, and each page asked for
    # with a cursor or a name prefix). The first page rides along with every client's room-list
    # poll (every 30 s): 100 rooms are ~15 KiB, more than a sidebar or a directory screen shows
    # at once; anything further is a search or the next page away.
    directory_page_size: PositiveInt = 100
    # GET /v1/users (the people directory, typed into while starting a DM or adding a member):
    # a page is this many people unless the client asks for fewer, up to people_page_max. 20
    # fill a suggestion list; 50 (~4 KiB) fill a tall one, and the next letter typed narrows it.
    people_page_size: PositiveInt = 20
    people_page_max: PositiveInt = 50
    # GET /v1/rooms/{room}/members: at most this many people per page (also the default), each
    # with their presence, read in one Redis round trip: ~10 KiB, more than a member panel shows.
    members_page_size: PositiveInt = 100
    # GET /v1/search: the query's length in characters. 200 is several sentences, more than
    # anyone types into a search box, and keeps the parsed tsquery (one GIN lookup per word)
    # small.
    search_query_max_chars: PositiveInt = 200
    # Hits per page unless the client asks for fewer, up to search_page_max: each carries a
    # whole message (up to 4,000 characters) and its excerpt, so 50 is at most ~450 KiB; 20
    # fill a results pane.
    search_page_size: PositiveInt = 20
    search_page_max: PositiveInt = 50
    # Rooms searched when the client names none: the caller's memberships, the most recently
    # active first, as many as GET /v1/me/rooms lists, so every room a person sees in their
    # list is searched.
    search_rooms_max: PositiveInt = 1000
    # Longest a search's statements may run together-ish (each is bounded by it). The plans
    # answer in milliseconds on a 10-million-message table (docs/benchmarks.md, "Message
    # search"); a query the estimate misjudges is refused past this, asking for more words or a
    # room, instead of holding a database connection.
    search_timeout_ms: PositiveInt = 3000
    # A room's newest message may be this much newer than its last_active_at: the worker moves
    # that time only when it is room_activity_step_s (60 s) behind. Twice that, so a room is
    # never passed over by a search reading rooms newest first; too much only reads more rooms.
    search_activity_slack_s: Annotated[float, msgspec.Meta(ge=0)] = 120.0
    # A common word is found by reading rooms newest first, in windows of messages per room:
    # the first of this many, doubling up to search_max_window each time a room is read
    # further, in rounds of search_rooms_per_round rooms (one statement each). The first is
    # small, as most rooms read hold nothing newer than the page's oldest hit and one short
    # window shows it; rounds are large, as a person in 1,000 rooms of the 10-million-message
    # seed had ~100 rooms active in the time a page of a common word spans (docs/benchmarks.md,
    # "Message search": 4 and 100 read 972 messages for it, 32 and 64 read 5,184).
    search_first_window: PositiveInt = 4
    search_max_window: PositiveInt = 2048
    search_rooms_per_round: PositiveInt = 100
    # Reading rooms newest first is chosen when the planner's estimate says it reads at most
    # this many messages (about 25 us each when cached: a fifth of a second at most), and is
    # given up for the index past search_merge_rows_max (the words were common in the table,
    # rare in these rooms). A query the estimate cannot call common asks the index first, for
    # at most search_index_try_ms: a rare word is answered in a few ms, one with tens of
    # thousands of matches is then read newest first instead.
    search_merge_rows_expected: PositiveInt = 8_000
    search_merge_rows_max: PositiveInt = 20_000
    search_index_try_ms: PositiveInt = 150
    # Distinct @names looked up per message, in one query: past any real message's mentions,
    # while a body of 4,000 characters full of @names costs one bounded lookup, not hundreds
    # (and notifies at most this many people). At most envelope.MAX_MENTIONS.
    max_mentions_per_message: Annotated[int, msgspec.Meta(ge=1, le=MAX_MENTIONS)] = 20
    # A message may be edited by its author this long after it was sent: a day covers a typo
    # noticed later, while what was said in a conversation long past stays as it was read.
    edit_window_s: PositiveFloat = 86_400.0
    # Different emoji on one message, and emoji one person puts on one message: a row of 20
    # fits under a message on a phone, and 10 per person are more than any reaction needs,
    # while a script cannot bury a message under thousands (each reaction is a log entry).
    max_emoji_per_message: PositiveInt = 20
    max_reactions_per_person: PositiveInt = 10
    # Attachments (docs/gateway.md, "Attachments"). The largest file: a phone's photo is 3-12
    # MB and a PDF of slides or a short screen recording fits in 25 MiB; anything larger is for
    # a file-sharing service. The balancer's body limit for the object store's path is the same.
    upload_max_bytes: PositiveInt = 25 * 1024 * 1024
    # Files on one message: a handful of photos of one moment, as other chat apps allow (Slack
    # 10); at most envelope.MAX_ATTACHMENTS, which bounds what any producer may store.
    upload_max_per_message: Annotated[int, msgspec.Meta(ge=1, le=MAX_ATTACHMENTS)] = 10
    # Uploads a person may start in an hour: one a minute, with bursts for an album; it caps
    # what one account can put in the store at 60 x 25 MiB = 1.5 GiB an hour, and upload URLs
    # handed out but never used count too, so a script cannot collect them.
    uploads_per_hour: PositiveInt = 60
    # How long a presigned PUT stays usable: 25 MiB at 1 Mbit/s takes about 210 s, so 300 s
    # lets a slow phone finish, while a URL that leaks stops working within minutes.
    upload_url_ttl_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 300
    # How long a presigned GET stays usable: a client asks for it when it shows or downloads the
    # file and fetches at once; a link passed around stops working within minutes.
    download_url_ttl_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 300
    # Bytes read from the start of an uploaded file to tell its type (a ranged GET): more than
    # the 1,445 bytes a browser's content sniffing looks at (WHATWG MIME Sniffing), enough for
    # libmagic's markup and script rules, and a few milliseconds of its time at most.
    upload_sniff_bytes: Annotated[int, msgspec.Meta(ge=1024, le=65_536)] = 4096
    # A send's checks of its files (a HEAD and a ranged read each, side by side, and the claim
    # in Postgres) answer in milliseconds; past this the send is refused `unavailable`. With the
    # Kafka wait it must fit in SEND_LOCK_S (checked below): the in-flight lock must outlast
    # the checks, or a resend could be admitted while the first attempt is still checking.
    attachment_check_timeout_s: PositiveFloat = 5.0
    # The media step's bearer token for the internal route (the same value as
    # CHAT_MEDIA_INTERNAL_TOKEN). Empty: the route answers 404, as if it did not exist.
    internal_token: str = ""
    # Bodies of the HTTP routes are a few dozen bytes (a room name, a user id and a reason).
    http_body_max_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 4096
    # After drain_grace_s the rest are closed with 1012; their close handshakes get this long,
    # and so does each shutdown step that waits on another process (the JWKS client's close).
    drain_close_wait_s: Annotated[float, msgspec.Meta(ge=0)] = 2.0
    # A shutdown still running this long after it began logs every task's stack: its steps are
    # bounded and take a few seconds, so by then one is stuck, and the log names it.
    shutdown_report_after_s: PositiveFloat = 10.0
    # WebSocket ping every 20 s, below nginx's and most balancers' 60 s idle timeout.
    ping_interval_s: PositiveFloat = 20.0
    ping_timeout_s: PositiveFloat = 20.0
    drain_grace_s: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    # /readyz answers 503 only once Redis, the room subscription or Postgres has failed every
    # probe for this long (0: at the first failure). Restarts and failovers take seconds.
    ready_grace_s: Annotated[float, msgspec.Meta(ge=0)] = 15.0

    # Presence entries lapse this long after their gateway's last heartbeat (one every third of
    # it) and lapsed users are looked for this often: a gateway killed with SIGKILL stops counting
    # its users within presence_ttl_s + presence_sweep_s (75 s, inside the promised 90 s).
    presence_ttl_s: PositiveFloat = 60.0
    presence_sweep_s: PositiveFloat = 15.0

    # Recent window per room in Redis: the newest messages for catch-up and hole filling.
    recent_window_size: PositiveInt = 1000
    recent_window_ttl_s: PositiveInt = 86_400
    catch_up_limit: PositiveInt = 1000
    # A live seq hole is looked up again in the window after this delay, then in Postgres, and
    # declared unused after the deadline (a sender that died between seq and publish).
    hole_retry_s: PositiveFloat = 0.05
    hole_deadline_s: PositiveFloat = 3.0
    # Frames of a room ready within this long go to each member in one write; 0 gathers only
    # those ready in the same event-loop turn (no added latency). docs/benchmarks.md measures it.
    fanout_batch_s: NonNegativeFloat = 0.0
    dedup_ttl_s: PositiveInt = 86_400
    kafka_request_timeout_ms: PositiveInt = 5000
    # How long the producer holds a record for others to share its request. Every send waits
    # for its own record (the ack follows acks=all), and records that arrive while a request is
    # in flight are batched anyway, so a linger only delays: 0 measured a p50 of 2.9 ms against
    # 5.1 ms at 2 (docs/benchmarks.md).
    kafka_linger_ms: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0

    # Balancers whose X-Forwarded-For names the client (addresses or networks, e.g. nginx's
    # host or the ingress controllers' pod network), so max_connections_per_ip counts people,
    # not the balancer. Empty: the peer address is the client's (no balancer in front).
    trusted_proxies: tuple[str, ...] = ()
    # Redis connections of this gateway, one of them the fan-out subscription. One event loop
    # gains nothing from more than a few dozen commands in flight, and 30 gateways at 64 stay
    # far below Redis's 10,000 clients. In a burst a command waits this long for a connection
    # (well inside a client's 8 s connect timeout), then fails with `unavailable`. On a Redis
    # Cluster the limit is per node and a command finding none free fails at once (redis-py
    # has no blocking pool there; docs/gateway.md, "Redis Cluster").
    redis_max_connections: Annotated[int, msgspec.Meta(ge=4)] = 64
    redis_pool_timeout_s: PositiveFloat = 3.0
    # Connect storms (a restarted gateway, a balancer failover): this many `connect`s are
    # handled at once, enough to keep the Redis pool busy; the others wait their turn up to
    # connect_wait_s and are then closed with 1013 (try again later), before a client's own
    # connect timeout, so they retry with backoff instead of timing out.
    max_concurrent_connects: PositiveInt = 64
    connect_wait_s: PositiveFloat = 5.0
    # New connections in setup (handshake done, connect and first command not yet answered);
    # past this an upgrade is refused with HTTP 503 before its handshake, the cheapest refusal.
    # What a gateway sets up within connect_wait_s: a test gateway on a shared 2-core machine
    # set up ~1,000 in a 5,000-connect storm before turns began to run out (1013).
    max_pending_connects: PositiveInt = 512

    def __post_init__(self) -> None:
        try:
            check_trusted_proxies(self.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"{PREFIX}TRUSTED_PROXIES: {exc}") from exc
        if self.people_page_size > self.people_page_max:
            raise ValueError(f"{PREFIX}PEOPLE_PAGE_SIZE must not exceed {PREFIX}PEOPLE_PAGE_MAX")
        if self.search_page_size > self.search_page_max:
            raise ValueError(f"{PREFIX}SEARCH_PAGE_SIZE must not exceed {PREFIX}SEARCH_PAGE_MAX")
        if self.internal_token and len(self.internal_token) < _MIN_INTERNAL_TOKEN_CHARS:
            raise ValueError(
                f"{PREFIX}INTERNAL_TOKEN must be at least {_MIN_INTERNAL_TOKEN_CHARS} characters"
                " (make one with `openssl rand -hex 32`)"
            )
        if (self.send_lock_s - self.attachment_check_timeout_s) * 1000 <= (
            self.kafka_request_timeout_ms
        ):
            raise ValueError(
                f"{PREFIX}SEND_LOCK_S must outlast {PREFIX}ATTACHMENT_CHECK_TIMEOUT_S and"
                f" {PREFIX}KAFKA_REQUEST_TIMEOUT_MS together, or a resend could be admitted while"
                " the first attempt still checks its files"
            )
        if self.send_lock_s * 1000 <= self.kafka_request_timeout_ms:
            raise ValueError(
                f"{PREFIX}SEND_LOCK_S must outlast {PREFIX}KAFKA_REQUEST_TIMEOUT_MS, or a retry"
                " could send a message whose first attempt is still waiting for Kafka"
            )

    @property
    def reply_bytes(self) -> int:
        """The bound of a join's catch-up and of a history page over WebSocket."""
        return min(self.max_reply_bytes, self.outbound_queue_bytes // 2)


def load_gateway_settings() -> GatewaySettings:
    return load_settings(GatewaySettings, PREFIX)


def load_object_store_settings(
    environ: Mapping[str, str] | None = None,
) -> ObjectStoreSettings | None:
    """The attachments' store from ``CHAT_OBJECT_STORE_*``; None when no such variable is set,
    and the gateway then takes no attachments (docs/gateway.md, "Attachments"). One variable
    set and a required one missing is a mistake, refused with the missing variable's name."""
    env = os.environ if environ is None else environ
    if not any(name.startswith(OBJECT_STORE_PREFIX) for name in env):
        return None
    return load_settings(ObjectStoreSettings, OBJECT_STORE_PREFIX, env)
