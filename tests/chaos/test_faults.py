"""Every fault of docs/reliability.md "Faults", one after another, under steady traffic.

The short version of ``make chaos``: one cluster (two gateways, the worker, the auth service, a
Redis and a Kafka broker of its own, the local Postgres behind a proxy), clients on both
gateways that keep sending, editing, deleting, reacting and resending, and the checker after
each fault. A fault passes when the checker finds no breach it did not find before, and when
sending, storing and rejoining all came back (each within a minute: a bound on liveness, not a
speed target; the times are printed, and ``make chaos`` publishes them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from chaos.checker import Verdict
from chaos.cluster import Cluster
from chaos.faults import FAULTS, Fault
from chaos.run import Outcome, play, report
from chaos.stage import Stage, Traffic

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

TRAFFIC = Traffic(speakers=6, listeners=40, rooms=3, rate_per_s=4.0)
HOLD_S, CALM_S = 10.0, 1.0


class Run:
    def __init__(self, stage: Stage, verdict: Verdict) -> None:
        self.stage = stage
        self.known = verdict
        self.outcomes: list[Outcome] = []


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Run]:
    cluster = Cluster(tmp_path_factory.mktemp("chaos"))
    await cluster.start()
    stage = Stage(cluster, TRAFFIC)
    try:
        await stage.start()
        result = Run(stage, await stage.checkpoint())
        assert result.known.holds, result.known.summary()
        yield result
        print("\n" + report(result.outcomes, result.known, "Faults, short run:"))
    finally:
        await stage.stop()
        await cluster.stop()


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
async def test_the_fault_breaks_no_guarantee_and_everything_comes_back(
    run: Run, fault: Fault
) -> None:
    outcome = await play(run.stage, fault, HOLD_S, CALM_S, run.known)
    run.known = outcome.verdict
    run.outcomes.append(outcome)
    print(report([outcome], outcome.verdict, ""))
    assert not outcome.new_breaches, outcome.verdict.summary()
    assert outcome.holds, f"did not come back: {outcome}"
    assert outcome.verdict.acknowledged > 0
