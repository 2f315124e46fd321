"""`python -m bench.round_trips [--events N] [--pg-url URL]`: database work per worker round.

What the e2e benchmark's event costs the worker in statements, transactions and CPU, counted
in one process (no timing of other processes, so a busy machine changes little but the CPU
figure): N positive reviews (one hook, no ticket) are stored through the webhook endpoint
(Flask's test client), then the worker's processor runs them one by one
(`Processor.process_next`, as a worker thread does) against the Kustomer emulator served over
HTTP in this process, with `config/mapping.yaml`. A SQLAlchemy `before_cursor_execute`
listener counts statements; the pool's `checkout` and the engine's `commit` events count
sessions and transactions. On PostgreSQL each transaction also costs a BEGIN and a COMMIT
round trip (psycopg sends BEGIN on its own), an autocommit statement none.

Prints (no asserts): per event, the statements (most frequent first), checkouts, commits, and
the CPU time of the thread that ran the rounds. SQLite, and PostgreSQL when reachable.
"""
from __future__ import annotations

import argparse
import collections
import logging
import os
import threading
import time
import uuid

from sqlalchemy import event
from werkzeug.serving import make_server

from bridge.app import create_app
from bridge.composition import build_runtime
from bridge.config import Settings
from bridge.devtools.emulator import create_emulator_app
from bridge.events.migrate import upgrade

from .payloads import review_body, signed_headers
from .processes import DEFAULT_PG_ADMIN_URL, ROOT, on_each_store

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def measure(database_url: str, label: str, events: int) -> None:
    for name in ("bridge", "werkzeug"):  # the timeline's "klass missing" warning, request lines
        logging.getLogger(name).setLevel(logging.ERROR)
    upgrade(database_url)
    emulator = create_emulator_app("emulator-key")
    server = make_server("127.0.0.1", 0, emulator, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    settings = Settings.from_env({
        "DATABASE_URL": database_url, "OKENDO_WEBHOOK_SECRET": SECRET, "KUSTOMER_API_KEY": "emulator-key",
        "KUSTOMER_API_BASE": base, "KUSTOMER_REVIEW_HOOK_URL": f"{base}/v1/hooks/web/reviews",
        "KUSTOMER_SURVEY_HOOK_URL": f"{base}/v1/hooks/web/surveys", "KUSTOMER_REQUESTS_PER_MINUTE": "0",
        "BRIDGE_MAPPING": str(ROOT / "config" / "mapping.yaml"), "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING",
    })
    runtime = build_runtime(settings)
    client = create_app(runtime=runtime).test_client()
    try:
        def store(count: int) -> None:
            for _ in range(count):
                body = review_body(str(uuid.uuid4()))
                answer = client.post("/webhooks/okendo", data=body, headers=signed_headers(SECRET, body))
                assert answer.status_code == 202, answer.get_data(as_text=True)

        store(3)
        while runtime.processor.process_next():  # warm-up: klass look-ups, the mapping, statement caches
            pass
        store(events)
        statements: collections.Counter = collections.Counter()
        counts = {"checkouts": 0, "commits": 0}
        event.listen(runtime.db.engine, "before_cursor_execute",
                     lambda _c, _cur, statement, *_a: statements.update([" ".join(statement.split())[:90]]))
        event.listen(runtime.db.engine.pool, "checkout", lambda *_a: counts.update(checkouts=counts["checkouts"] + 1))
        event.listen(runtime.db.engine, "commit", lambda *_a: counts.update(commits=counts["commits"] + 1))
        cpu = time.thread_time()
        ran = 0
        while runtime.processor.process_next():
            ran += 1
        cpu = time.thread_time() - cpu
        load = os.getloadavg()[0]
        print(f"{label}: {ran} events; per event: {sum(statements.values()) / ran:.1f} statements, "
              f"{counts['checkouts'] / ran:.1f} checkouts, {counts['commits'] / ran:.1f} commits, "
              f"{cpu / ran * 1000:.1f} ms CPU (load average {load:.1f})")
        for statement, count in statements.most_common():
            print(f"  {count / ran:5.2f}  {statement}")
    finally:
        runtime.close()
        server.shutdown()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.round_trips")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_ADMIN_URL))
    args = parser.parse_args(argv)
    on_each_store(lambda url, label: measure(url, label, args.events), args.pg_url, "bench_rounds")


if __name__ == "__main__":
    main()
