"""Issue 13 parts 2, 3 and 5: delivery ids, secrets tied to stores, bodies that cannot be sent as they came."""
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from bridge.app import create_app
from bridge.config import Settings
from bridge.delivery.delivery_id import FIELD, delivery_id
from bridge.events import store
from bridge.events.models import Action, Event
from tests.conftest import REVIEW_HOOK, make_env
from tests.helpers import OTHER_SECRET, SECRET, sample, sample_bytes, signed_headers

URL = "/webhooks/okendo"
ACME = "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21"
GLOBEX = "9b1d7c44-2f6e-4a8b-b3c5-0d1e2f3a4b5c"
SHARED_STORE = "0c0c0c0c-0000-4000-8000-000000000000"
ACME_SECRET = "whsec_QUNNRS1zZWNyZXQta2V5LWZvci10ZXN0cw=="
GLOBEX_SECRET = "whsec_R0xPQkVYLXNlY3JldC1rZXktZm9yLXRlc3Rz"
TWO_STORES = str(Path(__file__).parents[1] / "mappings" / "two_stores_with_secrets.yaml")
ACME_HOOK = "https://acme.api.kustomerapp.com/v1/hooks/web/acmehash0001"
GLOBEX_HOOK = "https://globex.api.kustomerapp.com/v1/hooks/web/globexhash01"


def events(runtime) -> list[Event]:
    with runtime.db.session() as session:
        return store.list_events(session, limit=1000)


def review_of(subscriber_id: str, **changes) -> bytes:
    payload = sample("review-create-negative.json")
    payload["resource"]["subscriberId"] = subscriber_id
    payload["resource"].update(changes)
    return json.dumps(payload).encode()


@pytest.fixture
def two_stores(database_url):
    env = make_env(database_url, BRIDGE_MAPPING=TWO_STORES, ACME_OKENDO_SECRET=ACME_SECRET,
                   GLOBEX_OKENDO_SECRET=GLOBEX_SECRET, ACME_REVIEW_HOOK_URL=ACME_HOOK,
                   GLOBEX_REVIEW_HOOK_URL=GLOBEX_HOOK)
    app = create_app(Settings.from_env(env))
    yield app
    app.extensions["bridge"].close()


# -- part 3: a store's secret signs only that store's events ---------------------------------
def test_one_stores_secret_cannot_sign_an_event_of_another_store(two_stores):
    client, runtime = two_stores.test_client(), two_stores.extensions["bridge"]
    body = review_of(GLOBEX)
    response = client.post(URL, data=body, headers=signed_headers(body, secret=ACME_SECRET))
    assert response.status_code == 401
    assert "another store" in response.json["reason"]
    assert events(runtime) == []


def test_each_store_signs_its_own_events(two_stores):
    client, runtime = two_stores.test_client(), two_stores.extensions["bridge"]
    for subscriber_id, secret in ((ACME, ACME_SECRET), (GLOBEX, GLOBEX_SECRET)):
        body = review_of(subscriber_id)
        assert client.post(URL, data=body, headers=signed_headers(body, secret=secret)).status_code == 202
    assert sorted(e.subscriber_id for e in events(runtime)) == sorted([ACME, GLOBEX])


def test_the_shared_secret_no_longer_speaks_for_a_store_with_its_own(two_stores):
    client, runtime = two_stores.test_client(), two_stores.extensions["bridge"]
    body = review_of(ACME)
    response = client.post(URL, data=body, headers=signed_headers(body, secret=SECRET))
    assert response.status_code == 401 and "secret of its own" in response.json["reason"]
    # ...but still signs for a store that names none, and for stores the mapping does not list.
    for subscriber_id in (SHARED_STORE, "11111111-2222-4333-8444-555555555555"):
        body = review_of(subscriber_id)
        assert client.post(URL, data=body, headers=signed_headers(body, secret=SECRET)).status_code == 202
    assert len(events(runtime)) == 2


def test_a_store_secret_cannot_sign_an_event_that_names_no_store(two_stores):
    client, runtime = two_stores.test_client(), two_stores.extensions["bridge"]
    payload = sample("review-create-negative.json")
    del payload["resource"]["subscriberId"]
    body = json.dumps(payload).encode()
    assert client.post(URL, data=body, headers=signed_headers(body, secret=ACME_SECRET)).status_code == 401
    assert events(runtime) == []
    # A genuine body that is not JSON names no store and is never delivered: kept as invalid.
    body = b"{not json"
    response = client.post(URL, data=body, headers=signed_headers(body, secret=ACME_SECRET))
    assert response.status_code == 202 and response.json["status"] == "invalid"
    assert [e.status for e in events(runtime)] == ["invalid"]


