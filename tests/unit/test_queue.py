"""The events table as the queue: claiming due events, waking idle workers, several workers.

Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (FOR UPDATE SKIP LOCKED there).
Then: three workers (three Runtimes, as three processes would have) claim from one store at
the same time against the Kustomer emulator; the claim makes each event's actions happen once.
"""
from __future__ import annotations

import collections
import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url

from bridge.delivery import queue
from bridge.events import store
from bridge.events.models import Event, EventStatus, utcnow
from tests.conftest import make_env
from tests.helpers import sample, sample_bytes, signed_headers


def stored(runtime, status="pending", due_in: float = 0, **fields) -> int:
    with runtime.db.session() as session:
        result = store.store_event(session, webhook_id=f"msg_{uuid.uuid4().hex}",
                                   body=b"{}", headers={}, status=status, **fields)
        if due_in:
            session.execute(update(Event).where(Event.id == result.event_id)
                            .values(next_attempt_at=utcnow() + timedelta(seconds=due_in)))
    return result.event_id


def claim(runtime, token="t"):
    with runtime.db.session() as session:
        return queue.claim_next(session, 60, token)


def test_due_events_are_claimed_oldest_first_and_only_once(runtime):
    first, second = stored(runtime), stored(runtime)
    stored(runtime, "delivered")
    later = stored(runtime, "retrying", due_in=60)  # its retry is not due yet
    assert runtime.dispatcher.depth() == 2
    assert claim(runtime, "a")[0] == first
    assert claim(runtime, "b")[0] == second
    assert claim(runtime) is None and runtime.dispatcher.depth() == 0
    with runtime.db.session() as session:
        assert store.load(session, first).lease_token == "a"
        session.execute(update(Event).where(Event.id == later).values(next_attempt_at=utcnow()))
    assert claim(runtime)[0] == later  # a retry is claimed once it falls due


def test_an_expired_lease_is_claimed_again_by_the_next_worker(runtime):
    event_id = stored(runtime)
    with runtime.db.session() as session:
        queue.claim_next(session, -1, "crashed")  # a worker took it and died
    assert claim(runtime, "next")[0] == event_id


def test_concurrent_claims_never_hand_one_event_to_two_workers(runtime):
    ids = {stored(runtime) for _ in range(20)}
    claimed, lock = [], threading.Lock()

    def worker(n):
        while (got := claim(runtime, f"w{n}")) is not None:
            with lock:
                claimed.append(got[0])
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claimed) == sorted(ids)


def test_a_new_event_wakes_a_waiting_worker(client, settings):
    waker = queue.Waker(settings.database_url)
    waker.start()
    try:
        seen = waker.generation
        woke = threading.Event()
        waiter = threading.Thread(target=lambda: (waker.wait(seen, timeout=30), woke.set()))
        waiter.start()
        body = sample_bytes("review-create-positive.json")
        assert client.post("/webhooks/okendo", data=body, headers=signed_headers(body)).status_code == 202
        waiter.join(30)
        assert woke.is_set() and waker.generation != seen
    finally:
        waker.stop()


def test_one_new_event_wakes_one_idle_thread_not_all(client, settings):
    """A stored event is one claim's work: waking every idle thread cost an empty claim per
    event per idle thread (issue 16's end-to-end figures). The other thread sleeps on."""
    waker = queue.Waker(settings.database_url)
    waker.start()
    try:
        if make_url(settings.database_url).get_backend_name() == "postgresql":
            wait_until(lambda: waker.generation >= 1)  # LISTENing (it wakes all once, then)
        seen = waker.generation
        woke = []
        waiters = [threading.Thread(target=lambda: (waker.wait(seen, timeout=60), woke.append(1)))
                   for _ in range(2)]
        for waiter in waiters:
            waiter.start()
        # Both must be asleep before the event arrives (a thread that reaches wait() after the
        # change returns at once); Condition keeps its sleepers in `_waiters`.
        wait_until(lambda: len(waker._changed._waiters) == 2)
        body = sample_bytes("review-create-positive.json")
        assert client.post("/webhooks/okendo", data=body, headers=signed_headers(body)).status_code == 202
        wait_until(lambda: woke)
        time.sleep(0.5)  # room for a second wake-up, were there one (it cannot come falsely)
        assert len(woke) == 1
    finally:
        waker.stop()  # wakes the other one
    for waiter in waiters:
        waiter.join(30)


def wait_until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_sqlite_change_check_backs_off_while_quiet_and_is_fast_again_after_a_change():
    now = [0.0]
    pace = queue.SqlitePace(clock=lambda: now[0])
    fast, slow = queue.SQLITE_POLL_SECONDS, queue.SQLITE_IDLE_POLL_SECONDS
    assert pace.next(changed=True) == fast
    now[0] = queue.SQLITE_BUSY_SECONDS / 2
    assert pace.next(changed=False) == fast  # commits were seen within the busy window
    now[0] = queue.SQLITE_BUSY_SECONDS
    quiet = [pace.next(changed=False) for _ in range(10)]
    assert quiet[:4] == [fast * 2, fast * 4, fast * 8, fast * 16]
    assert quiet[-1] == slow and max(quiet) == slow  # never slower than the cap
    assert pace.next(changed=True) == fast  # the first change brings the 2 ms pace back
    assert pace.next(changed=False) == fast


def test_waking_the_workers_never_fails_the_caller(tmp_path):
    from bridge.events.db import Database

    database = Database(f"sqlite:///{tmp_path / 'missing' / 'x' / 'no.db'}")
    dispatcher = queue.Dispatcher(database)
    assert dispatcher.depth() is None and dispatcher.ping() is False
    assert dispatcher.enqueue(1) in (True, False)


