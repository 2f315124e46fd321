"""Pacer: a fake clock stands in for time, so nothing here really sleeps."""
from __future__ import annotations

import threading

import pytest

from bridge.kustomer.pacing import Pacer


class FakeClock:
    def __init__(self, now: float = 1000.0, advance_on_sleep: bool = True):
        self.now = now
        self.sleeps: list[float] = []
        self.advance_on_sleep = advance_on_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance_on_sleep:
            self.now += seconds


def test_calls_spread_within_the_budget_never_wait():
    clock = FakeClock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep)
    for _ in range(60):
        assert pacer.acquire() == 0.0
        clock.now += 1.0
    assert clock.sleeps == []


def test_a_burst_of_one_seconds_worth_goes_at_once_then_calls_are_spaced():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)  # 10/s
    for _ in range(10):
        pacer.acquire()
    assert clock.sleeps == []
    pacer.acquire()
    assert clock.sleeps == [pytest.approx(0.1)]


def test_the_call_over_budget_within_60s_waits_until_the_window_allows_it():
    clock = FakeClock()
    start = clock.now
    pacer = Pacer(120, clock=clock, sleep=clock.sleep)  # 2/s, burst of 2
    grants = []
    for _ in range(121):
        pacer.acquire()
        grants.append(clock.now - start)
    # The burst plus the steady rate fit all 120 into the first 59 s ...
    assert grants[119] == pytest.approx(59.0)
    # ... the bucket alone would let the 121st go at 59.5, but that would put 121 calls
    # in one 60 s window: it must wait for the first call to leave the window.
    assert grants[120] == pytest.approx(60.0)
    assert all(later - earlier >= 60.0 - 1e-9 for earlier, later in zip(grants, grants[120:]))


def test_no_60s_window_ever_holds_more_than_the_budget_under_sustained_load():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    grants = []
    for _ in range(2000):
        pacer.acquire()
        grants.append(clock.now)
    assert all(later - earlier >= 60.0 - 1e-9 for earlier, later in zip(grants, grants[600:]))
    # ... while still using (nearly) the whole budget.
    assert grants[-1] - grants[0] < 2000 / 600 * 60 + 1


def test_pause_until_holds_every_acquire_until_the_deadline():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    pacer.pause_until(clock.now + 5)
    assert pacer.pause_remaining() == pytest.approx(5)
    assert pacer.acquire() == pytest.approx(5)
    assert pacer.pause_remaining() == 0
    assert pacer.acquire() == 0.0


def test_an_earlier_deadline_does_not_shorten_a_pause():
    clock = FakeClock()
    pacer = Pacer(0, clock=clock, sleep=clock.sleep)
    pacer.pause_until(clock.now + 10)
    pacer.pause_for(2)
    assert pacer.pause_remaining() == pytest.approx(10)


def test_zero_turns_pacing_off_but_pauses_still_apply():
    clock = FakeClock()
    pacer = Pacer(0, clock=clock, sleep=clock.sleep)
    for _ in range(5000):
        pacer.acquire()
    assert clock.sleeps == []
    pacer.pause_for(3)
    pacer.acquire()
    assert clock.sleeps == [pytest.approx(3)]


def test_threads_get_distinct_slots():
    # The clock is frozen, so each thread's wait is exactly how far ahead its slot was
    # reserved: 10 burst slots at 0, then one every 0.1 s. A race would hand two threads
    # the same slot.
    clock = FakeClock(advance_on_sleep=False)
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(50):
            wait = pacer.acquire()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [0.0] * 10 + [0.1 * k for k in range(1, 391)]
    assert sorted(waits) == pytest.approx(expected)


def test_negative_budget_is_rejected():
    with pytest.raises(ValueError):
        Pacer(-1)