def test_a_store_naming_an_unset_secret_accepts_nothing(database_url):
    env = make_env(database_url, BRIDGE_MAPPING=TWO_STORES, GLOBEX_OKENDO_SECRET=GLOBEX_SECRET)
    app = create_app(Settings.from_env(env))
    body = review_of(ACME)
    for secret in (SECRET, GLOBEX_SECRET, OTHER_SECRET):
        assert app.test_client().post(URL, data=body, headers=signed_headers(body, secret=secret)).status_code == 401
    app.extensions["bridge"].close()


# -- part 2: a stable key to deduplicate -------------------------------------------------------
def test_every_hook_body_carries_a_delivery_id_stable_across_retries_and_replays(two_stores, kustomer):
    client, runtime = two_stores.test_client(), two_stores.extensions["bridge"]
    runtime.processor.clients.sleep = lambda seconds: None
    runtime.processor.tickets = None
    kustomer.post(ACME_HOOK, status=200, json={})
    kustomer.post(REVIEW_HOOK, status=200, json={})
    body = review_of(ACME)
    event_id = client.post(URL, data=body, headers=signed_headers(body, secret=ACME_SECRET,
                                                                   webhook_id="msg_dedupe")).json["event_id"]
    assert runtime.processor.process(event_id) == "delivered"
    # The crash window: Kustomer answered 2xx, the worker was killed before recording it, so
    # the event is runnable again with no action done (what the sweeper then finds).
    with runtime.db.session() as session:
        session.execute(Action.__table__.delete())
        session.execute(update(Event).where(Event.id == event_id).values(
            status="pending", completed_at=None, lease_until=None, next_attempt_at=None))
    assert runtime.processor.process(event_id) == "delivered"
    ids = {}
    for call in kustomer.calls:
        ids.setdefault(call.request.url, []).append(json.loads(call.request.body)[FIELD])
    assert ids[ACME_HOOK] == [delivery_id("msg_dedupe", "hook:acme-reviews")] * 2
    assert ids[REVIEW_HOOK] == [delivery_id("msg_dedupe", "hook:everyone")] * 2
    assert ids[ACME_HOOK][0] != ids[REVIEW_HOOK][0]


# -- part 5: bodies the bridge stores must also be deliverable -----------------------------
def test_a_lone_surrogate_is_repaired_recorded_and_delivered(client, runtime, kustomer):
    runtime.processor.tickets = None
    kustomer.post(REVIEW_HOOK, status=200, json={})
    text = sample_bytes("review-create-positive.json").decode()
    payload = json.loads(text)
    body = text.replace(json.dumps(payload["resource"]["body"]), '"Great boots \\ud83d"').encode()
    assert b"\\ud83d" in body
    response = client.post(URL, data=body, headers=signed_headers(body))
    assert response.status_code == 202 and response.json["status"] == "pending"
    event_id = response.json["event_id"]
    [event] = events(runtime)
    assert event.body == body  # the signed bytes are kept as they came
    assert event.errors == {"_repaired": ["lone surrogate replaced by U+FFFD at $.resource.body"]}
    assert runtime.processor.process(event_id) == "delivered"
    [call] = kustomer.calls
    assert json.loads(call.request.body)["review"]["body"] == "Great boots \ufffd"


def test_a_broken_review_with_repaired_text_is_made_invalid_by_the_worker_keeping_both_notes(client, runtime):
    payload = sample("review-create-positive.json")
    payload["resource"]["rating"] = 9
    body = json.dumps(payload).replace(json.dumps(payload["resource"]["body"]), '"cut \\ud83d"').encode()
    response = client.post(URL, data=body, headers=signed_headers(body))
    assert response.status_code == 202 and response.json["status"] == "pending"
    assert runtime.processor.process(response.json["event_id"]) == "invalid"
    [event] = events(runtime)
    assert event.errors["_repaired"] == ["lone surrogate replaced by U+FFFD at $.resource.body"]
    assert "rating" in event.errors["resource"]


