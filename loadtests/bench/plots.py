"""PNG plots of a session (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.scenarios import Row

GROUPS = (
    ("server", "server"),
    ("proxy", "balancer"),
    ("redis", "Redis"),
    ("kafka", "Kafka"),
    ("postgres", "Postgres"),
    ("worker", "worker"),
)


def _of(rows: list[Row], scenario: str) -> list[Row]:
    return [row for row in rows if row["scenario"] == scenario and "profiled" not in row["system"]]


def fanout_cpu(rows: list[Row], path: Path) -> None:
    fan = _of(rows, "fanout")
    figure, axes = plt.subplots(figsize=(9, 4.5))
    bottoms = [0.0] * len(fan)
    for key, label in GROUPS:
        values = [row.get(f"{key}_cpu_ms_per_1k") or 0.0 for row in fan]
        if any(values):
            axes.bar([row["system"] for row in fan], values, bottom=bottoms, label=label)
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set_ylabel("CPU ms per 1,000 deliveries")
    axes.set_title("(2) One room fan-out: CPU per 1,000 deliveries, by process group")
    axes.legend()
    _save(figure, axes, path)


def fanout_latency(rows: list[Row], path: Path) -> None:
    fan = _of(rows, "fanout")
    figure, axes = plt.subplots(figsize=(9, 4.5))
    names = [row["system"] for row in fan]
    width = 0.27
    for offset, (key, label) in enumerate(
        (("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max"))
    ):
        positions = [i + (offset - 1) * width for i in range(len(fan))]
        axes.bar(positions, [row[key] or 0 for row in fan], width, label=label)
    axes.set_xticks(range(len(fan)), names)
    axes.set_yscale("log")
    axes.set_ylabel("publish → deliver, ms (log)")
    axes.set_title("(2) One room fan-out: latency")
    axes.legend()
    _save(figure, axes, path)


def idle_memory(rows: list[Row], path: Path) -> None:
    idle = _of(rows, "idle")
    counts = sorted({row["connections"] for row in idle})
    systems = list(dict.fromkeys(row["system"] for row in idle))
    figure, axes = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / max(len(counts), 1)
    for n, count in enumerate(counts):
        values = {
            row["system"]: row["kib_per_connection"] for row in idle if row["connections"] == count
        }
        positions = [i + (n - (len(counts) - 1) / 2) * width for i in range(len(systems))]
        axes.bar(
            positions, [values.get(s, 0) for s in systems], width, label=f"{count:,} connections"
        )
    axes.set_xticks(range(len(systems)), systems)
    axes.set_ylabel("server KiB per connection")
    axes.set_title("(1) Idle connections: resident memory per connection")
    axes.legend()
    _save(figure, axes, path)


def steps_p95(rows: list[Row], limit_ms: float, path: Path) -> None:
    steps = _of(rows, "steps")
    figure, axes = plt.subplots(figsize=(9, 4.5))
    for system in dict.fromkeys(row["system"] for row in steps):
        mine = [row for row in steps if row["system"] == system and row["p95_ms"] is not None]
        axes.plot(
            [r["members"] for r in mine], [r["p95_ms"] for r in mine], marker="o", label=system
        )
    axes.axhline(limit_ms, color="grey", linestyle="--", linewidth=1)
    axes.set_yscale("log")
    axes.set_xlabel("members of the room")
    axes.set_ylabel("p95 publish → deliver, ms (log)")
    axes.set_title(f"(3) Steps: p95 as the room grows (limit {limit_ms:.0f} ms)")
    axes.legend()
    _save(figure, axes, path)


def _save(figure: Figure, axes: Axes, path: Path) -> None:
    axes.tick_params(axis="x", labelrotation=15)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def draw(rows: list[Row], limit_ms: float, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    drawn = []
    for scenario, name in (
        ("fanout", "fanout-cpu.png"),
        ("fanout", "fanout-latency.png"),
        ("idle", "idle-memory.png"),
        ("steps", "steps-p95.png"),
    ):
        if not _of(rows, scenario):
            continue
        path = directory / name
        if name == "fanout-cpu.png":
            fanout_cpu(rows, path)
        elif name == "fanout-latency.png":
            fanout_latency(rows, path)
        elif name == "idle-memory.png":
            idle_memory(rows, path)
        else:
            steps_p95(rows, limit_ms, path)
        drawn.append(path)
    return drawn
