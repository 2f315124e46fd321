"""`GET /metrics` computed from the database, the worker-side `Metrics` log lines, and request ids."""
import json
import logging
from datetime import timedelta

import pytest

from tests.kustomer_contract import checked_mock
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from bridge.events.models import Attempt, Event, utcnow
from bridge.logs import JsonFormatter
from bridge.delivery.metrics_log import Metrics
from tests.conftest import REVIEW_HOOK
from tests.helpers import sample_bytes, signed_headers


def scrape(client) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape, parsed like Prometheus would."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def value(samples: dict, name: str, **labels):
    return samples.get((name, frozenset(labels.items())))


def add_event(session, n: int, status: str, resource_type: str | None = "review", age: float = 0.0) -> Event:
    event = Event(webhook_id=f"msg_{n}", body=b"{}", headers={}, status=status, resource_type=resource_type,
                  topic="create", received_at=utcnow() - timedelta(seconds=age), attempts=0)
    session.add(event)
    session.flush()
    return event


def test_metrics_reflect_the_event_store(client, runtime):
    with runtime.db.session() as session:
        delivered = add_event(session, 1, "delivered")
        add_event(session, 2, "delivered")
        add_event(session, 3, "dead")
        add_event(session, 4, "pending", resource_type="survey_response", age=120)
        add_event(session, 5, "invalid", resource_type=None)
        for latency, status in ((30, 200), (80, 200), (400, 201), (3000, 503), (20000, None)):
            session.add(Attempt(event_id=delivered.id, action_key="hook:reviews", method="POST",
                                target="https://x/…/review…", status_code=status, latency_ms=latency))
        session.add(Attempt(event_id=delivered.id, action_key="ticket", method="POST",
                            target="https://x/…/conversations", status_code=201, latency_ms=None))

    samples = scrape(client)
    assert value(samples, "okendo_bridge_up") == 1
    assert value(samples, "okendo_bridge_events_total", resource_type="review", status="delivered") == 2
    assert value(samples, "okendo_bridge_events_total", resource_type="review", status="dead") == 1
    assert value(samples, "okendo_bridge_events_total", resource_type="survey_response", status="pending") == 1
    assert value(samples, "okendo_bridge_events_total", resource_type="unknown", status="invalid") == 1
    assert value(samples, "okendo_bridge_events_by_status", status="delivered") == 2
    assert value(samples, "okendo_bridge_events_by_status", status="retrying") == 0
    assert value(samples, "okendo_bridge_dead_events") == 1

    assert value(samples, "okendo_bridge_delivery_attempts_total", action="hook:reviews", outcome="ok") == 3
    assert value(samples, "okendo_bridge_delivery_attempts_total", action="hook:reviews", outcome="error") == 2
    assert value(samples, "okendo_bridge_delivery_attempts_total", action="ticket", outcome="ok") == 1

    buckets = {le: value(samples, "okendo_bridge_delivery_latency_seconds_bucket", action="hook:reviews", le=le)
               for le in ("0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")}
    assert buckets == {"0.05": 1, "0.1": 2, "0.25": 2, "0.5": 3, "1.0": 3, "2.5": 3, "5.0": 4, "10.0": 4, "+Inf": 5}
    assert value(samples, "okendo_bridge_delivery_latency_seconds_count", action="hook:reviews") == 5
    assert value(samples, "okendo_bridge_delivery_latency_seconds_sum", action="hook:reviews") == pytest.approx(23.51)
    # An attempt without a latency is counted as an attempt, not in the histogram.
    assert value(samples, "okendo_bridge_delivery_latency_seconds_count", action="ticket") is None

    assert value(samples, "okendo_bridge_queue_depth") == 1  # the pending event: due for a worker now
    assert 120 <= value(samples, "okendo_bridge_oldest_pending_age_seconds") < 180


def test_metrics_after_real_ingest_and_processing(client, runtime):
    with checked_mock() as kustomer:
        kustomer.post(REVIEW_HOOK, json={}, status=200)
        for name in ("review-create-positive.json", "quiz_response-create.json"):
            body = sample_bytes(name)
            event_id = client.post("/webhooks/okendo", data=body, headers=signed_headers(body)).json["event_id"]
            runtime.processor.process(event_id)
    samples = scrape(client)
    assert value(samples, "okendo_bridge_events_total", resource_type="review", status="delivered") == 1
    assert value(samples, "okendo_bridge_events_total", resource_type="quiz_response", status="skipped") == 1
    assert value(samples, "okendo_bridge_delivery_attempts_total", action="hook:reviews", outcome="ok") == 1
    assert value(samples, "okendo_bridge_delivery_latency_seconds_count", action="hook:reviews") == 1
    assert value(samples, "okendo_bridge_oldest_pending_age_seconds") == 0


