from __future__ import annotations

import pytest

from chat_common.errors import ChatError, ErrorCode
from chat_gateway.limits import ConnectionLimits, StrikeMeter, TokenBucket
from chat_gateway.settings import GatewaySettings


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


def test_a_connection_joins_a_bounded_number_of_rooms_but_may_rejoin_one() -> None:
    limits = ConnectionLimits(GatewaySettings(max_rooms_per_connection=2), _Clock())
    limits.check_join(0, again=False)
    limits.check_join(1, again=False)
    with pytest.raises(ChatError) as refused:
        limits.check_join(2, again=False)
    assert refused.value.code is ErrorCode.FORBIDDEN
    assert "leave one first" in refused.value.message
    limits.check_join(2, again=True)  # a join again of a joined room (catch-up) takes no place


def test_joins_and_leaves_share_one_bucket() -> None:
    clock = _Clock()
    limits = ConnectionLimits(GatewaySettings(join_rate_per_s=1.0, join_burst=2), clock)
    limits.check_join(0, again=False)
    limits.check_move()
    with pytest.raises(ChatError) as refused:
        limits.check_join(0, again=False)
    assert refused.value.code is ErrorCode.RATE_LIMITED
    assert (refused.value.retry_after_ms or 0) > 0
    clock.now += 1.0
    limits.check_move()


def test_only_rate_limited_refusals_count_as_flooding() -> None:
    limits = ConnectionLimits(GatewaySettings(abuse_strikes=3), _Clock())
    forbidden = ChatError(ErrorCode.FORBIDDEN, "not a member of this room")
    limited = ChatError(ErrorCode.RATE_LIMITED, "sending too fast", retry_after_ms=10)
    assert not any(limits.flooding(forbidden) for _ in range(10))
    assert [limits.flooding(limited) for _ in range(3)] == [False, False, True]


def test_malformed_frames_close_the_connection_at_the_setting() -> None:
    limits = ConnectionLimits(GatewaySettings(bad_frames_before_close=3), _Clock())
    assert [limits.malformed() for _ in range(3)] == [False, False, True]
