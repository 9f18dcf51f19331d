"""The session's figures as CSV and as the Markdown tables of docs/benchmarks.md.

The tables go between two marker lines of the report file, so the prose around them stays as
written; the raw rows go to a CSV beside the plots.
"""

from __future__ import annotations

import csv
import os
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench import stages
from bench.scenarios import Row

BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
OURS = ("chat-direct", "chat-batched", "chat-nginx")


def write_csv(rows: list[Row], path: Path) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        writer.writerows(rows)


def _table(header: list[str], lines: Iterable[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None or value == "":
            return "-"
        if isinstance(value, float):
            return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in line) + " |" for line in lines]
    return "\n".join(out)


def _of(rows: list[Row], scenario: str) -> list[Row]:
    return [row for row in rows if row["scenario"] == scenario]


def _infra(row: Row) -> float | None:
    parts = [row.get(f"{g}_cpu_ms_per_1k") for g in ("redis", "kafka", "postgres", "worker")]
    known = [p for p in parts if p is not None]
    return sum(known) if known else None


def fanout_table(rows: list[Row]) -> str:
    return _table(
        [
            "system",
            "deliveries/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "server CPU ms / 1k",
            "balancer",
            "Redis",
            "Kafka",
            "Postgres",
            "worker",
            "client",
            "lost",
            "dup",
        ],
        (
            [
                r["system"],
                r["deliveries_per_s"],
                r["p50_ms"],
                r["p99_ms"],
                r["max_ms"],
                r.get("server_cpu_ms_per_1k"),
                r.get("proxy_cpu_ms_per_1k"),
                r.get("redis_cpu_ms_per_1k"),
                r.get("kafka_cpu_ms_per_1k"),
                r.get("postgres_cpu_ms_per_1k"),
                r.get("worker_cpu_ms_per_1k"),
                r.get("client_cpu_ms_per_1k"),
                r["lost"],
                r["duplicates"],
            ]
            for r in _of(rows, "fanout")
        ),
    )


def rates_table(rows: list[Row]) -> str:
    return _table(
        [
            "system",
            "msg/s",
            "deliveries/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "server CPU ms / 1k",
            "lost",
            "dup",
        ],
        (
            [
                r["system"],
                r["rate"],
                r["deliveries_per_s"],
                r["p50_ms"],
                r["p99_ms"],
                r["max_ms"],
                r.get("server_cpu_ms_per_1k"),
                r["lost"],
                r["duplicates"],
            ]
            for r in _of(rows, "rates")
        ),
    )


def acks_table(rows: list[Row]) -> str:
    return _table(
        [
            "system",
            "rooms",
            "msg/s",
            "ack p50 ms",
            "ack p95 ms",
            "ack p99 ms",
            "ack max ms",
            "deliver p99 ms",
            "unacked",
            "lost",
            "dup",
            "admit p50 / p99 ms",
            "Kafka append p50 / p99 ms",
            "publish p50 / p99 ms",
        ],
        (
            [
                r["system"],
                r["rooms"],
                r["rate"],
                r["ack_p50_ms"],
                r["ack_p95_ms"],
                r["ack_p99_ms"],
                r["ack_max_ms"],
                r["p99_ms"],
                r["sent"] - r["acked"],
                r["lost"],
                r["duplicates"],
                *(_pair(r, stage) for stage in stages.STAGES),
            ]
            for r in _of(rows, "acks")
        ),
    )


def _pair(row: Row, stage: str) -> str:
    """``p50 / p99`` of a send stage, as measured from the gateways' own histograms."""
    low, high = row.get(f"{stage}_p50_ms"), row.get(f"{stage}_p99_ms")
    if low is None or high is None or low == "" or high == "":
        return ""
    return f"{float(low):g} / {float(high):g}"


def idle_table(rows: list[Row]) -> str:
    return _table(
        [
            "system",
            "connections",
            "held",
            "KiB / connection",
            "server RSS MiB",
            "balancer RSS MiB",
            "opened in s",
            "idle server CPU %",
            "failures",
        ],
        (
            [
                r["system"],
                r["connections"],
                r["held"],
                r["kib_per_connection"],
                r["server_rss_mib"],
                r["proxy_rss_mib"] or None,
                r["open_seconds"],
                r["idle_server_cpu_pct"],
                r["open_failures"],
            ]
            for r in _of(rows, "idle")
        ),
    )


def held(rows: list[Row], system: str, limit_ms: float) -> int:
    """The most members one room had while p95 stayed within the limit and ≤ 1 % was lost."""
    best = 0
    for row in _of(rows, "steps"):
        p95 = row.get("p95_ms")
        within = p95 is not None and p95 <= limit_ms
        if row["system"] == system and within and row["lost"] <= 0.01 * max(row["expected"], 1):
            best = max(best, row["members"])
    return best


