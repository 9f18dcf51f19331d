"""``make chaos``: every fault, several rounds, under heavier traffic; the report goes to
.run/chaos/report.md and, with ``--publish``, into docs/reliability.md "Faults"."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from chaos.checker import Verdict
from chaos.cluster import Cluster
from chaos.faults import FAULTS
from chaos.run import Outcome, play, report
from chaos.stage import Stage, Traffic
from gateway_harness import REPO

BEGIN, END = "<!-- chaos:begin -->", "<!-- chaos:end -->"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chaos", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="times every fault is played")
    # What one client process drives on two shared cores beside the whole system: at 1,000
    # listeners (about 10,000 deliveries/s to decode) the clients themselves fall behind.
    parser.add_argument("--speakers", type=int, default=12)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--rooms", type=int, default=6)
    parser.add_argument("--rate", type=float, default=4.0, help="commands/s per speaker")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds an outage lasts")
    parser.add_argument("--calm", type=float, default=15.0, help="plain traffic after each fault")
    parser.add_argument("--only", action="append", default=[], help="faults whose name has this")
    parser.add_argument("--publish", action="store_true", help="write the report into the docs")
    return parser.parse_args()


async def main() -> int:
    arguments = _arguments()
    # The run's own Kafka clients (readiness probes, topic set-up) fail on purpose while the
    # broker is stopped; their connection errors would bury the report.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    out = REPO / ".run" / "chaos"
    log_dir = out / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    log_dir.mkdir(parents=True)
    faults = [f for f in FAULTS if not arguments.only or any(o in f.name for o in arguments.only)]
    traffic = Traffic(arguments.speakers, arguments.listeners, arguments.rooms, arguments.rate)
    cluster = Cluster(log_dir)
    await cluster.start()
    stage = Stage(cluster, traffic)
    outcomes: list[Outcome] = []
    began = time.monotonic()
    try:
        await stage.start()
        await asyncio.sleep(arguments.calm)
        known = await stage.checkpoint()
        for round_ in range(arguments.rounds):
            for fault in faults:
                fault.notes.clear()
                outcome = await play(stage, fault, arguments.hold, arguments.calm, known)
                known = outcome.verdict
                outcome.fault += f" (round {round_ + 1})" if arguments.rounds > 1 else ""
                outcomes.append(outcome)
                print(f"{outcome.fault}: {'held' if outcome.holds else 'BROKEN'}", flush=True)
        final: Verdict = known
    finally:
        await stage.stop()
        await cluster.stop()
    minutes = (time.monotonic() - began) / 60
    header = (
        f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {minutes:.0f} min: `make chaos` "
        f"({arguments.rounds} rounds; {traffic.speakers} speakers at {traffic.rate_per_s:g} "
        f"commands/s, {traffic.listeners} listeners, {traffic.rooms} rooms, two gateways; "
        f"outages held {arguments.hold:g} s) on a shared {os.cpu_count()}-core machine."
    )
    text = report(outcomes, final, header)
    (out / "report.md").write_text(text + "\n")
    print(text)
    if arguments.publish:
        _publish(REPO / "docs" / "reliability.md", text)
    return 0 if final.holds and all(o.holds for o in outcomes) else 1


def _publish(doc: Path, text: str) -> None:
    page = doc.read_text()
    block = f"{BEGIN}\n{text}\n{END}"
    page, found = re.subn(
        re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, page, flags=re.S
    )
    if not found:
        raise SystemExit(f"{doc} has no {BEGIN} … {END} block to publish into")
    doc.write_text(page)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
