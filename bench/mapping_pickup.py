"""Mapping versions: how soon a published version is in use, what the hot path costs, and
how long an impact preview takes.

* pickup: a store like every web/worker process holds (LISTEN/NOTIFY on PostgreSQL, the
  1 s version check on SQLite) is polled every 5 ms after `versions.publish` returns; the
  figure is the time until `current()` returns the new version (goal: 5 s);
* hot path: µs per `current()` call between checks (what every event pays);
* impact: seconds for `impact_preview` over 200 and 1,000 stored reviews (half of them
  change outcome under the draft), in this process.
"""
from __future__ import annotations

import json
import statistics
import time
import timeit

from .harness import BACKEND_LABEL, Context, percentile
from .processes import ROOT, temp_database
from .report import Section, num, verdict

NAME = "pickup"
FIXTURE = ROOT / "tests" / "mappings" / "default.yaml"
SAMPLE = ROOT / "tests" / "samples" / "okendo" / "review-create-positive.json"
PICKUP_GOAL_S = 5.0
ENV = {"KUSTOMER_REVIEW_HOOK_URL": "https://acme.api.kustomerapp.com/v1/hooks/web/a",
       "KUSTOMER_SURVEY_HOOK_URL": "https://acme.api.kustomerapp.com/v1/hooks/web/b",
       "KUSTOMER_API_KEY": "k", "KUSTOMER_API_BASE": "https://acme.api.kustomerapp.com"}


def _store_reviews(db, count: int) -> None:
    from bridge.events import store

    payload = json.loads(SAMPLE.read_text())
    with db.session() as session:
        for index in range(count):
            payload["sequenceNumber"] = str(index + 1)
            payload["resource"]["reviewId"] = f"bench-{index}"
            payload["resource"]["rating"] = 3 if index % 2 else 5
            store.store_event(session, webhook_id=f"bench-{index}", body=json.dumps(payload).encode(),
                              headers={}, status="delivered", resource_type="review", topic="create")


def _one_backend(ctx: Context, backend: str, section: Section) -> None:
    from bridge.events.db import Database
    from bridge.mapping import versions
    from bridge.mapping.database_store import DatabaseMappingStore
    from bridge.mapping.impact import impact_preview

    label = BACKEND_LABEL[backend]
    text = FIXTURE.read_text()
    with temp_database(backend, ctx.workdir, ctx.pg_admin_url) as url:
        db = Database(url)
        store = DatabaseMappingStore(db, str(FIXTURE), ENV)
        try:
            store.current()
            if store._listener is not None:  # wait until it listens, as a long-running process would
                deadline = time.monotonic() + 10
                while not store._listener.healthy and time.monotonic() < deadline:
                    time.sleep(0.05)
            rounds = 5 if ctx.quick else 12
            delays = []
            for index in range(rounds):
                time.sleep(0.37)  # publish at varying points of the check cycle
                body = text.replace("    priority: 4\n", f"    priority: {1 + index % 5}\n", 1) + f"# {index}\n"
                published = versions.publish(db, body, author="bench", note=f"round {index}", env=ENV)
                start = time.monotonic()
                while store.current() is not None and store.version != published.version.id:
                    time.sleep(0.005)
                    if time.monotonic() - start > 30:
                        break
                delays.append(time.monotonic() - start)
            worst = max(delays)
            mechanism = "LISTEN/NOTIFY" if store._listener is not None else "1 s version check"
            section.row(f"{label}: publish → in use ({mechanism}), median / worst of {rounds}",
                        f"{statistics.median(delays):.2f} s / {worst:.2f} s", target=f"≤ {PICKUP_GOAL_S:.0f} s",
                        verdict=verdict(worst <= PICKUP_GOAL_S))
            timer = timeit.Timer(store.current)
            number, _ = timer.autorange()
            per_call = statistics.median(timer.repeat(5, number)) / number * 1e6
            section.row(f"{label}: current() between checks", num(per_call, "µs", 2))

            draft = versions.validate(text.replace("    rating_at_most: 2\n", "    rating_at_most: 3\n", 1),
                                      "draft", ENV)
            _store_reviews(db, 1000)
            live = store.current()
            for limit in (200, 1000):
                started = time.monotonic()
                result = impact_preview(db, live, draft, limit)
                elapsed = time.monotonic() - started
                section.row(f"{label}: impact preview of {limit} events ({result.changed} change)",
                            f"{elapsed:.2f} s")
            ctx.log(f"{label}: pickup delays {[round(d, 3) for d in delays]}; p90 {percentile(delays, 90):.2f} s")
        finally:
            store.close()
            db.dispose()


def run(ctx: Context) -> Section:
    section = Section("Mapping versions: pickup, hot path, impact preview")
    for backend in ctx.backends:
        _one_backend(ctx, backend, section)
    return section