def test_the_admin_page_of_an_event_with_a_lone_surrogate_answers(client, runtime):
    body = json.dumps({"resourceType": "review", "topic": "create", "x": "\ud800"}).encode()
    event_id = client.post(URL, data=body, headers=signed_headers(body)).json["event_id"]
    auth = {"Authorization": "Basic YWRtaW46Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ=="}
    page = client.get(f"/admin/events/{event_id}", headers=auth)
    assert page.status_code == 200
    assert "\ufffd" in page.get_data(as_text=True)


@pytest.mark.parametrize("depth", [65, 5000, 100_000])
def test_a_body_nested_very_deep_is_stored_as_invalid(client, runtime, depth):
    body = ('{"resourceType": "review", "topic": "create", "resource": ' + "[" * depth + "]" * depth + "}").encode()
    response = client.post(URL, data=body, headers=signed_headers(body))
    assert response.status_code == 202
    assert response.json["status"] == "invalid"
    assert "nested deeper than" in json.dumps(response.json["errors"])
    [event] = events(runtime)
    assert event.status == "invalid" and event.body == body
    auth = {"Authorization": "Basic YWRtaW46Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ=="}
    assert client.get(f"/admin/events/{event.id}", headers=auth).status_code == 200


# -- part 6: ${NAME} cannot carry a secret into a body -----------------------------------------
def _problems(text: str, env=None) -> list[str]:
    from bridge.mapping import MappingError
    from bridge.mapping.loader import load_mapping_text

    try:
        load_mapping_text(text, "m.yaml", env or {})
    except MappingError as error:
        return [str(problem) for problem in error.problems]
    return []


@pytest.mark.parametrize("where", [
    "tickets:\n  events: [review.create]\n  negative: {rating_at_most: 2}\n  conversation:\n"
    "    note: 'key ${OKENDO_WEBHOOK_SECRET}'\n",
    "routes:\n  - name: r\n    events: [review.create]\n    url: https://x.example/h\n    body: passthrough\n"
    "    extra: {leak: '${KUSTOMER_API_KEY}'}\n",
    "routes:\n  - name: r\n    events: [review.create]\n    url: 'https://x.example/h?k=${OKENDO_WEBHOOK_SECRET}'\n"
    "    body: passthrough\n",
    "routes:\n  - name: r\n    events: [review.create]\n    url: 'https://x.example/h?k=${SHOPIFY_API_TOKEN}'\n"
    "    body: passthrough\n",
])
def test_a_secret_cannot_be_put_into_a_body_or_url_with_env_references(where):
    env = {"OKENDO_WEBHOOK_SECRET": SECRET, "KUSTOMER_API_KEY": "k", "SHOPIFY_API_TOKEN": "t",
           "KUSTOMER_API_BASE": "https://a.api.kustomerapp.com"}
    problems = _problems("version: 1\n" + where, env)
    assert problems and all(problem.startswith("m.yaml:") for problem in problems)
    assert any("secret" in problem for problem in problems)
    assert SECRET not in " ".join(problems)


def test_env_references_stay_allowed_where_they_belong():
    env = {"HOOK": "https://x.example/h", "K": "key", "S": SECRET, "Q": "queue1"}
    assert _problems("version: 1\nroutes:\n  - name: r\n    events: [review.create]\n    url: ${HOOK}\n"
                     "    body: passthrough\nstores:\n  '5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21':\n"
                     "    secret: ${S}\n    kustomer: {api_key: '${K}', api_base: '${HOOK}'}\n", env) == []


def test_the_multi_store_example_ties_each_store_to_its_secret():
    from bridge.mapping.loader import load_mapping

    root = Path(__file__).parents[2]
    mapping = load_mapping(root / "config" / "examples" / "multi-store.yaml",
                           {"ACME_OKENDO_SECRET": ACME_SECRET, "GLOBEX_OKENDO_SECRET": GLOBEX_SECRET})
    assert mapping.store(ACME).webhook_secrets == (ACME_SECRET,)
    assert mapping.store(GLOBEX).webhook_secrets == (GLOBEX_SECRET,)


def test_a_mapping_that_does_not_load_leaves_the_shared_secret_working(database_url, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nroutes: [oops\n")
    app = create_app(Settings.from_env(make_env(database_url, BRIDGE_MAPPING=str(broken))))
    client = app.test_client()
    for _ in range(3):
        body = review_of(ACME)
        assert client.post(URL, data=body, headers=signed_headers(body, secret=SECRET)).status_code == 202
        assert client.post(URL, data=body, headers=signed_headers(body, secret=ACME_SECRET)).status_code == 401
    app.extensions["bridge"].close()
