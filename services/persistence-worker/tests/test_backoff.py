from __future__ import annotations

import itertools

from chat_worker.backoff import JITTER, backoff_delays


def test_delays_double_up_to_the_cap_and_stay_there() -> None:
    delays = list(itertools.islice(backoff_delays(0.1, 1.0), 8))
    nominal = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for delay, expected in zip(delays, nominal, strict=True):
        assert expected * (1 - JITTER) <= delay <= expected
