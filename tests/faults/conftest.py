"""Fault tests: the real processes (emulator, gunicorn, worker) under kill -9, outages,
429 storms, a lost database and SIGTERM.

Every test in this directory is marked `faults` (and `e2e`: it starts processes), so
`pytest -m faults` runs exactly them and `-m 'not e2e'` leaves them out. The stack is the
one of `tests/e2e/conftest.py`, started with short timings (`FAULT_ENV`) so that a worker's
lost event is found again within seconds: lease 5 s, a retry schedule
of a few seconds. Each test keeps its event counts small enough for two cores.
"""
from __future__ import annotations

import concurrent.futures
import json
import time
import uuid
from pathlib import Path

import pytest
import requests

from bridge.events import store
from tests.e2e.conftest import (  # noqa: F401 - re-exported for the tests here
    ONE_WEB_WORKER,
    START_TIMEOUT,
    Stack,
    free_port,
    pytest_runtest_makereport,
    stack_env,
    wait_for,
)
from tests.helpers import sample, signed_headers

HERE = Path(__file__).resolve().parent
FINAL = {"delivered", "dead", "skipped", "invalid"}

# Short timings: a crashed worker's event is taken over 5 s after it was claimed, the
# idle workers look every second, transient failures are retried within seconds.
FAULT_ENV = {
    "BRIDGE_LEASE_SECONDS": "5",
    "BRIDGE_SWEEP_INTERVAL": "1",
    "BRIDGE_STALE_AFTER": "2",
    "BRIDGE_RETRY_SCHEDULE": "1,1,2,2,3,3,5,5,5,5",
    "BRIDGE_WORKER_THREADS": "4",
    # One in-call retry, waiting at most 2 s: the durable schedule does the long waiting.
    "KUSTOMER_MAX_ATTEMPTS": "2",
    "KUSTOMER_MAX_WAIT": "2",
    # No client-side pace unless a test asks for one: the emulator's limits are the subject.
    "KUSTOMER_REQUESTS_PER_MINUTE": "0",
    "LOG_LEVEL": "INFO",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.e2e)


class FaultStack(Stack):
    """The e2e Stack plus what fault tests need: database counts and emulator stats."""

    @property
    def is_postgres(self) -> bool:
        return self.env["DATABASE_URL"].startswith(("postgres://", "postgresql"))

    def start_web(self):
        return self.start_web_server()

    def start_worker(self):
        """Start `bridge worker` and wait until its consumer runs (it has no HTTP port to poll)."""
        starts = self.log("worker").count("worker started")
        process = self.start("worker", "worker")

        def running():
            if process.poll() is not None:
                raise AssertionError(f"worker exited with {process.returncode}:\n{self.log('worker')[-3000:]}")
            return self.log("worker").count("worker started") > starts
        wait_for(running, START_TIMEOUT, what="the worker to start")
        return process

    def statuses(self) -> dict[str, int]:
        with self.db.session() as session:
            return store.count_by_status(session)

    def rows(self, status: str | None = None) -> list[dict]:
        """Every event (or those with `status`), read straight from the database."""
        with self.db.session() as session:
            return [{"id": e.id, "webhook_id": e.webhook_id, "status": e.status, "attempts": e.attempts,
                     "last_error": e.last_error, "resource_id": e.resource_id}
                    for e in store.list_events(session, status=status, limit=100_000)]

    def not_delivered(self) -> list[dict]:
        """Events that did not end delivered, with their errors (for assertion messages)."""
        return [r for r in self.rows() if r["status"] != "delivered"]

    def wait_all_final(self, count: int, timeout: float = 60) -> dict[str, int]:
        def settled():
            counts = self.statuses()
            done = sum(n for s, n in counts.items() if s in FINAL)
            return counts if sum(counts.values()) >= count and done == sum(counts.values()) else None
        try:
            return wait_for(settled, timeout, interval=0.25, what=f"{count} events to be final")
        except AssertionError as exc:
            stuck = [r for r in self.rows() if r["status"] not in FINAL][:10]
            raise AssertionError(f"{exc}\nstatuses: {self.statuses()}\nnot final (first 10):\n"
                                 + "\n".join(map(str, stuck))) from None

    def stats(self) -> dict:
        return requests.get(f"{self.emulator_url}/__emulator/stats", timeout=5).json()

    def configure(self, **settings) -> dict:
        response = requests.post(f"{self.emulator_url}/__emulator/config", json=settings, timeout=5)
        response.raise_for_status()
        return response.json()

    def post(self, body: bytes, webhook_id: str | None = None, timeout: float = 10) -> int:
        """POST a signed body; the HTTP status, or 0 when no answer came (connection refused)."""
        try:
            return requests.post(self.webhook_url, data=body, timeout=timeout,
                                 headers=signed_headers(body, webhook_id=webhook_id)).status_code
        except requests.RequestException:
            return 0


@pytest.fixture
def make_stack(database_url, tmp_path, request):
    """Build a stack with `FAULT_ENV` plus overrides; `start=False` starts nothing."""
    built: list[FaultStack] = []

    def build(*, start: bool = True, worker: bool = True, **overrides) -> FaultStack:
        web_port, emulator_port = free_port(), free_port()
        directory = tmp_path / f"stack{len(built)}"
        directory.mkdir()
        env = stack_env(database_url, directory, web_port, emulator_port)
        env.update(FAULT_ENV)
        env.update({k: str(v) for k, v in overrides.items() if v is not None})
        stack = FaultStack(env=env, tmp=directory)
        stack.web_url = f"http://127.0.0.1:{web_port}"
        stack.emulator_url = f"http://127.0.0.1:{emulator_port}"
        built.append(stack)
        if start:
            stack.start_emulator()
            stack.start_web()
            if worker:
                stack.start_worker()
        return stack

    yield build
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for stack in built:
        stack.close()
        if failed:
            for name in stack.processes:
                print(f"----- {name} log (last 6000 chars) -----\n{stack.log(name)[-6000:]}")


# -- payloads ------------------------------------------------------------------------------

def review(review_id: str, *, negative: bool = False, sequence: int = 1001, title: str | None = None,
           topic: str | None = None) -> bytes:
    """A review event for `review_id` (its own resource), positive or negative."""
    payload = sample("review-create-negative.json" if negative else "review-create-positive.json")
    payload["resource"]["reviewId"] = review_id
    payload["sequenceNumber"] = str(sequence)
    if title is not None:
        payload["resource"]["title"] = title
    if topic is not None:
        payload["topic"] = topic
    return json.dumps(payload).encode()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def send_concurrently(stack: FaultStack, bodies: list[tuple[str, bytes]], threads: int = 8) -> dict[str, int]:
    """POST (webhook_id, body) pairs from a thread pool; webhook_id -> HTTP status (0 = no answer)."""
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        codes = pool.map(lambda item: stack.post(item[1], webhook_id=item[0]), bodies)
        return dict(zip((w for w, _ in bodies), codes))


def hook_review_ids(received: dict) -> list[str]:
    """The review id of every hook body the emulator received, in arrival order."""
    return [h["transaction"]["attributes"]["data"]["review"]["reviewId"] for h in received["hooks"]
            if isinstance(h["transaction"]["attributes"]["data"], dict)
            and "review" in h["transaction"]["attributes"]["data"]]


def timed(label: str):
    """Print how long a block took (visible with -s; the report quotes these)."""
    class _Timer:
        def __enter__(self):
            self.started = time.monotonic()
            return self

        def __exit__(self, *exc):
            print(f"[timing] {label}: {time.monotonic() - self.started:.1f}s")
    return _Timer()
