"""The whole stack with the queue on Redis (QUEUE_URL=redis://...), including a kill -9.

RedisHuey pops a task off the list when a worker takes it, so a killed worker loses the
tasks it held; the events themselves are in the database, and the sweeper re-enqueues them
when their lease runs out. Needs TEST_REDIS_URL (CI sets it).
"""
import collections
import os
import re
import signal

import pytest
import requests

from bridge.queue import QUEUE_NAME
from tests.faults.conftest import hook_review_ids, new_id, review, send_concurrently, timed, wait_for

REDIS_URL = os.environ.get("TEST_REDIS_URL")
EVENTS = 60
THREADS = 4


@pytest.fixture
def redis_queue():
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL is not set")
    import redis

    connection = redis.Redis.from_url(REDIS_URL)

    def flush():
        # Only this bridge's queue keys (huey.redis.<name>, huey.schedule.<name>, ...; huey
        # drops the "-" from the name).
        for key in connection.scan_iter(match=f"huey.*.{re.sub('[^A-Za-z0-9_]', '', QUEUE_NAME)}*"):
            connection.delete(key)

    flush()
    yield REDIS_URL
    flush()
    connection.close()


def test_whole_stack_on_a_redis_queue_survives_a_killed_worker(make_stack, redis_queue):
    stack = make_stack(QUEUE_URL=redis_queue, BRIDGE_WORKER_THREADS=str(THREADS))
    ready = requests.get(f"{stack.web_url}/readyz", timeout=5).json()
    assert ready["checks"] == {"database": "ok", "queue": "ok"}
    stack.faults(latency_ms=20)
    reviews = [new_id("redis") for _ in range(EVENTS)]
    negative = set(reviews[::6])
    with timed("redis queue: 60 events with a kill -9, until delivered"):
        codes = send_concurrently(stack, [(f"msg_{rid}", review(rid, negative=rid in negative)) for rid in reviews])
        assert set(codes.values()) == {202}
        wait_for(lambda: stack.stats()["hooks"] >= 10, 30, interval=0.05, what="10 hooks before the kill")
        stack.stop("worker", signal.SIGKILL)
        assert stack.stats()["hooks"] < EVENTS, "the worker finished before the kill: the test proved nothing"
        stack.start_worker()
        counts = stack.wait_all_final(EVENTS, timeout=60)
    assert counts == {"delivered": EVENTS}, "\n".join(map(str, stack.not_delivered()))
    received = stack.received()
    per_review = collections.Counter(hook_review_ids(received))
    assert set(per_review) == set(reviews)
    assert sum(1 for n in per_review.values() if n > 1) <= THREADS
    assert received["conversation_external_ids"] == {f"okendo-review-{rid}": 1 for rid in negative}
