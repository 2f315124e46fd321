"""POST /webhooks/okendo through the Flask test client, on every storage backend."""
import json
import logging
import threading
import time

import pytest

from bridge.events import event_insert, store
from bridge.events.models import Event
from tests.conftest import make_env
from tests.helpers import OTHER_SECRET, sample_bytes, signed_headers

URL = "/webhooks/okendo"


def post(client, body: bytes, **kw):
    return client.post(URL, data=body, headers=signed_headers(body, **kw))


def stored(runtime) -> list[Event]:
    with runtime.db.session() as session:
        return store.list_events(session, limit=1000)


def test_a_genuine_review_is_stored_pending_and_enqueued(client, runtime):
    body = sample_bytes("review-create-negative.json")
    response = post(client, body, webhook_id="msg_new")
    assert response.status_code == 202
    assert response.json["status"] == "pending"
    [event] = stored(runtime)
    assert event.webhook_id == "msg_new"
    assert event.body == body  # the raw bytes, unchanged
    assert (event.resource_type, event.topic, event.sequence_number) == ("review", "create", "1001")
    assert event.resource_id == "0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10"
    assert event.headers["webhook-id"] == "msg_new"
    assert runtime.dispatcher.depth() == 1


def test_a_repeated_webhook_id_is_stored_once_and_answered_200(client, runtime):
    body = sample_bytes("review-create-negative.json")
    assert post(client, body, webhook_id="msg_dup").status_code == 202
    second = post(client, body, webhook_id="msg_dup")
    assert second.status_code == 200
    assert second.json["status"] == "duplicate"
    assert len(stored(runtime)) == 1
    assert runtime.dispatcher.depth() == 1


def test_a_webhook_writes_one_log_line_with_the_request_and_the_event(client, runtime, caplog):
    from bridge.logs import JsonFormatter

    body = sample_bytes("review-create-negative.json")
    with caplog.at_level(logging.INFO):
        assert post(client, body, webhook_id="msg_logged").status_code == 202
        assert post(client, body, webhook_id="msg_logged").status_code == 200
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.levelno >= logging.INFO]
    assert [line["logger"] for line in lines] == ["bridge.http", "bridge.http"]
    first, again = lines
    [event] = stored(runtime)
    assert first["msg"] == "POST /webhooks/okendo 202: stored webhook"
    assert (first["method"], first["path"], first["status"], first["event_status"]) == (
        "POST", "/webhooks/okendo", 202, "pending")
    assert (first["event_id"], first["webhook_id"]) == (event.id, "msg_logged")
    assert first["request_id"] and first["latency_ms"] >= 0
    assert again["msg"] == "POST /webhooks/okendo 200: duplicate webhook" and again["event_id"] == event.id


