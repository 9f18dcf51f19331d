"""`python -m bench`: one interleaved session; prints each run's figures as it goes and writes
the CSV, the plots and the tables (into docs/benchmarks.md with ``--publish``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from bench import plots, profile, report
from bench.scenarios import FULL, SCENARIOS, SHORT
from bench.session import SYSTEMS, Session

REPO = Path(__file__).resolve().parents[2]
CENTRIFUGO = Path.home() / ".cache/chat/go/bin/centrifugo"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the documented sizes (~25 minutes)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated, in order")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="idle,fanout,steps,churn")
    parser.add_argument("--out", type=Path, default=REPO / ".run/bench", help="CSV, plots, tables")
    parser.add_argument(
        "--publish", action="store_true", help="write docs/benchmarks.md and docs/benchmarks/"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy a gateway in scenario 2")
    parser.add_argument(
        "--centrifugo", type=Path, default=Path(os.environ.get("CHAT_CENTRIFUGO", CENTRIFUGO))
    )
    return parser.parse_args()


def _rank(names: Iterable[str], name: str) -> int:
    order = list(names)
    return order.index(name) if name in order else len(order)


async def main() -> None:
    arguments = _arguments()
    shape = FULL if arguments.full else SHORT
    out: Path = REPO / "docs/benchmarks" if arguments.publish else arguments.out
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    session = Session(
        shape=shape,
        systems=arguments.systems.split(","),
        scenarios=arguments.scenarios.split(","),
        log_dir=REPO / ".run/bench/logs",
        centrifugo=arguments.centrifugo,
    )
    started, load_start, clock = (
        time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        os.getloadavg(),
        time.monotonic(),
    )
    rows = await session.run(profile_to=out if arguments.profile else None)
    # Tables and plots list the systems in one order, whatever order they ran in.
    rows.sort(key=lambda row: (_rank(SCENARIOS, row["scenario"]), _rank(SYSTEMS, row["system"])))
    report.write_csv(rows, out / "results.csv")
    drawn = plots.draw(rows, shape.step_limit_ms, out)
    profiled = ""
    if arguments.profile and (out / "gateway-profile.txt").exists():
        samples, costs = profile.top_costs(out / "gateway-profile.txt")
        profiled = (
            f"### Where a gateway spends its time in (2)\n\npy-spy, {samples:,} samples at "
            f"{profile.RATE_HZ} Hz of one gateway; flame graph: "
            "[gateway-profile.svg](benchmarks/gateway-profile.svg), collapsed stacks: "
            "[gateway-profile.txt](benchmarks/gateway-profile.txt).\n\n"
            + report.profile_table(samples, costs)
        )
    command = "PYTHONPATH=loadtests:services/gateway/tests uv run python -m bench " + shlex.join(
        sys.argv[1:]
    )
    header = report.session_header(
        started=started,
        load_start=load_start,
        load_end=os.getloadavg(),
        command=command,
        shape="full" if arguments.full else "short",
        minutes=(time.monotonic() - clock) / 60,
    )
    base = "benchmarks/" if arguments.publish else ""
    body = report.results(
        rows,
        limit_ms=shape.step_limit_ms,
        header=header,
        plots=[base + path.name for path in drawn],
        profile=profiled,
    )
    target = REPO / "docs/benchmarks.md" if arguments.publish else out / "report.md"
    report.publish(target, body + f"\n\nRaw figures: [{base}results.csv]({base}results.csv).")
    print(f"\n{body}\n\nwritten: {target}, {out / 'results.csv'}")


async def _stopping_on_sigterm() -> None:
    """SIGTERM cancels the session like Ctrl-C does, so every process it started is stopped."""
    task = asyncio.ensure_future(main())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await task


if __name__ == "__main__":
    asyncio.run(_stopping_on_sigterm())
