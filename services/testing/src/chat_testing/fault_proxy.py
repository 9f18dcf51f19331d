"""A TCP proxy that puts network faults (latency, resets, outages) on the path from a service to
a server it uses (Redis, Kafka, Postgres), so failure tests need not touch the server itself."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass

# One read from a socket: large enough that a bulk transfer is not split into thousands of reads,
# and the unit ``drop_rate`` is counted in.
CHUNK_BYTES = 64 * 1024
# Chunks held back per direction while latency delays them: 256 x 64 KiB bounds the memory of one
# direction to 16 MiB, yet lets a latency of L carry up to 16 MiB / L (160 MiB/s at 100 ms)
# before the proxy stops reading and the sender's own TCP window pushes back.
HELD_CHUNKS = 256
# SO_LINGER on, with a timeout of zero: close() sends RST instead of FIN, as a crashed peer or a
# middlebox dropping state does.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


@dataclass
class FaultCounters:
    accepted: int = 0
    # Connections the proxy reset as a fault (drop_rate, drop_all, cut); not ones a peer ended.
    resets: int = 0
    # Bytes delivered each way; a chunk lost to a reset is not counted.
    bytes_to_target: int = 0
    bytes_to_client: int = 0


class DeliverySchedule:
    """When each chunk of one direction is due. A chunk waits its delay from when it arrived but
    never leaves before the chunk ahead of it: jitter delays and never reorders (TCP delivers in
    order, so a proxy that reordered would corrupt the stream). Delays overlap instead of adding
    up, so a burst of chunks takes one latency, not one latency per chunk."""

    def __init__(self) -> None:
        self._last_due = 0.0

    def due(self, arrived: float, delay_s: float) -> float:
        self._last_due = max(self._last_due, arrived + delay_s)
        return self._last_due


class FaultProxy:
    """Listens on 127.0.0.1 on a free port and pipes each accepted connection to one of its own to
    the target. Every fault can be set or undone at any moment while traffic flows:

    - ``latency_s`` plus up to ``jitter_s`` (uniform) delays every chunk in each direction, in
      order; it applies to chunks read from then on.
    - ``drop_rate`` is the probability, per chunk read in either direction, that the connection is
      reset instead of the chunk delivered. Per chunk rather than per second: faults then follow
      traffic, an idle connection is never dropped, and a test drives drops by sending (1.0 resets
      each connection at its first chunk).
    - ``drop_all()`` resets every open connection now.
    - ``cut()`` resets every open connection and refuses new ones until ``restore()``.

    A reset closes both sides with RST. ``seed`` makes jitter and drops repeatable."""

    def __init__(self, target_host: str, target_port: int, *, seed: int | None = None) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.counters = FaultCounters()
        self._latency_s = 0.0
        self._jitter_s = 0.0
        self._drop_rate = 0.0
        self._random = random.Random(seed)
        self._reservation: socket.socket | None = None
        self._server: asyncio.Server | None = None
        self._links: dict[asyncio.Task[None], _Link] = {}

    @property
    def port(self) -> int:
        if self._reservation is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._reservation.getsockname()[1]
        return port

    @property
    def latency_s(self) -> float:
        return self._latency_s

    @latency_s.setter
    def latency_s(self, value: float) -> None:
        self._latency_s = _at_least_zero("latency_s", value)

    @property
    def jitter_s(self) -> float:
        return self._jitter_s

    @jitter_s.setter
    def jitter_s(self, value: float) -> None:
        self._jitter_s = _at_least_zero("jitter_s", value)

    @property
    def drop_rate(self) -> float:
        return self._drop_rate

    @drop_rate.setter
    def drop_rate(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"drop_rate is a probability from 0 to 1, not {value}")
        self._drop_rate = value

    async def start(self) -> None:
        # The port stays bound by this socket (never listening) for the proxy's whole life, so
        # while cut the port refuses connections yet no other socket can take it, and restore()
        # listens on the same address again. SO_REUSEPORT lets the listener share it.
        self._reservation = socket.socket()
        self._reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._reservation.bind(("127.0.0.1", 0))
        await self.restore()

    async def stop(self) -> None:
        """Stop listening and reset what is still open (not counted: no fault was asked for)."""
        self._close_listener()
        for link in list(self._links.values()):
            link.end()
        await asyncio.gather(*self._links, return_exceptions=True)
        if self._reservation is not None:
            self._reservation.close()

    def drop_all(self) -> int:
        """Reset every open connection now; returns how many."""
        return sum(self._reset(link) for link in list(self._links.values()))

    async def cut(self) -> None:
        """The server is down: open connections are reset and new ones refused. Refused rather
        than accepted and closed, because a server process that is gone leaves no listener and its
        host's kernel refuses the connection (so does a Kubernetes Service without ready
        endpoints). A connection accepted and then closed would instead show a server that is
        up and hangs up mid-handshake, which clients report and retry differently."""
        self._close_listener()
        self.drop_all()

    async def restore(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_port=True
            )

    def _close_listener(self) -> None:
        if self._server is not None:
            # Connections the kernel completed but nobody accepted yet are reset with it.
            self._server.close()
            self._server = None

    def _delay_s(self) -> float:
        if self._jitter_s == 0.0:
            return self._latency_s
        return self._latency_s + self._random.uniform(0.0, self._jitter_s)

    def _reset(self, link: _Link) -> bool:
        if link.ended:  # drop_all and then cut, before its task has ended
            return False
        self.counters.resets += 1
        link.end()
        return True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        link = _Link(task, writer)
        self.counters.accepted += 1
        self._links[task] = link
        try:
            if self._server is None:  # accepted by the kernel just before a cut
                self._reset(link)
                return
            await self._pipe(link, reader, writer)
        except asyncio.CancelledError:
            if not link.ended:
                raise
            # The proxy ended it on purpose; a handler of start_server that ends cancelled is
            # logged as an error by Python 3.11's streams.
            task.uncancel()
        finally:
            link.abort()
            del self._links[task]

    async def _pipe(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            return  # the target is unreachable: the client is reset at once, not left hanging
        link.target = target_writer
        try:
            async with asyncio.TaskGroup() as carriers:
                carriers.create_task(self._carry(link, reader, target_writer, to_target=True))
                carriers.create_task(self._carry(link, target_reader, writer, to_target=False))
        except* OSError:
            pass  # one side vanished: the finally of _accept resets the other, passing it on
        else:
            link.close()

    async def _carry(
        self,
        link: _Link,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *,
        to_target: bool,
    ) -> None:
        """One direction: reads go into a delay queue at once, and a second task delivers them
        when due, so reading never waits for the latency of the chunks ahead."""
        held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(HELD_CHUNKS)
        schedule = DeliverySchedule()
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as delivery:
            delivery.create_task(self._deliver(held, sink, to_target=to_target))
            while chunk := await source.read(CHUNK_BYTES):
                if self._drop_rate > 0.0 and self._random.random() < self._drop_rate:
                    self._reset(link)  # cancels the connection's task, this one with it
                    return
                await held.put((schedule.due(loop.time(), self._delay_s()), chunk))
            # The end of the stream travels behind the data, delayed like it.
            await held.put((schedule.due(loop.time(), self._delay_s()), b""))

    async def _deliver(
        self,
        held: asyncio.Queue[tuple[float, bytes]],
        sink: asyncio.StreamWriter,
        *,
        to_target: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, chunk = await held.get()
            if (wait_s := due - loop.time()) > 0:
                await asyncio.sleep(wait_s)
            if not chunk:
                if sink.can_write_eof():
                    sink.write_eof()  # a half-close is passed on; the other way may go on
                return
            sink.write(chunk)
            if to_target:
                self.counters.bytes_to_target += len(chunk)
            else:
                self.counters.bytes_to_client += len(chunk)
            await sink.drain()


class _Link:
    """One proxied connection: the client's side, and the target's once connected."""

    def __init__(self, task: asyncio.Task[None], client: asyncio.StreamWriter) -> None:
        self.task = task
        self.client = client
        self.target: asyncio.StreamWriter | None = None
        self.ended = False

    def end(self) -> None:
        """The proxy ends this connection: both sides reset, its task cancelled."""
        self.ended = True
        self.abort()
        if self.task is not asyncio.current_task():
            self.task.cancel()

    def abort(self) -> None:
        """Close both sides at once with RST; nothing still buffered is sent."""
        for side in (self.client, self.target):
            if side is not None and not side.is_closing():
                with contextlib.suppress(OSError):
                    side.get_extra_info("socket").setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE
                    )
                side.transport.abort()

    def close(self) -> None:
        """Both directions ended cleanly: close with FIN after what is buffered."""
        for side in (self.client, self.target):
            if side is not None:
                side.close()


def _at_least_zero(name: str, value: float) -> float:
    if value < 0.0:
        raise ValueError(f"{name} cannot be negative, got {value}")
    return value
