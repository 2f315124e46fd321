"""`GET /metrics` (Prometheus text), computed from the database at scrape time.

Why from the database and not from in-process counters: the web app runs as several
gunicorn processes and the worker runs in other processes, often on other machines
(Heroku dynos). In-process counters would each see a slice, reset on every restart and
need a push gateway or a shared multiprocess directory that does not exist across
dynos. The event store already records every event and every HTTP attempt, so any web
process can answer a scrape with the same, complete numbers from a few aggregate
queries. Those queries read folded counts plus the few rows not folded yet
(`bridge.events.counters`), so a scrape costs the same with a million events as with none.
Counters are therefore DB counts: `events_total` per final status only
grows, except when an admin replays an event out of `dead` (or rows are purged);
for the live picture use the `events_by_status` gauge.

The worker's own log line per processed event and per HTTP attempt, what an operator
greps when a number looks wrong, is `bridge.delivery.metrics_log`.

Failure policy: a scrape never errors. When the database does not answer, the reply
is 200 with `okendo_bridge_up 0` (and the queue depth if the queue answered), so the
alert is "bridge down", not "scrape failed". Each scrape runs two small queries; the answer is kept for a few seconds (`metrics_access.ScrapeCache`) so that
many scrapers cost the database one scrape, and `/metrics` asks for `METRICS_TOKEN`
when it is set (and on Heroku, where it must be set).
"""
from __future__ import annotations

import logging
from datetime import timezone

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bridge.events import call_outcomes, counters, store
from bridge.events.models import EventStatus, utcnow
from bridge.web import metrics_access

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

PREFIX = "okendo_bridge"
LATENCY_BUCKETS = counters.LATENCY_BUCKETS
UNKNOWN = "unknown"  # label for events whose body could not say its resource type


class DatabaseCollector:
    """A prometheus_client custom collector that reads the event store on every scrape."""

    def __init__(self, runtime):
        self.runtime = runtime

    def describe(self):
        # Returning nothing keeps `registry.register` from running the queries at start-up.
        return []

    def collect(self):
        families = []
        try:
            with self.runtime.db.session() as session:
                counts = counters.read(session)
                families += self._events(counts)
                families += self._attempts(session, counts)
                families += self._latency(counts)
                families.append(self._oldest_pending(session))
            up = 1
        except Exception:  # noqa: BLE001 - see the failure policy
            log.exception("metrics: the database did not answer")
            families, up = [], 0
        depth = self.runtime.dispatcher.depth()
        if depth is not None:
            families.append(GaugeMetricFamily(f"{PREFIX}_queue_depth",
                                              "Events due for a worker now (the events table is the queue).", value=depth))
        families.append(GaugeMetricFamily(f"{PREFIX}_up", "1 when the event store answered this scrape.",
                                          value=up))
        yield from families

    # -- events and attempts: folded counts + the rows not folded yet (bridge.events.counters)
    def _events(self, counts):
        total = CounterMetricFamily(f"{PREFIX}_events", "Events stored, by resource type and current status.",
                                    labels=["resource_type", "status"])
        by_status = {status: 0 for status in EventStatus.ALL}
        for (family, resource_type, status), count in sorted(counts.items(), key=str):
            if family != counters.EVENTS or not count:
                continue
            total.add_metric([resource_type or UNKNOWN, status], int(count))
            by_status[status] = by_status.get(status, 0) + int(count)
        gauge = GaugeMetricFamily(f"{PREFIX}_events_by_status", "Events currently in each status.",
                                  labels=["status"])
        for status, count in sorted(by_status.items()):
            gauge.add_metric([status], count)
        dead = GaugeMetricFamily(f"{PREFIX}_dead_events", "Dead events waiting for an admin (replay or ignore).",
                                 value=by_status.get(EventStatus.DEAD, 0))
        return [total, gauge, dead]

    # -- delivery attempts -------------------------------------------------------------
    def _attempts(self, session, counts):
        family = CounterMetricFamily(f"{PREFIX}_delivery_attempts",
                                     "HTTP calls to Kustomer, by action and outcome (ok = 2xx; lookup_miss = "
                                     "a 404 to a lookup, expected before a first create).",
                                     labels=["action", "outcome"])
        for action in sorted(_actions(counts, counters.ATTEMPTS, counters.ALL)):
            count = int(counts[(counters.ATTEMPTS, action, counters.ALL)])
            ok_count = int(counts.get((counters.ATTEMPTS, action, counters.OK), 0))
            miss_count = int(counts.get((counters.ATTEMPTS, action, counters.LOOKUP_MISS), 0))
            family.add_metric([action, "ok"], ok_count)
            family.add_metric([action, "lookup_miss"], miss_count)
            family.add_metric([action, "error"], count - ok_count - miss_count)
        extras = GaugeMetricFamily(f"{PREFIX}_ticket_extra_failures",
                                   "Extra ticket steps Kustomer refused on delivered events (the note got "
                                   "through), by step.", labels=["step"])
        for step, count in call_outcomes.extra_failures(session).items():
            extras.add_metric([step], count)
        return [family, extras]

    def _latency(self, counts):
        family = HistogramMetricFamily(f"{PREFIX}_delivery_latency_seconds",
                                       "Latency of HTTP calls to Kustomer.", labels=["action"])
        for action in sorted(_actions(counts, counters.LATENCY, counters.COUNT)):
            key = (counters.LATENCY, action)
            buckets = [(counters.le_label(le), int(counts.get(key + (counters.le_label(le),), 0)))
                       for le in LATENCY_BUCKETS]
            buckets.append(("+Inf", int(counts[key + (counters.COUNT,)])))
            family.add_metric([action], buckets, sum_value=counts.get(key + (counters.SUM_MS,), 0.0) / 1000)
        return [family]

    def _oldest_pending(self, session):
        oldest = store.oldest_unfinished_received_at(session)
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite hands back naive datetimes (stored as UTC)
                oldest = oldest.replace(tzinfo=timezone.utc)
            age = max(0.0, (utcnow() - oldest).total_seconds())
        return GaugeMetricFamily(f"{PREFIX}_oldest_pending_age_seconds",
                                 "Age of the oldest event not yet final (pending, processing, retrying); 0 if none.",
                                 value=age)


def _actions(counts, family: str, label2: str) -> set[str]:
    """The actions that have a (family, action, label2) count above zero."""
    return {action for (f, action, l2), value in counts.items() if f == family and l2 == label2 and value}


def registry_for(runtime) -> CollectorRegistry:
    """A registry of its own per app, so tests and several apps never share collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(runtime))
    return registry


@bp.get("/metrics")
def metrics():
    settings = current_app.extensions["bridge"].settings
    refused = metrics_access.refusal(settings.raw, request.headers.get("Authorization"))
    if refused is not None:
        status, message = refused
        headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else {}
        return Response(message + "\n", status, mimetype="text/plain", headers=headers)
    registry = current_app.extensions["bridge.metrics"]
    text = current_app.extensions["bridge.metrics.cache"].get(lambda: generate_latest(registry))
    return Response(text, content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.extensions["bridge.metrics"] = registry_for(app.extensions["bridge"])
    app.extensions["bridge.metrics.cache"] = metrics_access.ScrapeCache()
    app.register_blueprint(bp)