# -- several workers, one store ----------------------------------------------------------------

@pytest.fixture
def emulator_url():
    """The Kustomer emulator served over real HTTP in this process (10 ms per call)."""
    from werkzeug.serving import make_server

    from bridge.devtools.emulator import create_emulator_app

    app = create_emulator_app("emulator-key", faults={"latency_ms": 10})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app.extensions["kustomer_emulator"]
    server.shutdown()
    thread.join(5)


@pytest.fixture
def env(database_url, emulator_url):
    base, _state = emulator_url
    return make_env(database_url, KUSTOMER_API_KEY="emulator-key", KUSTOMER_API_BASE=base,
                    KUSTOMER_REVIEW_HOOK_URL=f"{base}/v1/hooks/web/reviews",
                    KUSTOMER_SURVEY_HOOK_URL=f"{base}/v1/hooks/web/surveys",
                    KUSTOMER_REQUESTS_PER_MINUTE="0", BRIDGE_LEASE_SECONDS="60")


def _review(review_id: str, *, negative: bool, sequence: int, topic: str = "create") -> bytes:
    payload = sample("review-create-negative.json" if negative else "review-create-positive.json")
    payload["resource"]["reviewId"] = review_id
    payload["sequenceNumber"] = str(sequence)
    payload["topic"] = topic
    return json.dumps(payload).encode()


WORKERS = 3


def test_three_workers_on_one_store_do_each_action_once(client, settings, emulator_url, runtime):
    from bridge.composition import build_runtime

    _base, kustomer = emulator_url
    # 12 reviews, every third negative (a ticket each), plus one negative review created and
    # updated (two hooks in order, one conversation, two notes).
    bodies = [_review(f"multi-{n}", negative=n % 3 == 0, sequence=1000) for n in range(12)]
    bodies += [_review("multi-updated", negative=True, sequence=1001),
               _review("multi-updated", negative=True, sequence=1002, topic="update")]
    ids = []
    for body in bodies:
        response = client.post("/webhooks/okendo", data=body, headers=signed_headers(body))
        assert response.status_code == 202
        ids.append(response.json["event_id"])

    workers = [build_runtime(settings) for _ in range(WORKERS)]
    taken = collections.Counter()  # rounds each worker claimed and ran
    try:
        for _round in range(6):
            start = threading.Barrier(WORKERS)

            def work(index: int) -> None:
                start.wait()
                while workers[index].processor.process_next():  # claim whatever is due
                    taken[index] += 1

            threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            with runtime.db.session() as session:
                statuses = {e.id: e.status for e in store.list_events(session, limit=1000)}
                waiting = [i for i, s in statuses.items() if s == EventStatus.RETRYING]
                if not waiting:
                    break
                # Retries (an update waiting for its create, a busy ticket) are due now.
                session.execute(update(Event).where(Event.id.in_(waiting))
                                .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    finally:
        for worker in workers:
            worker.close()

    assert set(statuses.values()) == {EventStatus.DELIVERED}, statuses
    assert sum(taken.values()) >= len(ids)
    received = kustomer.snapshot()
    per_review = collections.Counter(h["transaction"]["attributes"]["data"]["review"]["reviewId"]
                                     for h in received["hooks"])
    assert per_review == {**{f"multi-{n}": 1 for n in range(12)}, "multi-updated": 2}
    updated = [h["transaction"]["attributes"]["data"]["topic"] for h in received["hooks"]
               if h["transaction"]["attributes"]["data"]["review"]["reviewId"] == "multi-updated"]
    assert updated == ["create", "update"]  # sequenceNumber order across workers
    negatives = {f"okendo-review-multi-{n}" for n in range(0, 12, 3)} | {"okendo-review-multi-updated"}
    assert received["conversation_external_ids"] == {external_id: 1 for external_id in negatives}
    notes = {c["attributes"]["externalId"]: len(c["notes"]) for c in received["conversations"]}
    assert notes == {**{external_id: 1 for external_id in negatives}, "okendo-review-multi-updated": 2}


def test_a_queue_url_is_accepted_and_said_to_be_unneeded(settings, caplog):
    from dataclasses import replace

    from bridge.composition import build_runtime

    with caplog.at_level("WARNING"):
        runtime = build_runtime(replace(settings, queue_url="redis://127.0.0.1:6379/0"))
    try:
        assert "no longer needed" in caplog.text and "redis://" not in caplog.text
        assert runtime.dispatcher.ping()
    finally:
        runtime.close()


def test_the_sqlite_change_check_counts_what_is_due_with_the_claims_own_condition(runtime, tmp_path):
    """It wakes as many idle threads as events are due, none for a commit that added no work
    (a round's own writes): the same condition as the claim, read on a plain sqlite3 connection."""
    import sqlite3

    if not runtime.db.is_sqlite:
        pytest.skip("the change check is SQLite's; PostgreSQL wakes on NOTIFY")
    connection = sqlite3.connect(runtime.db.engine.url.database)
    try:
        assert queue._due_now(connection) == 0
        stored(runtime, due_in=60)  # a retry not due yet
        stored(runtime, status="delivered")
        assert queue._due_now(connection) == 0
        first = stored(runtime)
        stored(runtime)
        assert queue._due_now(connection) == 2
        assert claim(runtime).id == first  # claimed: held by a live round, not due
        assert queue._due_now(connection) == 1
        assert queue._due_now(sqlite3.connect(str(tmp_path / "empty.db"))) is None  # no table: wake them all
    finally:
        connection.close()
