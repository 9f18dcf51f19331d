"""People chatting, for locust: through the balancer like the web app, at human rates.

Each user signs up and signs in through the auth service behind nginx, opens a WebSocket over
wss through nginx, joins the run's shared lobby, a small group and the direct-message rooms of
the people paired with them, then sends, reads history and now and then reconnects and rejoins
with `since`. Run it with `make loadtest` (docs/benchmarks.md, "Load tests with locust").

Request events, type WS: `connect`, `join`, `send ack`, `deliver own` (sent → back at the
sender, who is a member of the room), `deliver` (others' messages in groups and DMs),
`reconnect` (new socket, connect and every join with its catch-up). When the run stops, users
stop sending, a drain period passes, then every acknowledged message that never came back is
a failure `lost`, each one received twice `duplicate` and each seq hole `gap`.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

import gevent
from locust import HttpUser, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.exception import StopUser

from chat_ledger import Ledger
from chat_socket import ChatSocket, CommandFailedError, Frame

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "loadtest-password"
# Refresh the access token when this share of its lifetime has passed: the gateway closes a
# socket whose token expires (4001), and the auth service issues 10-minute tokens.
REFRESH_AT = 0.7


class MessageLostError(Exception):
    pass


@events.init_command_line_parser.add_listener
def _options(parser: LocustArgumentParser) -> None:
    chat = parser.add_argument_group("chat users")
    chat.add_argument(
        "--chat-ca",
        default=str(REPO / ".run/tls/localhost.crt"),
        help="certificate that signs the balancer's (make up's self-signed one); '' to not verify",
    )
    chat.add_argument("--chat-think", default="3:12", help="seconds between actions, MIN:MAX")
    chat.add_argument("--chat-lobby-share", type=float, default=0.2, help="sends to the lobby")
    chat.add_argument("--chat-read", type=float, default=0.1, help="share of actions that page")
    chat.add_argument("--chat-reconnect", type=float, default=0.02, help="share that reconnect")
    chat.add_argument("--chat-group-size", type=int, default=5, help="people per small group")
    chat.add_argument("--chat-drain", type=float, default=5.0, help="seconds to wait for echoes")
    chat.add_argument("--chat-run", default=uuid.uuid4().hex[:6], help="names the run's rooms")
    chat.add_argument("--chat-summary", default="", help="write the run's tally here (JSON)")
    chat.add_argument(
        "--chat-sends", type=int, default=0, help="end the run once every user sent this many"
    )


class Crowd:
    """The run's rooms, pairings and tallies, shared by the users of one locust process."""

    _crowds: ClassVar[WeakKeyDictionary[Environment, Crowd]] = WeakKeyDictionary()

    def __init__(self, environment: Environment) -> None:
        options = environment.parsed_options
        assert options is not None
        self.options = options
        self.run: str = options.chat_run
        self.lobby = f"lobby-{self.run}"
        self.closing = False
        self.people: list[ChatUser] = []
        self._lonely: list[ChatUser] = []

    @classmethod
    def of(cls, environment: Environment) -> Crowd:
        if environment not in cls._crowds:
            cls._crowds[environment] = cls(environment)
        return cls._crowds[environment]

    def enlist(self, person: ChatUser) -> str:
        """Adds a person; returns their small group's room."""
        self.people.append(person)
        return f"group-{self.run}-{(len(self.people) - 1) // self.options.chat_group_size}"

    def pair(self, person: ChatUser) -> None:
        """Each person gets a direct-message partner: the previous one still without one."""
        if not self._lonely:
            self._lonely.append(person)
            return
        other = self._lonely.pop()
        low, high = sorted((person.user_id, other.user_id))
        room = f"dm:{low}:{high}"
        other.invite(room)
        person.invite(room)

    def finished(self, environment: Environment) -> None:
        """Ends the run once every user of it has sent ``--chat-sends`` messages."""
        runner = environment.runner
        wanted = self.options.chat_sends
        if runner is None or len(self.people) < runner.target_user_count:
            return
        if all(person.sent >= wanted for person in self.people):
            self.closing = True
            gevent.spawn(runner.quit)  # not from this user's greenlet, which quit() kills

    def tally(self) -> dict[str, int]:
        ledgers = [person.ledger for person in self.people]
        return {
            "users": len(self.people),
            "signed_in": sum(person.signed_in for person in self.people),
            "sent": sum(person.sent for person in self.people),
            "acked": sum(ledger.acked for ledger in ledgers),
            "own_delivered": sum(ledger.own_delivered for ledger in ledgers),
            "lost": sum(ledger.lost() for ledger in ledgers),
            "duplicates": sum(ledger.duplicates for ledger in ledgers),
            "gaps": sum(ledger.gaps() for ledger in ledgers),
            "reconnects": sum(person.reconnects for person in self.people),
        }


