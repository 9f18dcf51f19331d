"""Play faults one after another under steady traffic and measure what each one cost.

For each fault: the time from its end until every speaker had a command acknowledged again
(sending recovered), until Postgres held everything acknowledged before its end (stored
recovered), until every client was connected and joined again; the commands refused and the
attempts left unanswered meanwhile; the delay from a command's first sending to a live
receipt by another client (p50/p99) across the fault's window; and the checker's verdict at the
checkpoint after it.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

from chaos.checker import Verdict
from chaos.faults import BROKEN, Fault
from chaos.stage import SETTLE_S, Stage


@dataclass
class Outcome:
    fault: str
    promise: str
    sending_s: float | None
    stored_s: float | None
    reconnected_s: float | None
    acked_during: int  # acknowledgements between the fault's start and its end
    refused: dict[str, int]
    unanswered: int
    reconnects: int
    delivery_ms: tuple[float, float] | None
    verdict: Verdict
    new_breaches: dict[str, int]
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return (
            BROKEN not in self.notes
            and not self.new_breaches
            and None
            not in (
                self.sending_s,
                self.stored_s,
                self.reconnected_s,
            )
        )


async def play(stage: Stage, fault: Fault, hold_s: float, calm_s: float, known: Verdict) -> Outcome:
    """``fault`` under the stage's traffic, then ``calm_s`` of plain traffic and a checkpoint.
    ``known`` is the verdict before it: only breaches beyond it are this fault's."""
    began = time.monotonic()
    refused_before = _refusals(stage)
    unanswered_before = sum(c.unanswered for j in stage.journals for c in j.commands)
    connections_before = sum(j.connections for j in stage.journals)
    acked_before = set(stage.acknowledged_ids())
    ended = await fault.inject(stage, hold_s, fault.notes)
    acked_at_end = [i for i in stage.acknowledged_ids() if i not in acked_before]
    # The three clocks run side by side, while a killed process is being started again.
    sending, stored_s, reconnected_s = await asyncio.gather(
        _sending_recovered(stage, ended),
        _stored(stage, list(acked_before) + acked_at_end, ended),
        _rejoined(stage, began, ended),
    )
    await stage.repaired()
    await asyncio.sleep(calm_s)
    delivery = _delivery_ms(stage, began)
    verdict = await stage.checkpoint()
    refused = _refusals(stage) - refused_before
    acked_during = sum(began <= t <= ended for s in stage.speakers for t in s.acks)
    return Outcome(
        fault=fault.name,
        promise=fault.promise,
        sending_s=sending,
        stored_s=stored_s,
        reconnected_s=reconnected_s,
        acked_during=acked_during,
        refused=dict(refused),
        unanswered=sum(c.unanswered for j in stage.journals for c in j.commands)
        - unanswered_before,
        reconnects=sum(j.connections for j in stage.journals) - connections_before,
        delivery_ms=delivery,
        verdict=verdict,
        new_breaches={
            kind: count - known.breaches.get(kind, 0)
            for kind, count in verdict.breaches.items()
            if count > known.breaches.get(kind, 0)
        },
        notes=dict(fault.notes),
    )


def _refusals(stage: Stage) -> Counter[str]:
    return Counter(code for j in stage.journals for c in j.commands for code in c.refusals)


async def _stored(stage: Stage, ids: list[str], ended: float) -> float | None:
    """Seconds from ``ended`` until Postgres held every one of ``ids``."""
    if await stage.stored(ids) is None:
        return None
    return time.monotonic() - ended


async def _rejoined(stage: Stage, began: float, ended: float) -> float | None:
    """Seconds from ``ended`` until every client whose connection ended after ``began`` was
    connected and joined again (0 when none lost its connection)."""
    # A client notices a dead connection a moment after the fault: give it that moment.
    await asyncio.sleep(0.5)
    if not await stage.until(lambda: all(s.journal.connected for s in stage.speakers), SETTLE_S):
        return None
    back = [
        after[0]
        for journal in stage.journals
        for before, after in itertools.pairwise(journal.sessions)
        if before[1] is not None and before[1] >= began and after[0] is not None
    ]
    return max(0.0, max(back, default=ended) - ended)


async def _sending_recovered(stage: Stage, ended: float) -> float | None:
    """Seconds from ``ended`` until every speaker had an acknowledgement after it."""
    speakers = [s for s in stage.speakers if s.rate_per_s > 0]

    def everyone() -> bool:
        return all(s.acks and s.acks[-1] >= ended for s in speakers)

    if not await stage.until(everyone, SETTLE_S):
        return None
    return max(min(t for t in s.acks if t >= ended) for s in speakers) - ended


def _delivery_ms(stage: Stage, since: float) -> tuple[float, float] | None:
    sent = {
        command.acks[0].id: (journal.user, command.sent_at)
        for journal in stage.journals
        for command in journal.commands
        if command.acks and command.sent_at >= since
    }
    delays = [
        (received.at - sent[received.entry.id][1]) * 1000
        for journal in stage.journals
        for received in journal.received
        if received.live
        and received.entry.id in sent
        and sent[received.entry.id][0] != journal.user
    ]
    if len(delays) < 2:
        return None
    cuts = statistics.quantiles(delays, n=100)
    return statistics.median(delays), cuts[98]


def report(outcomes: list[Outcome], final: Verdict, header: str) -> str:
    """The results as docs/reliability.md "Faults" shows them (Markdown)."""

    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f} s"

    lines = [
        header,
        "",
        "| fault | promise | held | acked during | sending again | all stored | all rejoined | "
        "refused | reconnects | send → delivery p50 / p99 | observed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        refused = ", ".join(f"{n} {code}" for code, n in sorted(o.refused.items())) or "none"
        if o.unanswered:
            refused += f"; {o.unanswered} unanswered"
        delivery = (
            "-" if o.delivery_ms is None else f"{o.delivery_ms[0]:.0f} / {o.delivery_ms[1]:.0f} ms"
        )
        breaches = ", ".join(f"{kind} ({n})" for kind, n in o.new_breaches.items())
        notes = "; ".join(f"{k}: {v}" for k, v in o.notes.items()) or "-"
        held = "yes" if o.holds else "NO: " + (breaches or "did not recover")
        lines.append(
            f"| {o.fault} | {o.promise} | {held} | {o.acked_during} | "
            f"{seconds(o.sending_s)} | {seconds(o.stored_s)} | {seconds(o.reconnected_s)} | "
            f"{refused} | {o.reconnects} | {delivery} | {notes} |"
        )
    lines += ["", "Checker, over the whole run:", "", "```", final.summary(), "```"]
    return "\n".join(lines)
