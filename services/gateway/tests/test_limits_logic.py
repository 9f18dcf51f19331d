from __future__ import annotations

from chat_gateway.limits import StrikeMeter, TokenBucket


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_its_rate() -> None:
    clock = _Clock()
    bucket = TokenBucket(rate_per_s=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    wait_ms = bucket.take()
    assert 400 <= wait_ms <= 501
    clock.now += 0.5
    assert bucket.take() == 0
    assert bucket.take() > 0


def test_a_bucket_refills_no_higher_than_its_burst() -> None:
    clock = _Clock()
    bucket = TokenBucket(rate_per_s=10.0, burst=2, clock=clock)
    clock.now += 3600
    assert [bucket.take() for _ in range(3)][:2] == [0, 0]
    assert bucket.take() > 0


def test_strikes_reach_the_limit_whatever_succeeds_in_between() -> None:
    clock = _Clock()
    meter = StrikeMeter(limit=5, decay_per_s=1.0, clock=clock)
    # Nothing but time fades strikes: whatever succeeds between them, five in a row close.
    assert [meter.strike() for _ in range(5)] == [False, False, False, False, True]


def test_strikes_fade_for_a_client_that_hits_a_limit_now_and_then() -> None:
    clock = _Clock()
    meter = StrikeMeter(limit=3, decay_per_s=1.0, clock=clock)
    for _ in range(50):
        assert not meter.strike()
        clock.now += 1.5