def steps_table(rows: list[Row], limit_ms: float) -> str:
    systems = list(dict.fromkeys(r["system"] for r in _of(rows, "steps")))
    lines = []
    for system in systems:
        mine = [r for r in _of(rows, "steps") if r["system"] == system]
        trail = ", ".join(f"{r['members']:,}: {r['p95_ms']}" for r in mine)
        server = [r.get("server_cpu_ms_per_1k") for r in mine]
        lines.append(
            [system, held(rows, system, limit_ms), trail, server[-1], sum(r["lost"] for r in mine)]
        )
    return _table(
        [
            "system",
            f"members held (p95 ≤ {limit_ms:.0f} ms)",
            "p95 ms at each step (members: ms)",
            "server CPU ms / 1k (last step)",
            "lost",
        ],
        lines,
    )


def churn_table(rows: list[Row]) -> str:
    return _table(
        [
            "system",
            "connections",
            "deliveries/s",
            "p50 ms",
            "p99 ms",
            "reconnect p50 ms",
            "reconnect p99 ms",
            "caught up",
            "never arrived",
            "dup",
            "server CPU %",
        ],
        (
            [
                r["system"],
                r["connections"],
                r["deliveries_per_s"],
                r["p50_ms"],
                r["p99_ms"],
                r["reconnect_p50_ms"],
                r["reconnect_p99_ms"],
                r["recovered"],
                r["lost"],
                r["duplicates"],
                r.get("server_cpu_pct"),
            ]
            for r in _of(rows, "churn")
        ),
    )


def _ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "-"
    return f"{ours / theirs:.2f}x"


def ratio_table(rows: list[Row], limit_ms: float) -> str:
    fan = {r["system"]: r for r in _of(rows, "fanout") if "profiled" not in r["system"]}
    idle: dict[str, Row] = {}
    for r in _of(rows, "idle"):
        idle[r["system"]] = r  # the largest count each system reached
    lines = []
    for ours in (name for name in OURS if name in fan or name in idle):
        for peer in fan.keys() | idle.keys():
            if peer in OURS:
                continue
            mine, theirs = fan.get(ours, {}), fan.get(peer, {})
            lines.append(
                [
                    f"{ours} / {peer}",
                    _ratio(mine.get("server_cpu_ms_per_1k"), theirs.get("server_cpu_ms_per_1k")),
                    _ratio(mine.get("p99_ms"), theirs.get("p99_ms")),
                    _ratio(
                        idle.get(ours, {}).get("kib_per_connection"),
                        idle.get(peer, {}).get("kib_per_connection"),
                    ),
                    _ratio(held(rows, ours, limit_ms), held(rows, peer, limit_ms)),
                ]
            )
    return _table(
        [
            "ours / peer",
            "server CPU per 1k deliveries (2)",
            "p99 (2)",
            "KiB per connection (1)",
            "members held (3)",
        ],
        sorted(lines),
    )


def profile_table(samples: int, costs: list[tuple[str, int, int]]) -> str:
    return _table(
        ["function (module)", "self %", "total %"],
        (
            [name, round(100 * own / samples, 1), round(100 * total / samples, 1)]
            for name, own, total in costs
        ),
    )


def results(
    rows: list[Row], *, limit_ms: float, header: str, plots: list[str], profile: str
) -> str:
    sections = [
        header,
        "### (2) One room: fan-out\n\n" + fanout_table(rows),
        "### (2b) The same room at other rates\n\n" + rates_table(rows),
        "### (1) Idle connections\n\n" + idle_table(rows),
        "### (3) Steps until p95 passes the limit\n\n" + steps_table(rows, limit_ms),
        "### (4) Small rooms with reconnects\n\n" + churn_table(rows),
        "### (5) The send path: acknowledgements in rooms of two\n\n" + acks_table(rows),
        "### Ours against each peer\n\nA ratio below 1x is in our favour for CPU, latency and "
        "memory, above 1x for members held.\n\n" + ratio_table(rows, limit_ms),
    ]
    if plots:
        sections.append("### Plots\n\n" + "\n".join(f"![{Path(p).stem}]({p})" for p in plots))
    if profile:
        sections.append(profile)
    return "\n\n".join(sections)


def session_header(
    *,
    started: str,
    load_start: tuple[float, ...],
    load_end: tuple[float, ...],
    command: str,
    shape: str,
    minutes: float,
) -> str:
    machine = f"{os.cpu_count()} x {_cpu_model()}, Python {platform.python_version()}"
    return (
        f"Session of {started} UTC on {platform.node()} ({machine}), "
        f"{shape} shape, {minutes:.0f} minutes; load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in load_start)} at the start and "
        f"{', '.join(f'{x:.2f}' for x in load_end)} at the end.\n\n"
        f"```\n{command}\n```"
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def publish(report: Path, body: str) -> None:
    """Puts ``body`` between the report's markers (or appends markers and body)."""
    text = report.read_text() if report.exists() else ""
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    report.write_text(text)
