"""The console overview's numbers equal a full count of the stored rows, on both stores.

The overview reads only its windows, along covering indexes and one grouped scan per
window (bridge.events.overview); whatever the queries, what it shows must be what counting
every row by hand gives: per window, by status and by type, the Kustomer calls, and per
hour of the charts, the events by status and the delivery latency.
"""
from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from bridge.admin import charts, stats
from bridge.events.models import Attempt, Event, EventStatus, utcnow


def _hour(moment) -> str:
    return moment.strftime("%Y-%m-%d %H")


@pytest.fixture
def history(runtime):
    """~300 events over three days, every status, three types (one unknown), attempts."""
    rng = random.Random(16)
    now = utcnow()
    events, attempts = [], []
    with runtime.db.session() as session:
        for n in range(300):
            received = now - timedelta(seconds=rng.randint(0, 3 * 86400))
            status = rng.choice(EventStatus.ALL)
            completed = received + timedelta(seconds=rng.uniform(0.05, 90)) \
                if status in (EventStatus.DELIVERED, EventStatus.SKIPPED, EventStatus.DEAD) and rng.random() < 0.9 else None
            event = Event(webhook_id=f"overview-{n}", received_at=received, body=b"{}", headers={},
                          resource_type=rng.choice(["review", "survey_response", None]), topic="create",
                          status=status, attempts=1, updated_at=received, completed_at=completed)
            session.add(event)
            session.flush()
            started = received + timedelta(seconds=1)
            code = rng.choice([200, 201, 404, 429, 500, None])
            method = rng.choice(["GET", "POST"])
            session.add(Attempt(event_id=event.id, action_key="hook:reviews", method=method, target="t",
                                status_code=code, latency_ms=100.0, started_at=started))
            events.append((received, status, event.resource_type, completed))
            attempts.append((started, code, method))
    return now, events, attempts


def test_the_overview_equals_a_full_count(runtime, history):
    now, events, attempts = history
    overview = stats.overview(runtime, now)
    for window, span in zip(overview.windows, (timedelta(hours=1), timedelta(days=1))):
        since = now - span
        inside = [event for event in events if event[0] >= since]
        by_status = Counter(status for _, status, _, _ in inside)
        assert window.by_status == {status: by_status.get(status, 0) for status in EventStatus.ALL}
        assert window.by_type == dict(Counter(kind or "(unknown)" for _, _, kind, _ in inside))
        calls = [attempt for attempt in attempts if attempt[0] >= since]
        assert window.attempts == len(calls)
        assert window.attempts_ok == sum(1 for _, code, _ in calls if code is not None and 200 <= code <= 299)
        assert window.lookup_misses == sum(1 for _, code, method in calls if method == "GET" and code == 404)
    assert overview.dead_waiting == sum(1 for _, status, _, _ in events if status == EventStatus.DEAD)
    assert overview.windows[1].total > overview.windows[0].total > 0  # the sample covers both windows


def test_the_charts_equal_a_full_count_per_hour(runtime, history):
    now, events, _ = history
    hours = charts._hours(now)
    drawn = charts.overview_charts(stats.overview(runtime, now).hourly, now)
    expected = Counter((_hour(received), status) for received, status, _, _ in events if _hour(received) in hours)
    bars = Counter()
    for bar in drawn["events"].bars:
        hour, _, rest = bar.title.partition(":00 UTC: ")
        count, status = rest.split(" ")
        bars[(hour, status)] += int(count)
    assert bars == expected

    latency: dict[str, list[float]] = {}
    for received, status, _, completed in events:
        if status == EventStatus.DELIVERED and completed is not None and _hour(received) in hours:
            latency.setdefault(_hour(received), []).append((completed - received).total_seconds())
    totals: dict[str, list] = {}
    for row in stats.overview(runtime, now).hourly:
        if row.status == EventStatus.DELIVERED and row.completed and row.hour in hours:
            total = totals.setdefault(row.hour, [0, 0.0, 0.0])
            total[0] += row.completed
            total[1] += row.latency_sum
            total[2] = max(total[2], row.latency_max)
    from_rows = {hour: (seconds / count, worst) for hour, (count, seconds, worst) in totals.items()}
    assert set(from_rows) == set(latency)
    for hour, values in latency.items():
        assert from_rows[hour][0] == pytest.approx(sum(values) / len(values), abs=1e-3)
        assert from_rows[hour][1] == pytest.approx(max(values), abs=1e-3)
    assert drawn["latency"].lines and not drawn["latency"].empty
