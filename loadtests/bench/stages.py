"""Where this chat's acknowledgements spend their time: the gateways' own send-stage histograms
(``chat_gateway_send_stage_seconds``: admit, append to Kafka, publish to Redis), read from their
``/metrics`` before and after a scenario, the difference summed over the gateways."""

from __future__ import annotations

import math

import httpx
from prometheus_client.parser import text_string_to_metric_families

STAGES = ("admit", "append", "publish")
_METRIC = "chat_gateway_send_stage_seconds"

# stage -> upper bound of a bucket -> cumulative count
Buckets = dict[str, dict[float, float]]


async def scrape(urls: list[str]) -> Buckets:
    """The gateways' send-stage buckets, summed."""
    summed: Buckets = {stage: {} for stage in STAGES}
    async with httpx.AsyncClient(timeout=5.0) as client:
        for url in urls:
            response = await client.get(url)
            response.raise_for_status()
            for family in text_string_to_metric_families(response.text):
                if family.name != _METRIC:
                    continue
                for sample in family.samples:
                    stage = sample.labels.get("stage")
                    if sample.name == f"{_METRIC}_bucket" and stage in summed:
                        bound = float(sample.labels["le"])
                        summed[stage][bound] = summed[stage].get(bound, 0.0) + sample.value
    return summed


def quantiles_ms(before: Buckets, after: Buckets) -> dict[str, float | None]:
    """p50 and p99 of each stage between the two scrapes, in ms (the bucket's upper bound, as
    Prometheus' histogram_quantile reads it without interpolation)."""
    figures: dict[str, float | None] = {}
    for stage in STAGES:
        bounds = sorted(after[stage])
        counts = [after[stage][b] - before[stage].get(b, 0.0) for b in bounds]
        total = counts[-1] if counts else 0.0
        for q in (50, 99):
            figures[f"{stage}_p{q}_ms"] = _bound_ms(bounds, counts, total * q / 100)
    return figures


def _bound_ms(bounds: list[float], counts: list[float], rank: float) -> float | None:
    if not counts or counts[-1] <= 0:
        return None
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            return bound * 1000 if math.isfinite(bound) else None
    return None
