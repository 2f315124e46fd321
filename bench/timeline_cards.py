"""Timeline cards: Kustomer requests per event and CPU per card (`python -m bench.timeline_cards`).

Runs the TimelineService against the Kustomer emulator (in this process, over real HTTP on
loopback) for N reviews, each created, updated and deleted, and prints:
* Kustomer API requests per event kind (what each card costs of the org's rate budget; a
  new card for a new shopper also looks up and creates the customer; the first event of
  a process also lists the klasses);
* wall time per event through the emulator (loopback, one thread: an upper bound on the
  bridge's own cost, not Kustomer's latency);
* CPU µs to build one card body (timeit median).
Prints figures only; nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import threading
import time
import timeit
from dataclasses import dataclass

from werkzeug.serving import make_server

from .processes import ROOT

SAMPLES = ROOT / "tests" / "samples" / "okendo"


@dataclass(frozen=True)
class _Action:
    key: str = "timeline:bench"
    route: str = "bench"
    problem: None = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=200)
    args = parser.parse_args(argv)

    from bridge.config import Settings
    from bridge.devtools.emulator.app import create_emulator_app
    from bridge.kustomer.client_pool import ClientPool
    from bridge.mapping import KustomerTarget
    from bridge.okendo.schemas import validate_event
    from bridge.timeline.cards import card_body
    from bridge.timeline.service import TimelineService
    from bridge.timeline.setup import setup_timeline

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access line per request otherwise
    app = create_emulator_app()
    state = app.extensions["kustomer_emulator"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    target = KustomerTarget(api_key="emulator-key", api_base=base)
    settings = Settings.from_env({"KUSTOMER_REQUESTS_PER_MINUTE": "0"})
    pool = ClientPool(settings)
    client, _ = pool.for_target(target)
    setup_timeline(client)
    service = TimelineService(clients=pool)

    templates = {topic: json.loads((SAMPLES / name).read_bytes()) for topic, name in (
        ("create", "review-create-negative.json"), ("update", "review-update-negative.json"),
        ("delete", "review-delete.json"))}
    per_kind: dict[str, list[tuple[int, float]]] = {"create": [], "update": [], "delete": []}
    for n in range(args.reviews):
        for sequence, topic in enumerate(("create", "update", "delete"), 1):
            payload = json.loads(json.dumps(templates[topic]))
            payload["resource"]["reviewId"] = f"bench-{n}"
            payload["sequenceNumber"] = str(sequence)
            if topic != "delete":
                payload["resource"]["reviewer"]["email"] = f"shopper{n}@example.com"
            event = validate_event(payload)
            before, started = state.requests, time.perf_counter()
            outcome = service.apply(_Action(), event, target)
            elapsed = time.perf_counter() - started
            assert outcome.kind == "done", outcome
            per_kind[topic].append((state.requests - before, elapsed))
    server.shutdown()
    pool.close()

    event = validate_event(templates["create"])
    timer = timeit.Timer(lambda: card_body(event, "x"))
    number, _ = timer.autorange()
    build_us = statistics.median(timer.repeat(5, number)) / number * 1e6

    cards = sum(len(c) for c in state.cards_by_customer().values())
    print(f"timeline cards: {args.reviews} reviews, each created, updated and deleted; "
          f"{cards} cards in the emulator (one per review)")
    for topic, rows in per_kind.items():
        requests = [r for r, _ in rows]
        times = sorted(t for _, t in rows)
        print(f"  review.{topic:<6} Kustomer requests per event: {statistics.mean(requests[1:]):.2f} "
              f"(the first: {requests[0]}); "
              f"wall per event median {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {times[int(len(times) * 0.95) - 1] * 1000:.1f} ms")
    print(f"  building one card body: {build_us:.0f} µs CPU (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
