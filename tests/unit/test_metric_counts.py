"""Folded metric counts (bridge.events.counters) equal a full scan of the store at every
step: ingest, processing, folding, replay, folding again, retention pruning."""
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select, update

from bridge.delivery import retention
from bridge.events import counters, store
from bridge.events.models import Attempt, Event, MetricCount, utcnow
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.test_metrics import value


def full_scan(session) -> dict:
    """What the counts must be: the store's rows grouped, as /metrics computed them before."""
    counts = defaultdict(float)
    for resource_type, status, n in session.execute(
            select(Event.resource_type, Event.status, func.count()).group_by(Event.resource_type, Event.status)):
        counts[(counters.EVENTS, resource_type or "", status)] += n
    for action, code, method, latency in session.execute(
            select(Attempt.action_key, Attempt.status_code, Attempt.method, Attempt.latency_ms)):
        counts[(counters.ATTEMPTS, action, counters.ALL)] += 1
        counts[(counters.ATTEMPTS, action, counters.OK)] += code is not None and 200 <= code <= 299
        counts[(counters.ATTEMPTS, action, counters.LOOKUP_MISS)] += method == "GET" and code == 404
        if latency is not None:
            counts[(counters.LATENCY, action, counters.COUNT)] += 1
            counts[(counters.LATENCY, action, counters.SUM_MS)] += latency
            for le in counters.LATENCY_BUCKETS:
                counts[(counters.LATENCY, action, counters.le_label(le))] += latency <= le * 1000
    return {key: n for key, n in counts.items() if n}


def folded(session) -> dict:
    return {key: n for key, n in counters.read(session).items() if n}


def check(runtime) -> None:
    with runtime.db.session() as session:
        assert folded(session) == full_scan(session)


def add(runtime, n, status, *, age_days=0.0, attempts=((200, "POST", 120.0),), resource_type="review"):
    with runtime.db.session() as session:
        event_id = store.store_event(session, webhook_id=f"msg_{n}", body=b'{"a": 1}', headers={},
                                     status="pending", resource_type=resource_type).event_id
        if status != "pending":
            then = utcnow() - timedelta(days=age_days)
            session.execute(update(Event).where(Event.id == event_id)
                            .values(status=status, received_at=then, completed_at=then))
        for code, method, latency in attempts:
            session.add(Attempt(event_id=event_id, action_key=f"{method.lower()}:x", method=method,
                                target="x", status_code=code, latency_ms=latency))
    return event_id


def fold(runtime, batch=counters.BATCH) -> int:
    with runtime.db.session() as session:
        return counters.fold(session, batch)


def test_counts_equal_a_full_scan_through_an_events_life(runtime):
    check(runtime)  # empty
    ids = [add(runtime, n, status, attempts=attempts, resource_type=rt) for n, (status, attempts, rt) in enumerate([
        ("pending", (), "review"),
        ("delivered", ((200, "POST", 40.0), (404, "GET", 700.0)), "review"),
        ("dead", ((500, "POST", 12_000.0), (None, "POST", None)), None),
        ("skipped", (), "question"),
        ("invalid", (), None),
        ("retrying", ((429, "POST", 90.0),), "review"),
    ])]
    check(runtime)  # nothing folded yet: every row is read live

    assert fold(runtime, batch=2) > 0  # a partial fold
    check(runtime)
    while fold(runtime):
        pass
    check(runtime)
    with runtime.db.session() as session:  # unfinished events are not folded
        assert session.execute(select(Event.counted_status).where(Event.id == ids[0])).scalar_one() is None
        assert session.execute(select(func.count()).select_from(MetricCount)).scalar_one() > 0

    # The worker finishes the pending one, the retrying one goes dead: counted live, then folded.
    with runtime.db.session() as session:
        store.finish(session, ids[0], "delivered")
        store.finish(session, ids[5], "dead")
        session.add(Attempt(event_id=ids[0], action_key="post:x", method="POST", target="x", status_code=201,
                            latency_ms=300.0))
    check(runtime)
    fold(runtime)
    check(runtime)

    # A replay of folded dead events moves them out of `dead` at once, without a fold.
    with runtime.db.session() as session:
        assert sorted(store.reset_for_replay(session, [ids[2], ids[5]])) == sorted([ids[2], ids[5]])
    check(runtime)
    fold(runtime)  # pending again: nothing to fold for them, and the counts stay right
    check(runtime)
    with runtime.db.session() as session:
        store.finish(session, ids[2], "delivered")
    fold(runtime)
    check(runtime)