def test_an_empty_store_scrapes_cleanly(client):
    samples = scrape(client)
    assert value(samples, "okendo_bridge_up") == 1
    assert value(samples, "okendo_bridge_dead_events") == 0
    assert value(samples, "okendo_bridge_oldest_pending_age_seconds") == 0
    assert value(samples, "okendo_bridge_queue_depth") == 0


def test_a_database_outage_reports_up_0_instead_of_failing_the_scrape(client, runtime, monkeypatch):
    def broken():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(runtime.db, "session", broken)
    samples = scrape(client)
    assert value(samples, "okendo_bridge_up") == 0
    assert value(samples, "okendo_bridge_queue_depth") is None  # the queue is the same database
    assert not any(name.startswith("okendo_bridge_events") for name, _ in samples)


def test_each_app_has_its_own_registry(database_url):
    from bridge.app import create_app
    from bridge.config import Settings
    from tests.conftest import make_env

    apps = [create_app(Settings.from_env(make_env(database_url))) for _ in range(2)]
    try:
        assert apps[0].extensions["bridge.metrics"] is not apps[1].extensions["bridge.metrics"]
        assert all(scrape(app.test_client())[("okendo_bridge_up", frozenset())] == 1 for app in apps)
    finally:
        for app in apps:
            app.extensions["bridge"].close()


# -- the worker-side recorder -------------------------------------------------------------
def test_metrics_recorder_logs_one_json_line_per_event_and_attempt(database_url, caplog):
    from bridge.config import Settings
    from bridge.composition import build_runtime
    from tests.conftest import make_env

    runtime = build_runtime(Settings.from_env(make_env(database_url)), metrics=Metrics())
    runtime.processor.clients.sleep = lambda seconds: None
    try:
        from bridge.app import create_app

        client = create_app(runtime=runtime).test_client()
        body = sample_bytes("review-create-positive.json")
        event_id = client.post("/webhooks/okendo", data=body, headers=signed_headers(body)).json["event_id"]
        with checked_mock() as kustomer, caplog.at_level(logging.INFO, logger="bridge.metrics"):
            kustomer.post(REVIEW_HOOK, json={}, status=200)
            runtime.processor.process(event_id)
    finally:
        runtime.close()
    records = [r for r in caplog.records if r.name == "bridge.metrics"]
    attempt, processed = records
    assert (attempt.action, attempt.status) == ("hook:reviews", 200) and attempt.latency_ms >= 0
    assert (processed.event_id, processed.status) == (event_id, "delivered") and processed.latency_ms >= 0
    line = json.loads(JsonFormatter().format(processed))
    assert line["event_id"] == event_id and line["status"] == "delivered" and "latency_ms" in line


# -- request ids (registered by the app factory, bridge.app.create_app) ----------------------
def test_request_id_is_taken_from_the_router_or_made_and_echoed(client, caplog):
    with caplog.at_level(logging.INFO, logger="bridge.http"):
        given = client.get("/healthz", headers={"X-Request-ID": "3f1c9a4e-heroku-id"})
        made = client.get("/healthz")
        forged = client.get("/healthz", headers={"X-Request-ID": 'x" "level": "error'})
    assert given.headers["X-Request-ID"] == "3f1c9a4e-heroku-id"
    assert len(made.headers["X-Request-ID"]) == 32
    assert forged.headers["X-Request-ID"] != 'x" "level": "error'  # unsafe ids are replaced
    [first, second, third] = [r for r in caplog.records if r.name == "bridge.http"]
    line = json.loads(JsonFormatter().format(first))
    assert line["request_id"] == "3f1c9a4e-heroku-id"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["latency_ms"] >= 0
    assert second.request_id == made.headers["X-Request-ID"]
    assert third.request_id == forged.headers["X-Request-ID"]


def test_every_answer_carries_a_request_id_including_refusals(client):
    for response in (client.post("/webhooks/okendo", data=b"{}"), client.get("/admin/"), client.get("/nowhere")):
        assert response.headers.get("X-Request-ID")
