"""The dispatch queue on each backend huey offers the bridge, and several workers on one store.

Round trip on SqliteHuey (always), PostgresHuey (TEST_DATABASE_URL) and RedisHuey
(TEST_REDIS_URL): "process event N" enqueued by the Dispatcher comes out of the queue as a
task whose execution hands N to the handler; a delayed enqueue goes to huey's schedule and
comes out when due. Each test uses a queue name of its own and empties it afterwards.

Then: three workers (three Runtimes, as three processes would have) run the same events at
the same time against the Kustomer emulator; the claim makes each event's actions happen once.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import threading
import uuid
from datetime import timedelta

import pytest
from huey import PostgresHuey, RedisHuey, SqliteHuey
from sqlalchemy import update

from bridge import queue as bridge_queue
from bridge import store
from bridge.config import Settings
from bridge.models import Event, EventStatus, utcnow
from bridge.queue import Dispatcher, describe_backend, make_huey
from tests.conftest import PG_URL, make_env
from tests.helpers import sample, signed_headers

REDIS_URL = os.environ.get("TEST_REDIS_URL")
QUEUE_BACKENDS = ["sqlite", "postgres", "redis"]


@pytest.fixture(params=QUEUE_BACKENDS)
def queue_settings(request, tmp_path, monkeypatch) -> Settings:
    """Settings selecting one huey backend, with a queue name unique to this test."""
    monkeypatch.setattr(bridge_queue, "QUEUE_NAME", f"bridge_test_{uuid.uuid4().hex[:10]}")
    if request.param == "sqlite":
        return Settings.from_env(make_env(f"sqlite:///{tmp_path / 'bridge.db'}", QUEUE_URL=""))
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("TEST_DATABASE_URL is not set")
        return Settings.from_env(make_env(request.getfixturevalue("postgres_url"), QUEUE_URL=""))
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL is not set")
    return Settings.from_env(make_env(f"sqlite:///{tmp_path / 'bridge.db'}", QUEUE_URL=REDIS_URL))


@pytest.fixture
def huey(queue_settings):
    huey = make_huey(queue_settings)
    yield huey
    huey.flush()  # this test's queue, schedule and data only (the name is unique)
    huey.storage.close()


EXPECTED_CLASS = {"sqlite": SqliteHuey, "postgres": PostgresHuey, "redis": RedisHuey}


def test_the_settings_pick_the_backend(queue_settings, huey):
    backend = describe_backend(queue_settings)
    assert isinstance(huey, EXPECTED_CLASS[backend])
    assert huey.name == bridge_queue.QUEUE_NAME


def test_an_enqueued_event_id_reaches_the_handler(huey):
    handled = []
    dispatcher = Dispatcher(huey, handled.append)
    assert dispatcher.ping() and dispatcher.depth() == 0

    assert dispatcher.enqueue(42) is True
    assert dispatcher.depth() == 1
    task = huey.dequeue()
    assert task.args == (42,) and task.kwargs == {}  # the task carries the event id, nothing else
    huey.execute(task)
    assert handled == [42]
    assert dispatcher.depth() == 0 and huey.dequeue() is None


def test_a_delayed_enqueue_lands_in_the_schedule_and_runs_when_due(huey):
    handled = []
    dispatcher = Dispatcher(huey, handled.append)
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # huey works in naive UTC here
    assert dispatcher.enqueue(7, delay=30) is True

    # The consumer's worker takes it off the queue, sees it is not due and schedules it.
    task = huey.dequeue()
    assert task.args == (7,)
    assert before + timedelta(seconds=29) <= task.eta <= before + timedelta(seconds=32)
    assert not huey.ready_to_run(task)
    huey.execute(task)
    assert handled == [] and huey.scheduled_count() == 1

    # The consumer's scheduler reads what is due: nothing now, the task 30 s later.
    assert huey.read_schedule(before + timedelta(seconds=5)) == []
    [due] = huey.read_schedule(before + timedelta(seconds=31))
    assert due.args == (7,) and huey.scheduled_count() == 0
    huey.execute(due, timestamp=before + timedelta(seconds=31))
    assert handled == [7]


def test_tasks_come_out_in_the_order_they_went_in(huey):
    dispatcher = Dispatcher(huey, lambda event_id: None)
    for event_id in range(1, 6):
        dispatcher.enqueue(event_id)
    assert [huey.dequeue().args[0] for _ in range(5)] == [1, 2, 3, 4, 5]


def test_a_queue_that_cannot_be_reached_never_fails_the_caller(tmp_path):
    """Enqueue failures are logged and swallowed (the sweeper finds the event later)."""
    from tests.e2e.conftest import free_port

    settings = Settings.from_env(make_env(f"sqlite:///{tmp_path / 'bridge.db'}",
                                          QUEUE_URL=f"redis://127.0.0.1:{free_port()}/0"))
    dispatcher = Dispatcher(make_huey(settings), lambda event_id: None)
    assert dispatcher.enqueue(1) is False
    assert dispatcher.enqueue(2, delay=5) is False
    assert dispatcher.ping() is False and dispatcher.depth() is None


# -- several workers, one store ----------------------------------------------------------------

@pytest.fixture
def emulator_url():
    """The Kustomer emulator served over real HTTP in this process (10 ms per call)."""
    from werkzeug.serving import make_server

    from bridge.emulator import create_emulator_app

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
    from bridge.runtime import build_runtime

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
    taken = collections.Counter()  # rounds each worker actually ran (process() returned a status)
    try:
        for _round in range(6):
            start = threading.Barrier(WORKERS)

            def work(index: int) -> None:
                order = ids[:]
                random.Random(index).shuffle(order)  # each worker meets the events in its own order
                start.wait()
                for event_id in order:
                    if workers[index].processor.process(event_id) is not None:
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
