"""The database goes away for a few seconds while Okendo keeps sending (PostgreSQL).

How: the test database refuses new connections (`ALTER DATABASE ... ALLOW_CONNECTIONS
false`) and every open connection to it is cut (`pg_terminate_backend`), for a few seconds,
then connections are allowed again. That is what a PostgreSQL restart or failover looks like
to the bridge, without restarting the server that other tests on this machine share.

What must hold: the web answers 503 while it cannot store (so Okendo retries), never 202 for
an event it did not store; every event that got 202 ends delivered; the web and the worker
recover by themselves (readyz back to 200, no restart); and what was answered 503, sent again
as Okendo would, is stored once and delivered.
"""
import collections
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bridge.config import normalize_database_url
from tests.conftest import PG_URL
from tests.faults.conftest import new_id, review, timed, wait_for

DOWN_SECONDS = 4


class DatabaseOutage:
    """Cut and block every connection to one database, from a connection to another one."""

    def __init__(self, database_url: str):
        self.name = make_url(normalize_database_url(database_url)).database
        # TEST_DATABASE_URL's own database: the session's test database is made from it.
        self.admin = create_engine(normalize_database_url(PG_URL), isolation_level="AUTOCOMMIT")

    def begin(self) -> int:
        with self.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            return len(connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": self.name}).all())

    def end(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def close(self) -> None:
        self.end()
        self.admin.dispose()


def readyz(stack) -> int:
    try:
        return requests.get(f"{stack.web_url}/readyz", timeout=5).status_code
    except requests.RequestException:
        return 0


def test_web_and_worker_ride_out_a_lost_database_and_lose_no_acknowledged_event(make_stack):
    stack = make_stack(start=False)
    if not stack.is_postgres:
        pytest.skip("PostgreSQL only: a SQLite store is a local file, there is no server or connection to lose "
                    "(its failure modes are a full or read-only disk, not an outage the bridge rides out)")
    stack.start_emulator()
    stack.start_web()
    stack.start_worker()
    outage = DatabaseOutage(stack.env["DATABASE_URL"])

    codes: dict[str, int] = {}
    bodies: dict[str, bytes] = {}
    stop = threading.Event()

    def keep_sending(lane: int) -> None:
        while not stop.is_set():
            rid = new_id(f"db{lane}")
            bodies[f"msg_{rid}"] = body = review(rid)
            codes[f"msg_{rid}"] = stack.post(body, webhook_id=f"msg_{rid}")
            time.sleep(0.05)

    senders = [threading.Thread(target=keep_sending, args=(lane,)) for lane in range(2)]
    try:
        with timed("database lost for 4 s under load, until everything is delivered"):
            for sender in senders:
                sender.start()
            wait_for(lambda: len(codes) >= 20, 20, what="some events before the outage")
            cut = outage.begin()
            down_since = time.monotonic()
            wait_for(lambda: readyz(stack) == 503, 10, interval=0.1, what="readyz to say 503")
            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_since)))
            outage.end()
            wait_for(lambda: readyz(stack) == 200, 30, interval=0.2, what="readyz back to 200")
            recovered_after = time.monotonic() - down_since
            time.sleep(2)  # keep sending a little after the recovery
            stop.set()
            for sender in senders:
                sender.join(30)

            answered = collections.Counter(codes.values())
            print(f"[database] cut {cut} connection(s); answers: {dict(answered)}; "
                  f"readyz 200 again {recovered_after:.1f}s after the cut")
            assert set(answered) <= {202, 503}, answered  # no 500, no hang, no refused connection
            assert answered[503] >= 1, "the outage never reached the web: the test proved nothing"

            stored = {r["webhook_id"]: r for r in stack.rows()}
            acknowledged = {w for w, code in codes.items() if code == 202}
            assert acknowledged <= set(stored), "202 for events that were not stored: " \
                f"{sorted(acknowledged - set(stored))}"

            # Okendo sends what got 503 again: stored once (200 if it was stored after all).
            again = {w: stack.post(bodies[w], webhook_id=w) for w, code in codes.items() if code == 503}
            assert set(again.values()) <= {200, 202}, again
            counts = stack.wait_all_final(len(codes), timeout=60)
    finally:
        stop.set()
        outage.close()
    assert counts == {"delivered": len(codes)}, "\n".join(map(str, stack.not_delivered()))
    assert {r["webhook_id"] for r in stack.rows()} == set(codes)
    assert stack.processes["web"].poll() is None and stack.processes["worker"].poll() is None