def test_counts_stay_equal_after_retention_prunes_folded_attempts(runtime):
    old = [add(runtime, n, "delivered", age_days=40) for n in range(3)]
    add(runtime, 10, "delivered", age_days=40, attempts=((200, "POST", 5.0), (200, "POST", 6.0)))
    add(runtime, 11, "dead", age_days=40)
    fold(runtime)
    add(runtime, 12, "skipped", age_days=40)  # pruned before it was ever folded
    check(runtime)

    pruned, _last = retention.prune(runtime.db, 30)
    assert pruned == len(old) + 2
    check(runtime)
    fold(runtime)
    check(runtime)


def collect(app) -> dict:
    """One scrape straight from the registry (the route's few-second cache would answer twice)."""
    text = generate_latest(app.extensions["bridge.metrics"]).decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_the_scrape_reads_the_folded_counts(client, runtime):
    add(runtime, 1, "delivered")
    add(runtime, 2, "dead", resource_type=None)
    before = collect(client.application)
    assert fold(runtime) > 0
    after = collect(client.application)
    assert value(after, "okendo_bridge_events_total", resource_type="review", status="delivered") == 1
    assert value(after, "okendo_bridge_events_total", resource_type="unknown", status="dead") == 1
    assert value(after, "okendo_bridge_delivery_attempts_total", action="post:x", outcome="ok") == 2
    assert value(after, "okendo_bridge_delivery_latency_seconds_bucket", action="post:x", le="0.25") == 2
    assert value(after, "okendo_bridge_delivery_latency_seconds_sum", action="post:x") == 0.24
    age = ("okendo_bridge_oldest_pending_age_seconds", frozenset())
    assert {k: v for k, v in after.items() if k != age} == {k: v for k, v in before.items() if k != age}


def test_the_workers_folder_thread_folds_finished_events(runtime, monkeypatch):
    import time

    monkeypatch.setattr(counters, "EVERY_SECONDS", 0.05)
    event_id = add(runtime, 1, "delivered")
    folder = counters.Folder(runtime.db)
    folder.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with runtime.db.session() as session:
                if session.execute(select(Event.counted_status).where(Event.id == event_id)).scalar_one():
                    break
            time.sleep(0.05)
    finally:
        folder.stop()
        folder.join(10)
    with runtime.db.session() as session:
        assert session.execute(select(Event.counted_status).where(Event.id == event_id)).scalar_one() == "delivered"
        assert session.execute(select(Attempt.counted)).scalar_one() is True
    check(runtime)


def test_several_folders_at_once_count_each_row_once(runtime):
    import threading

    for n in range(60):
        add(runtime, n, ("delivered", "dead", "skipped")[n % 3])
    errors = []

    def folder():
        try:
            while fold(runtime, batch=7):
                pass
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=folder) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with runtime.db.session() as session:
        assert session.execute(select(func.count()).select_from(Event).where(Event.counted_status.is_(None))
                               ).scalar_one() == 0
    check(runtime)


def test_folding_stops_once_it_has_caught_up_not_once_nothing_is_left(runtime, monkeypatch):
    """A short batch means caught up: the Folder does not fold again and again while a
    worker keeps finishing events (a few rows per fold, twenty folds a second)."""
    for n in range(3):
        add(runtime, n, "delivered")
    runs = []
    real_fold = counters.fold
    monkeypatch.setattr(counters, "fold", lambda session, *a: runs.append(1) or real_fold(session, *a))
    assert counters.fold_all(runtime.db) == 6  # three events, three attempts
    assert len(runs) == 1
    check(runtime)