@pytest.mark.parametrize("mutate", [
    lambda h: h.pop("webhook-signature"),
    lambda h: h.pop("webhook-id"),
    lambda h: h.pop("webhook-timestamp"),
    lambda h: h.update({"webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}),
    lambda h: h.update({"webhook-timestamp": str(int(time.time()) - 600)}),
])
def test_unsigned_or_badly_signed_requests_get_401_and_store_nothing(client, runtime, mutate):
    body = sample_bytes("review-create-negative.json")
    headers = signed_headers(body)
    mutate(headers)
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 401
    assert stored(runtime) == []


def test_a_signature_from_another_secret_is_refused(client, runtime):
    body = sample_bytes("review-create-negative.json")
    assert post(client, body, secret=OTHER_SECRET).status_code == 401
    assert stored(runtime) == []


def test_a_body_over_the_limit_gets_413_and_is_not_stored(client, runtime, settings):
    body = b'{"x": "' + b"a" * settings.max_body_bytes + b'"}'
    assert post(client, body).status_code == 413
    assert stored(runtime) == []


def test_genuine_body_that_is_not_json_is_kept_as_invalid(client, runtime):
    body = b"this is not json {"
    response = post(client, body)
    assert response.status_code == 202
    assert response.json["status"] == "invalid"
    assert "not valid JSON" in json.dumps(response.json["errors"])
    [event] = stored(runtime)
    assert event.status == "invalid" and event.body == body
    assert runtime.dispatcher.depth() == 0


def test_genuine_event_that_breaks_the_schema_is_kept_and_made_invalid_with_its_errors_by_the_worker(
        client, runtime):
    # Issue 16: the resource's schema is checked by the worker, not at ingest (only the
    # envelope is); the event still ends `invalid` with the schema's errors.
    payload = json.loads(sample_bytes("review-create-negative.json"))
    payload["resource"]["rating"] = 9
    body = json.dumps(payload).encode()
    response = post(client, body)
    assert response.status_code == 202
    assert response.json["status"] == "pending"
    assert runtime.processor.process(response.json["event_id"]) == "invalid"
    [event] = stored(runtime)
    assert event.status == "invalid" and event.body == body
    assert "rating" in json.dumps(event.errors["resource"])
    assert event.completed_at is not None


def test_a_broken_envelope_is_still_answered_invalid_with_every_error_at_ingest(client, runtime):
    payload = json.loads(sample_bytes("review-create-negative.json"))
    payload["topic"] = "created"
    payload["resource"]["rating"] = 9
    body = json.dumps(payload).encode()
    response = post(client, body)
    assert response.status_code == 202
    assert response.json["status"] == "invalid"
    assert set(response.json["errors"]) == {"topic", "resource"}  # the resource's errors too
    assert "rating" in json.dumps(response.json["errors"]["resource"])
    [event] = stored(runtime)
    assert event.status == "invalid" and event.errors == response.json["errors"]
    assert runtime.dispatcher.depth() == 0


def test_an_unknown_resource_type_is_stored_and_skipped(client, runtime):
    body = json.dumps({"resource": {"subscriberId": "s1", "referralId": "r1"}, "resourceType": "gift_card",
                       "topic": "create", "sequenceNumber": "5", "version": "2025-02-01"}).encode()
    response = post(client, body)
    assert response.status_code == 202
    assert response.json["status"] == "skipped"
    [event] = stored(runtime)
    assert event.status == "skipped"
    assert "gift_card" in event.last_error
    assert runtime.dispatcher.depth() == 0


def test_svix_header_spelling_is_accepted(client, runtime):
    body = sample_bytes("survey_response-create-detractor.json")
    assert post(client, body, prefix="svix").status_code == 202
    assert stored(runtime)[0].resource_type == "survey_response"


def test_rotated_secrets_are_both_accepted(database_url):
    from bridge.app import create_app
    from bridge.config import Settings
    from tests.helpers import SECRET

    env = make_env(database_url, OKENDO_WEBHOOK_SECRET=f"{SECRET}, {OTHER_SECRET}")
    client = create_app(Settings.from_env(env)).test_client()
    body = sample_bytes("review-create-positive.json")
    assert post(client, body, secret=SECRET).status_code == 202
    assert post(client, body, secret=OTHER_SECRET).status_code == 202


def test_the_webhook_answers_503_when_the_database_is_unavailable(client, runtime, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def broken(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(event_insert, "store_event", broken)
    response = post(client, sample_bytes("review-create-negative.json"))
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_concurrent_copies_of_one_webhook_store_one_event(app, runtime):
    """Eight threads deliver the same webhook-id at once: one 202, the rest 200."""
    body = sample_bytes("review-create-negative.json")
    headers = signed_headers(body, webhook_id="msg_race")
    barrier = threading.Barrier(8)
    codes = []

    def deliver():
        client = app.test_client()
        barrier.wait()
        codes.append(client.post(URL, data=body, headers=headers).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 7 + [202]
    assert len(stored(runtime)) == 1


def test_health_and_readiness(client):
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "queue": "ok"}


def test_readiness_is_503_when_the_database_is_unreachable(database_url):
    from bridge.app import create_app
    from bridge.config import Settings

    env = make_env(database_url, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    client = create_app(Settings.from_env(env)).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("error")
