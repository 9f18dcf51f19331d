"""One benchmark session: every scenario on every system, interleaved.

For each scenario the systems run back to back, each freshly started, so they meet the same
machine within minutes of each other; the order rotates from one scenario to the next so no
system is always first (or always right after this chat's Kafka-heavy runs).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import profile, stages
from bench.fleet import Fleet
from bench.meter import Meter
from bench.scenarios import SCENARIOS, Row, Run, Shape, fanout
from bench.systems import Centrifugo, Chat, ChatStack, FastApiLoop, PicowsFloor, SocketIO

# ``chat-batched`` is chat-direct with its fan-out gathering a room's frames for this long, so
# that a member gets those that arrive close together in one write (``fanout_batch_s``).
BATCH_S = 0.01

SYSTEMS = (
    "chat-nginx",
    "chat-direct",
    "chat-batched",
    "centrifugo",
    "socketio-redis",
    "fastapi-loop",
    "picows-floor",
)
Server = Chat | Centrifugo | SocketIO | FastApiLoop | PicowsFloor


@dataclass
class Session:
    shape: Shape
    systems: list[str]
    scenarios: list[str]
    log_dir: Path
    centrifugo: Path
    rows: list[Row] = field(default_factory=list)
    stack: ChatStack | None = None

    def _server(self, name: str) -> Server:
        if name.startswith("chat-"):
            assert self.stack is not None
            return Chat(
                self.stack,
                through_nginx=name == "chat-nginx",
                batch_s=BATCH_S if name == "chat-batched" else 0.0,
            )
        if name == "centrifugo":
            return Centrifugo(self.log_dir, self.centrifugo)
        if name == "socketio-redis":
            return SocketIO(self.log_dir)
        if name == "fastapi-loop":
            return FastApiLoop(self.log_dir)
        if name == "picows-floor":
            return PicowsFloor(self.log_dir)
        raise ValueError(f"no system {name}; choose from {', '.join(SYSTEMS)}")

    async def run(self, *, profile_to: Path | None = None) -> list[Row]:
        _raise_open_files_limit()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if any(name.startswith("chat-") for name in self.systems):
            self.stack = ChatStack(self.log_dir)
            await self.stack.start()
        try:
            if self.shape.fresh_per_scenario:
                for turn, scenario in enumerate(self.scenarios):
                    shift = turn % len(self.systems)
                    for name in self.systems[shift:] + self.systems[:shift]:
                        await self._on(name, [scenario])
            else:
                for name in self.systems:
                    await self._on(name, self.scenarios)
            if profile_to is not None:
                try:
                    await self._profile(profile_to)
                except (OSError, RuntimeError) as exc:  # the figures above still count
                    print(f"no profile: {exc}", flush=True)
        finally:
            if self.stack is not None:
                await self.stack.stop()
        return self.rows

    async def _on(self, name: str, scenarios: list[str]) -> None:
        """Starts one system, runs the scenarios on it, each with clients of its own, stops it."""
        server = self._server(name)
        deployment = await server.start()
        try:
            for scenario in scenarios:
                load = os.getloadavg()[0]
                print(
                    f"[{time.strftime('%H:%M:%S')}] {scenario} on {name} (load {load:.2f})",
                    flush=True,
                )
                staged = scenario == "acks" and bool(deployment.metrics_urls)
                before = await stages.scrape(deployment.metrics_urls) if staged else None
                async with Fleet(deployment.dialect, self.shape.processes) as fleet:
                    meter = Meter({**deployment.groups, "client": fleet.pids})
                    prefix = (
                        f"b{self.stack.run if self.stack else 'x'}-{scenario}-{name.split('-')[0]}"
                    )
                    rows = await SCENARIOS[scenario](
                        Run(deployment, fleet, meter, prefix), self.shape
                    )
                    await fleet.close()
                if before is not None:
                    after = await stages.scrape(deployment.metrics_urls)
                    for row in rows:
                        row.update(stages.quantiles_ms(before, after))
                for row in rows:
                    print("   ", _summary(row), flush=True)
                self.rows += rows
        finally:
            await server.stop()

    async def _profile(self, directory: Path) -> None:
        """Scenario 2 once more on the gateways, with py-spy sampling one of them."""
        server = self._server("chat-direct")
        deployment = await server.start()
        assert deployment.profile_pid is not None
        try:
            async with Fleet(deployment.dialect, self.shape.processes) as fleet:
                meter = Meter({**deployment.groups, "client": fleet.pids})
                run = Run(
                    deployment, fleet, meter, f"b{self.stack.run if self.stack else 'x'}-profile"
                )
                pid, seconds = deployment.profile_pid, self.shape.fanout_seconds + 1
                rows = await fanout(
                    run, self.shape, lambda: profile.recording(pid, seconds, directory)
                )
                await fleet.close()
        finally:
            await server.stop()
        for row in rows:
            row["system"] = "chat-direct (profiled)"
            print("   ", _summary(row), flush=True)
        self.rows += rows


def _raise_open_files_limit() -> None:
    """Thousands of sockets per process: the soft limit up to the hard one (children inherit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _summary(row: Row) -> str:
    keys = (
        "connections",
        "members",
        "held",
        "kib_per_connection",
        "deliveries_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "server_cpu_ms_per_1k",
        "lost",
        "duplicates",
        "recovered",
        "reconnect_p99_ms",
        "open_failures",
        "refusals",
        "disconnects",
    )
    return ", ".join(f"{key}={row[key]}" for key in keys if row.get(key) not in (None, ""))
