"""One WebSocket session: the commands of docs/protocol.md, independent of the socket library.

The transport hands in text frames (``receive``) and gets frames to send and close requests.
Commands of one connection run one after another, so a user's messages from one tab keep their
order; while they wait, the session has a task, and an idle session has none. Too many commands
waiting pause reading from the socket, so a client that sends faster than it is served is held
back by TCP, not by the gateway's memory.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from chat_common.envelope import format_ts
from chat_common.errors import ChatError, CloseCode, ErrorCode
from chat_gateway import protocol
from chat_gateway.access import Caller
from chat_gateway.context import Claims, GatewayContext
from chat_gateway.cursor import RoomCursor
from chat_gateway.frames import RoomFrame
from chat_gateway.limits import COMMANDS_WAITING_HIGH, COMMANDS_WAITING_LOW, ConnectionLimits
from chat_gateway.outbound import Outbound
from chat_gateway.presence import Member
from chat_gateway.room_events import RoomChange, announce
from chat_gateway.sending import DEPENDENCY_ERRORS
from chat_gateway.transport import Transport

log = logging.getLogger(__name__)

# A new session's first commands (connect and the one after it) run in admission turns.
_SETUP_COMMANDS = 2


class _JoinedRoom:
    __slots__ = ("cursor", "held")

    def __init__(self) -> None:
        self.cursor = RoomCursor()
        # Live frames and events that arrive while the join's catch-up is read, held until the
        # reply is sent (``frame`` None for an event); None once the reply is out.
        self.held: list[tuple[RoomFrame | None, bytes]] | None = []


class Session:
    def __init__(
        self,
        ctx: GatewayContext,
        transport: Transport,
        address: str,
        on_set_up: Callable[[], None] = lambda: None,
    ) -> None:
        self.ctx = ctx
        self.address = address
        self.session_id = f"{ctx.settings.node_id}:{uuid.uuid4().hex[:12]}"
        self.user_id = ""
        self.claims: Claims | None = None
        self.closed = False
        self._transport = transport
        self._rooms: dict[str, _JoinedRoom] = {}
        settings = ctx.settings
        self._limits = ConnectionLimits(settings)
        self._expiry: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[Any]] = set()
        # Commands waiting for the one running; made when one waits (an idle session has none).
        self._inbox: collections.deque[str] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._reading_paused = False
        self._setup_commands_left = _SETUP_COMMANDS
        self._on_set_up = on_set_up
        self.outbound = Outbound(
            transport, limit_bytes=settings.outbound_queue_bytes, on_overflow=self._on_overflow
        )

    # -- what the hub calls -------------------------------------------------------------------

    def deliver(
        self, room: str, frames: Sequence[RoomFrame], wires: Sequence[bytes], joined: bytes
    ) -> int:
        """A run of live frames of ``room``: each framed for the socket (``wires``) and all of
        them together (``joined``), written at once; returns how many were sent."""
        member = self._rooms.get(room)
        if member is None:
            return 0
        if member.held is not None:
            member.held.extend(zip(frames, wires, strict=True))
            return 0
        admit = member.cursor.admit
        fresh = [admit(frame.seq) for frame in frames]
        if all(fresh):  # the usual case: the connection has none of them yet
            return len(frames) if self.outbound.push_frame(joined) else 0
        unsent = [wire for wire, new in zip(wires, fresh, strict=True) if new]
        if unsent and self.outbound.push_frame(b"".join(unsent)):
            return len(unsent)
        return 0

    def deliver_event(self, room: str, wire: bytes) -> None:
        joined = self._rooms.get(room)
        if joined is not None and joined.held is not None:
            joined.held.append((None, wire))
        else:
            self.outbound.push_frame(wire)

    def push_event(self, payload: bytes) -> None:
        self.outbound.push(payload)

    def has_joined(self, room: str) -> bool:
        return room in self._rooms

    def tell(self, wire: bytes) -> None:
        """An event of the user's own channel (``person``), framed."""
        self.outbound.push_frame(wire)

    # -- frames in ----------------------------------------------------------------------------

    def receive(self, text: str) -> None:
        """A text frame from the client; its command runs after those before it."""
        if self.closed:
            return  # closing: what the peer still sends until its close arrives is dropped
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = collections.deque()
        inbox.append(text)
        if len(inbox) >= COMMANDS_WAITING_HIGH and not self._reading_paused:
            self._reading_paused = True
            self._transport.pause_reading()
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run_inbox(inbox))

    async def _run_inbox(self, inbox: collections.deque[str]) -> None:
        try:
            while inbox and not self.closed:
                text = inbox.popleft()
                if self._reading_paused and len(inbox) <= COMMANDS_WAITING_LOW:
                    self._reading_paused = False
                    self._transport.resume_reading()
                if self._setup_commands_left:
                    await self._set_up_with(text)
                else:
                    await self.handle_text(text)
        finally:
            self._runner = None
            self._inbox = None

    async def _set_up_with(self, text: str) -> None:
        """A new session's first commands take turns with other new sessions' (connect storms):
        a command that waited too long for its turn is refused with 1013, retry later."""
        async with self.ctx.admission.turn() as admitted:
            if admitted:
                await self.handle_text(text)
            else:
                self.close_soon(CloseCode.TRY_AGAIN_LATER, "server busy; try again later")
        if self.claims is not None:
            self._setup_commands_left -= 1
            if not self._setup_commands_left:
                self._on_set_up()

    async def handle_text(self, text: str) -> None:
        try:
            command = protocol.decode_command(text)
        except ChatError as failure:
            self._send_error(protocol.command_id_of(text), failure)
            if self._limits.malformed():
                self.close_soon(CloseCode.POLICY_VIOLATION, "too many malformed frames")
            return
        if self.claims is None and not isinstance(command, protocol.Connect):
            self._send_error(command.id, ChatError(ErrorCode.UNAUTHORIZED, "connect first"))
            self.close_soon(CloseCode.UNAUTHORIZED, "connect must be the first frame")
            return
        try:
            fields = await self._dispatch(command)
        except ChatError as failure:
            self._send_error(command.id, failure)
            if self._limits.flooding(failure):
                self.close_soon(CloseCode.POLICY_VIOLATION, "flooding")
            return
        except DEPENDENCY_ERRORS as exc:
            log.warning("dependency failed", extra={"error": repr(exc)})
            self._send_error(
                command.id, ChatError(ErrorCode.UNAVAILABLE, "service unavailable; retry")
            )
            return
        except Exception:
            log.exception("command failed", extra={"type": type(command).__name__})
            self._send_error(command.id, ChatError(ErrorCode.INTERNAL, "internal error"))
            return
        if command.id is not None and fields is not None:
            self.outbound.push(protocol.reply(command.id, **fields))

    async def _dispatch(self, command: protocol.AnyCommand) -> dict[str, Any] | None:
        match command:
            case protocol.Connect():
                return await self._connect(command)
            case protocol.Refresh():
                return await self._refresh(command)
            case protocol.Join():
                return await self._join(command)
            case protocol.Leave():
                self._limits.check_move()
                await self._leave(command.room)
                await self._give_up(command.room)
                return {}
            case protocol.Send():
                return await self._send(command)
            case protocol.Edit() | protocol.Delete() | protocol.React():
                assert self.claims is not None
                acted = await self.ctx.sender.act(self.claims, self.session_id, command)
                return {"message": acted.message}
            case protocol.History():
                return await self._history(command)
            case protocol.Presence():
                await self.ctx.access.for_read(self._caller(), command.room)
                listed = self.ctx.settings.max_online_listed
                return {"online": await self.ctx.presence.online(command.room, listed)}
            case protocol.Typing():
                return await self._typing(command.room)
            case protocol.Ping():
                return {}
            case protocol.Read():
                return await self._read(command)
        raise ChatError(ErrorCode.BAD_REQUEST, "unknown command type")  # pragma: no cover

    # -- session lifecycle --------------------------------------------------------------------

    async def _connect(self, command: protocol.Connect) -> dict[str, Any]:
        if self.claims is not None:
            raise ChatError(ErrorCode.BAD_REQUEST, "already connected")
        try:
            claims = await self.ctx.verify_token(command.token)
        except ChatError as failure:
            if failure.code is ErrorCode.UNAUTHORIZED:  # not when no verdict was possible yet
                self.close_soon(CloseCode.UNAUTHORIZED, "invalid token")
            raise
        if await self.ctx.is_revoked(claims):
            self.close_soon(CloseCode.UNAUTHORIZED, "session revoked")
            raise ChatError(ErrorCode.UNAUTHORIZED, "this session was revoked")
        settings = self.ctx.settings
        if not await self.ctx.presence.admit_connection(
            claims.sub, self.session_id, settings.max_connections_per_user
        ):
            self.close_soon(CloseCode.POLICY_VIOLATION, "too many connections for this user")
            raise ChatError(ErrorCode.FORBIDDEN, "too many connections for this user")
        self.claims = claims
        self.user_id = claims.sub
        self._expire_at(claims.exp)
        if self.ctx.hub.add(self):
            # Followed before the reply: what the client reads next (GET /v1/me/rooms) is
            # then never older than the first event it may miss.
            await self.ctx.person.follow(claims.sub)
        return {
            "user": {"id": claims.sub, "name": claims.name, "roles": list(claims.roles)},
            "session": self.session_id,
            "server_time": format_ts(datetime.now(UTC)),
            "limits": {
                "max_frame_bytes": settings.max_frame_bytes,
                "max_body_chars": settings.max_body_chars,
                "send_rate_per_s": settings.send_rate_per_s,
            },
        }

    async def _refresh(self, command: protocol.Refresh) -> dict[str, Any]:
        claims = await self.ctx.verify_token(command.token)
        if self.claims is None or claims.sub != self.claims.sub:
            raise ChatError(ErrorCode.UNAUTHORIZED, "the new token is for another user")
        if await self.ctx.is_revoked(claims):
            raise ChatError(ErrorCode.UNAUTHORIZED, "this session was revoked")
        self.claims = claims
        self._expire_at(claims.exp)
        return {"expires_at": format_ts(datetime.fromtimestamp(claims.exp, UTC))}

    def _expire_at(self, exp: int) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        delay = max(0.0, exp - time.time())
        self._expiry = asyncio.get_running_loop().call_later(
            delay, self.close_soon, CloseCode.UNAUTHORIZED, "token_expired"
        )

    def close_soon(self, code: int, reason: str) -> None:
        """Close with ``code`` once the current step is done: the close frame follows what it
        writes (the error that explains the close)."""
        if self.closed:
            return
        self.closed = True
        self._inbox = None
        self.ctx.metrics.closes.labels(str(code)).inc()
        asyncio.get_running_loop().call_soon(self._close_now, code, reason)

    def _close_now(self, code: int, reason: str) -> None:
        self.outbound.close()
        self._transport.close(code, reason)

    def _on_overflow(self) -> None:
        self.ctx.metrics.queue_overflows.inc()
        self.close_soon(CloseCode.POLICY_VIOLATION, "slow consumer")

    async def release(self) -> None:
        """Called once by the transport when the connection is gone."""
        self.closed = True
        self._inbox = None
        self.outbound.close()
        if self._runner is not None:
            self._runner.cancel()
        if self._expiry is not None:
            self._expiry.cancel()
        if self.claims is None:
            return
        departure = self.ctx.hub.discard(self, self._rooms)
        if departure.last_of_user:
            await self.ctx.person.unfollow(self.user_id)
        self.ctx.metrics.room_members.dec(len(self._rooms))
        self.ctx.metrics.joined_rooms.dec(len(departure.emptied_rooms))
        for room in departure.emptied_rooms:
            await self.ctx.fanout.unfollow(room)
        for room in await self.ctx.presence.depart(self.member(), list(self._rooms)):
            await self._announce_presence(room)

    # -- rooms --------------------------------------------------------------------------------

    def _caller(self) -> Caller:
        assert self.claims is not None
        return Caller(self.claims.sub, self.claims.roles)

    def member(self) -> Member:
        assert self.claims is not None
        return Member(self.claims.sub, self.claims.name, self.session_id)

    @property
    def rooms(self) -> list[str]:
        return list(self._rooms)

    async def _join(self, command: protocol.Join) -> dict[str, Any] | None:
        room = command.room
        self._limits.check_join(len(self._rooms), again=room in self._rooms)
        entry = await self.ctx.access.enter(self._caller(), room)
        if entry.added:  # a membership is durable from here, whatever becomes of the join
            await self.ctx.person.rooms_added(room, entry.added)
        joined = _JoinedRoom()
        already = room in self._rooms  # joining again: catch up again, count once
        self._rooms[room] = joined
        if self.ctx.hub.join(self, room):
            self.ctx.metrics.joined_rooms.inc()
        if not already:
            self.ctx.metrics.room_members.inc()
        try:
            async with asyncio.timeout(self.ctx.settings.join_follow_timeout_s):
                last_seq = await self.ctx.fanout.follow(room)
            frames: list[RoomFrame] = []
            recovered = True
            if command.since is not None:
                frames, recovered = await self.ctx.history.after(
                    room,
                    command.since,
                    self.ctx.settings.catch_up_limit,
                    self.ctx.settings.reply_bytes,
                )
            if await self.ctx.presence.enter(room, self.member()):
                await self._announce_presence(room)
            online = await self.ctx.presence.online(room, self.ctx.settings.max_online_listed)
        except BaseException as exc:
            await self._leave(room)
            if isinstance(exc, TimeoutError):
                raise ChatError(ErrorCode.UNAVAILABLE, "room not available; retry") from exc
            raise
        # The catch-up ends where this gateway's delivery stood when it was read: anything
        # newer reaches the connection live, in seq order, behind the reply. A snapshot may
        # hold a seq whose predecessor is still in flight; sent now, that one would come after.
        frames = [frame for frame in frames if frame.seq <= last_seq]
        joined.cursor = RoomCursor(after=command.since or 0)
        for frame in frames:
            joined.cursor.admit(frame.seq)
        if command.id is not None:
            self.outbound.push(
                protocol.reply(
                    command.id,
                    room=room,
                    last_seq=last_seq,
                    online=online,
                    messages=[msgspec.Raw(frame.message_json) for frame in frames],
                    recovered=recovered,
                )
            )
        held, joined.held = joined.held or [], None
        for live, wire in held:
            if live is None:
                self.outbound.push_frame(wire)
            elif sent := self.deliver(room, (live,), (wire,), wire):
                self.ctx.metrics.messages_delivered.inc(sent)
        return None  # the reply is already queued, ahead of the held live frames

    async def _leave(self, room: str) -> None:
        if room in self._rooms:
            await self._after_leave(room, self._drop_room(room))

    async def _give_up(self, room: str) -> None:
        """A ``leave`` ends the membership of a public room for every device (private rooms
        and DMs keep theirs: their members are chosen by others)."""
        assert self.claims is not None
        if await self.ctx.access.leave(self._caller(), room, public_only=True):
            user_id = self.claims.sub
            await announce(self.ctx.broker, RoomChange(room=room, action="leave", user_id=user_id))
            await self.ctx.person.rooms_removed(room, user_id)

    async def _read(self, command: protocol.Read) -> dict[str, Any]:
        assert self.claims is not None
        await self.ctx.access.for_read(self._caller(), command.room)
        newest = await self.ctx.broker.current_seq(command.room)
        seq = await self.ctx.markers.advance(self.claims.sub, command.room, command.seq, newest)
        if seq is not None:
            await self.ctx.person.tell(
                self.claims.sub, {"type": "read", "room": command.room, "seq": seq}
            )
        return {}

    def _drop_room(self, room: str) -> bool:
        """Stop delivering ``room`` here; True when no local connection follows it any more."""
        del self._rooms[room]
        self.ctx.metrics.room_members.dec()
        emptied = self.ctx.hub.leave(self, room)
        if emptied:
            self.ctx.metrics.joined_rooms.dec()
        return emptied

    async def _after_leave(self, room: str, emptied: bool) -> None:
        if emptied:
            await self.ctx.fanout.unfollow(room)
        if await self.ctx.presence.leave(room, self.member()):
            await self._announce_presence(room)

    async def _announce_presence(self, room: str) -> None:
        assert self.claims is not None
        await self.ctx.presence_announcer.changed(room, self.claims.sub, self.claims.name)

    def kick(self, room: str, reason: str) -> None:
        """Removed from ``room`` by a moderator: stop delivering at once, then tell the client."""
        if room not in self._rooms or self.closed:
            return
        emptied = self._drop_room(room)
        self.push_event(protocol.event("kicked", room=room, reason=reason))
        task = asyncio.get_running_loop().create_task(self._after_leave(room, emptied))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _history(self, command: protocol.History) -> dict[str, Any]:
        await self.ctx.access.for_read(self._caller(), command.room)
        assert self.claims is not None
        frames, has_more = await self.ctx.history.page_before(
            command.room,
            command.before,
            command.limit,
            self.claims.sub,
            self.ctx.settings.reply_bytes,
        )
        return {
            "messages": [msgspec.Raw(frame.message_json) for frame in frames],
            "has_more": has_more,
        }

    async def _typing(self, room: str) -> dict[str, Any]:
        if room not in self._rooms:
            raise ChatError(ErrorCode.FORBIDDEN, "join the room first")
        assert self.claims is not None
        await self.ctx.broker.typing(room, self.claims.sub, self.claims.name)
        return {}

    async def _send(self, command: protocol.Send) -> dict[str, Any]:
        assert self.claims is not None
        sent = await self.ctx.sender.send(self.claims, self.session_id, command)
        if sent.mentions:
            await self._tell_mentioned(command.room, sent.mentions, sent.message)
        return {"message": sent.message}

    async def _tell_mentioned(self, room: str, people: Sequence[str], message: Any) -> None:
        """A durable message told to the people it mentions. The message is acknowledged
        whatever happens here: a `mention` event lost to a Redis outage leaves its count in
        their room list (``GET /v1/me/rooms``), read after their next connect."""
        told = await asyncio.gather(
            *(self.ctx.person.tell_mention(person, room, message) for person in people),
            return_exceptions=True,
        )
        for outcome in told:
            if isinstance(outcome, DEPENDENCY_ERRORS):
                self.ctx.metrics.redis_errors.labels("mention").inc()
                log.warning("mention not told", extra={"error": repr(outcome)})
            elif isinstance(outcome, BaseException):
                raise outcome

    # -- errors -------------------------------------------------------------------------------

    def _send_error(self, command_id: protocol.CommandId | None, failure: ChatError) -> None:
        self.ctx.metrics.errors.labels(failure.code.value).inc()
        self.outbound.push(protocol.error(command_id, failure))