@events.test_stopping.add_listener
def _drain_then_count(environment: Environment, **_kwargs: Any) -> None:
    crowd = Crowd.of(environment)
    crowd.closing = True
    gevent.sleep(crowd.options.chat_drain)
    fire = environment.events.request.fire
    for person in crowd.people:
        for name, count in (
            ("lost", person.ledger.lost()),
            ("duplicate", person.ledger.duplicates),
            ("gap", person.ledger.gaps()),
        ):
            for _ in range(count):
                error = MessageLostError(f"{name} message for {person.username}")
                fire(
                    request_type="WS",
                    name=name,
                    response_time=0,
                    response_length=0,
                    exception=error,
                    context={},
                )
    tally = crowd.tally()
    print("chat tally:", json.dumps(tally))
    if crowd.options.chat_summary:
        Path(crowd.options.chat_summary).write_text(json.dumps(tally, indent=2) + "\n")


class ChatUser(HttpUser):
    def wait_time(self) -> float:
        low, high = (float(part) for part in self.crowd.options.chat_think.split(":"))
        return random.uniform(low, high)

    def on_start(self) -> None:
        self.crowd = Crowd.of(self.environment)
        self.ledger = Ledger()
        self.sent = self.reconnects = 0
        self.signed_in = False
        self.rooms = [self.crowd.lobby, self.crowd.enlist(self)]
        self._invited: list[str] = []
        ca = self.crowd.options.chat_ca
        self.client.verify = ca or False
        sslopt: dict[str, Any] = {"ca_certs": ca} if ca else {"cert_reqs": 0}
        host = self.host or ""
        ws_url = host.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
        self.socket = ChatSocket(
            ws_url, origin=host, sslopt=sslopt, on_event=self._event, reply_timeout_s=15
        )
        self.username = f"lt{uuid.uuid4().hex[:14]}"
        self.user_id = self._sign_up()
        self._sign_in()
        self._open(first=True)
        self.crowd.pair(self)

    def on_stop(self) -> None:
        self.socket.close()

    def invite(self, room: str) -> None:
        self._invited.append(room)

    @task
    def act(self) -> None:
        wanted = self.crowd.options.chat_sends
        if self.crowd.closing or (wanted and self.sent >= wanted):
            return
        if time.monotonic() > self._refresh_due:
            self._refresh()
        if not self.socket.open:
            self._reconnect()
        while self._invited:
            room = self._invited.pop()
            self.rooms.append(room)
            self._join(room)
        options, chance = self.crowd.options, random.random()
        if chance < options.chat_reconnect:
            self._reconnect()
        elif chance < options.chat_reconnect + options.chat_read:
            self._read()
        else:
            self._send()

    # -- HTTP ---------------------------------------------------------------------------------

    def _sign_up(self) -> str:
        credentials = {"username": self.username, "password": PASSWORD}
        with self.client.post(
            "/auth/v1/users", json=credentials, name="/auth/v1/users", catch_response=True
        ) as created:
            if created.status_code != 201:
                created.failure(f"sign-up answered {created.status_code}: {created.text[:200]}")
                raise StopUser
            return str(created.json()["id"])

    def _sign_in(self) -> None:
        credentials = {"username": self.username, "password": PASSWORD}
        with self.client.post(
            "/auth/v1/token", json=credentials, name="/auth/v1/token", catch_response=True
        ) as login:
            if login.status_code != 200:
                login.failure(f"sign-in answered {login.status_code}: {login.text[:200]}")
                raise StopUser
            self._tokens(login.json())
        self.signed_in = True

    def _tokens(self, pair: dict[str, Any]) -> None:
        self.access_token = str(pair["access_token"])
        self.refresh_token = str(pair["refresh_token"])
        self._refresh_due = time.monotonic() + REFRESH_AT * float(pair["expires_in"])

    def _refresh(self) -> None:
        body = {"refresh_token": self.refresh_token}
        with self.client.post(
            "/auth/v1/token/refresh", json=body, name="/auth/v1/token/refresh", catch_response=True
        ) as refreshed:
            if refreshed.status_code != 200:
                refreshed.failure(f"refresh answered {refreshed.status_code}")
                return
            self._tokens(refreshed.json())
        if self.socket.open:
            self._timed("refresh", lambda: self.socket.command("refresh", token=self.access_token))

    def _read(self) -> None:
        room = random.choice(self.rooms)
        self.client.get(
            f"/v1/rooms/{room}/messages?limit=20",
            headers={"Authorization": f"Bearer {self.access_token}"},
            name="/v1/rooms/[room]/messages",
        )

    # -- WebSocket ----------------------------------------------------------------------------

    def _open(self, *, first: bool) -> bool:
        def handshake() -> None:
            self.socket.connect()
            self.socket.command("connect", token=self.access_token)

        if not self._timed("connect", handshake):
            return False
        joined = [
            self._join(room, None if first else self.ledger.since(room)) for room in self.rooms
        ]
        return all(joined)

    def _join(self, room: str, since: int | None = None) -> bool:
        incomplete: list[bool] = []

        def catch_up(reply: Frame) -> None:
            self.ledger.joined(room, int(reply["last_seq"]))
            for message in reply.get("messages", []):
                self.ledger.delivered(room, int(message["seq"]), str(message["client_msg_id"]))
            if since is not None and not reply.get("recovered", True):
                incomplete.append(True)

        fields: dict[str, Any] = {"room": room} if since is None else {"room": room, "since": since}
        if not self._timed("join", lambda: self.socket.command("join", catch_up, **fields)):
            return False
        if incomplete:  # more was missed than the catch-up window holds
            self._fire_ms("join", 0, CommandFailedError(f"join {room}: catch-up incomplete"))
        return True

    def _reconnect(self) -> None:
        started = time.perf_counter()
        self.socket.close()
        self.reconnects += 1
        if self._open(first=False):
            self._fire("reconnect", started)

    def _send(self) -> None:
        others = self.rooms[1:]
        lobby = not others or random.random() < self.crowd.options.chat_lobby_share
        room = self.crowd.lobby if lobby else random.choice(others)
        client_msg_id = uuid.uuid4().hex
        sent_at = time.time()
        body = f"{sent_at:.6f} {self.username} says hello #{self.sent}"
        self.ledger.sending(client_msg_id, sent_at)
        self.sent += 1
        started = time.perf_counter()
        try:
            self.socket.command("send", room=room, body=body, client_msg_id=client_msg_id)
        except CommandFailedError as exc:
            self.ledger.refused(client_msg_id)
            self._fire("send ack", started, exc)
            return
        self.ledger.acknowledged(client_msg_id)
        self._fire("send ack", started)
        if self.crowd.options.chat_sends and self.sent >= self.crowd.options.chat_sends:
            self.crowd.finished(self.environment)

    def _event(self, frame: Frame) -> None:
        """Runs in the socket's reader greenlet."""
        if frame["type"] != "message":
            return
        message = frame["message"]
        room = str(message["room"])
        sent_at = self.ledger.delivered(room, int(message["seq"]), str(message["client_msg_id"]))
        now = time.time()
        if sent_at is not None:
            self._fire_ms("deliver own", (now - sent_at) * 1000)
        elif room != self.crowd.lobby:
            stamp = str(message["body"]).split(" ", 1)[0]
            if stamp.replace(".", "", 1).isdigit():
                self._fire_ms("deliver", (now - float(stamp)) * 1000)

    # -- request events -----------------------------------------------------------------------

    def _timed(self, name: str, action: Any) -> bool:
        started = time.perf_counter()
        try:
            action()
        except (CommandFailedError, OSError) as exc:
            self._fire(name, started, exc)
            return False
        self._fire(name, started)
        return True

    def _fire(self, name: str, started: float, exception: Exception | None = None) -> None:
        self._fire_ms(name, (time.perf_counter() - started) * 1000, exception)

    def _fire_ms(self, name: str, elapsed_ms: float, exception: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=elapsed_ms,
            response_length=0,
            exception=exception,
            context={},
        )
