"""The record-age histogram counted a batch at a time exposes what prometheus_client's own
Histogram would, fed the same ages one by one (the alerts and dashboards read its series)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import generate_latest

from chat_worker.metrics import AGE_BUCKETS, RecordAges

# On the bounds (le= includes its bound), between them, zero and past the last one.
AGES = [0.0, 0.01, 0.010001, 0.3, 1.0, 1.5, 2.0, 2.0, 59.9, 300.0, 300.1, 4000.0]


def _samples(registry: CollectorRegistry) -> list[str]:
    return [
        line
        for line in generate_latest(registry).decode().splitlines()
        if line.startswith("chat_worker_record_age_seconds") and "_created" not in line
    ]


def test_record_ages_expose_the_series_a_histogram_would() -> None:
    batched, reference = CollectorRegistry(), CollectorRegistry()
    ages = RecordAges(batched)
    histogram = Histogram(
        "chat_worker_record_age_seconds", "same", buckets=AGE_BUCKETS, registry=reference
    )

    ages.observe_many(AGES[:5])
    ages.observe_many([])
    ages.observe_many(AGES[5:])
    for age in AGES:
        histogram.observe(age)

    assert _samples(batched) == _samples(reference)
    assert 'chat_worker_record_age_seconds_bucket{le="2.0"} 8.0' in _samples(batched)
    assert "chat_worker_record_age_seconds_count 12.0" in _samples(batched)
