"""The Kustomer emulator (bridge.devtools.emulator): a test double, exercised through Flask's test
client. ``serve()`` in a real gunicorn process is tests/e2e/test_emulator_serve.py."""
import re
import threading
import time
from datetime import datetime

import pytest

from bridge.devtools.emulator import app as emulator_app
from bridge.devtools.emulator import create_emulator_app
from bridge.devtools.emulator.state import HOOK_BODY_LIMIT, NOTE_BODY_MAX

KEY = "emulator-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
HEX24 = re.compile(r"^[0-9a-f]{24}$")


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def emulator(clock):
    return create_emulator_app(clock=clock)


@pytest.fixture
def client(emulator):
    return emulator.test_client()


def received(client) -> dict:
    return client.get("/__emulator/received").json


def hook(client, body=None, hook_hash="reviews", **kw):
    return client.post(f"/v1/hooks/web/{hook_hash}", json=body or {"n": 1}, headers=AUTH, **kw)


def make_customer(client, email="jo@example.com", external_id=None) -> str:
    body = {"name": "Jo", "emails": [{"type": "home", "email": email}]}
    if external_id:
        body["externalId"] = external_id
    response = client.post("/v1/customers", json=body, headers=AUTH)
    assert response.status_code == 201, response.json
    return response.json["data"]["id"]


def make_conversation(client, customer_id, **attrs) -> dict:
    response = client.post("/v1/conversations", json={"customer": customer_id, **attrs}, headers=AUTH)
    assert response.status_code == 201, response.json
    return response.json["data"]


# ---- auth and roles -------------------------------------------------------------------

def test_current_token_lists_roles_and_org_name(client):
    response = client.get("/v1/auth/tokens/current", headers=AUTH)
    assert response.status_code == 200
    data = response.json["data"]
    assert data["type"] == "token" and data["attributes"]["orgName"] == "emulator"
    assert {"org.hooks", "org.permission.customer.read", "org.permission.note.create"} <= set(
        data["attributes"]["roles"])


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}])
def test_a_missing_or_wrong_key_gets_401_in_kustomer_error_shape(client, headers):
    for method, url in [("get", "/v1/auth/tokens/current"), ("post", "/v1/hooks/web/reviews"),
                        ("get", "/v1/customers/email=a@b.c")]:
        response = getattr(client, method)(url, json={} if method == "post" else None, headers=headers)
        assert response.status_code == 401
        assert response.json == {"errors": [{"status": "401", "code": "auth_unauthorized",
                                              "title": "Unauthorized"}]}
    assert received(client)["hooks"] == []


def test_a_key_without_the_needed_role_gets_403():
    client = create_emulator_app(api_key="k", roles=["org.permission.customer.read"]).test_client()
    headers = {"Authorization": "Bearer k"}
    assert client.post("/v1/hooks/web/reviews", json={}, headers=headers).status_code == 403
    forbidden = client.post("/v1/customers", json={"name": "x"}, headers=headers)
    assert forbidden.status_code == 403 and forbidden.json["errors"][0]["status"] == "403"
    assert client.get("/v1/customers/email=a@b.c", headers=headers).status_code == 404  # allowed
    roles = client.get("/v1/auth/tokens/current", headers=headers).json["data"]["attributes"]["roles"]
    assert roles == ["org.permission.customer.read"]


def test_the_older_org_hook_role_name_also_allows_posting_hooks():
    client = create_emulator_app(roles=["org.hook"]).test_client()
    assert hook(client).status_code == 200


# ---- hooks ------------------------------------------------------------------------------

def test_a_web_hook_is_stored_wrapped_as_the_transaction_a_workflow_sees(client, emulator, clock):
    body = {"reviewerEmail": "jo@example.com", "review": {"rating": 1}}
    response = hook(client, body)
    assert response.status_code == 200 and response.is_json
    [record] = received(client)["hooks"]
    assert record["hash"] == "reviews" and record["received_at"] == clock.now
    tx = record["transaction"]
    assert HEX24.match(tx["id"]) and tx["type"] == "transaction"
    assert tx["attributes"]["data"] == body
    assert datetime.fromisoformat(tx["attributes"]["createdAt"]).timestamp() == pytest.approx(clock.now)
    org_id = emulator.extensions["kustomer_emulator"].org_id
    assert tx["relationships"]["org"] == {"data": {"type": "org", "id": org_id},
                                          "links": {"self": f"/v1/org/{org_id}"}}
    hook_rel = tx["relationships"]["hook"]
    assert hook_rel["data"]["type"] == "web_hook"
    assert hook_rel["links"]["self"] == f"/v1/hooks/web/{hook_rel['data']['id']}"


def test_a_form_hook_needs_no_key(client):
    response = client.post("/v1/hooks/form/myorg/surveys", json={"npsScore": 2})
    assert response.status_code == 200
    [record] = received(client)["hooks"]
    assert (record["hash"], record["kind"], record["org"]) == ("surveys", "form", "myorg")
    assert record["transaction"]["attributes"]["data"] == {"npsScore": 2}


def test_registered_hooks_make_unknown_hashes_404():
    client = create_emulator_app(hooks=["reviews"]).test_client()
    assert hook(client, hook_hash="reviews").status_code == 200
    missing = hook(client, hook_hash="typo")
    assert missing.status_code == 404 and missing.json["errors"][0]["code"] == "not_found"
    assert [h["hash"] for h in received(client)["hooks"]] == ["reviews"]


def test_a_hook_body_over_400_kb_gets_413_and_is_not_stored(client):
    def body_of(size):  # a JSON string literal of exactly `size` bytes
        return ('"' + "x" * (size - 2) + '"').encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    too_big = client.post("/v1/hooks/web/reviews", data=body_of(HOOK_BODY_LIMIT + 1), headers=headers)
    assert too_big.status_code == 413 and too_big.json["errors"][0]["status"] == "413"
    fits = client.post("/v1/hooks/web/reviews", data=body_of(HOOK_BODY_LIMIT), headers=headers)
    assert fits.status_code == 200
    assert len(received(client)["hooks"]) == 1
    assert HOOK_BODY_LIMIT == 400_000  # "400 KB", read strictly: Kustomer does not say which


def test_invalid_json_hook_body_gets_400(client):
    response = client.post("/v1/hooks/web/reviews", data=b"{not json",
                           headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400 and received(client)["hooks"] == []


# ---- customers --------------------------------------------------------------------------

def test_customers_are_created_and_found_by_email_and_external_id(client):
    customer_id = make_customer(client, "Jo+1@Example.com", external_id="shop-7")
    assert HEX24.match(customer_id)
    by_email = client.get("/v1/customers/email=jo%2B1%40example.com", headers=AUTH)
    assert by_email.status_code == 200
    assert by_email.json["data"]["type"] == "customer" and by_email.json["data"]["id"] == customer_id
    assert by_email.json["data"]["attributes"]["externalId"] == "shop-7"
    assert client.get("/v1/customers/externalId=shop-7", headers=AUTH).json["data"]["id"] == customer_id
    assert client.get(f"/v1/customers/{customer_id}", headers=AUTH).status_code == 200
    assert client.get("/v1/customers/email=nobody%40example.com", headers=AUTH).status_code == 404
    assert client.get("/v1/customers/externalId=nope", headers=AUTH).status_code == 404


def test_duplicate_customer_email_or_external_id_gets_409(client):
    make_customer(client, "jo@example.com", external_id="shop-7")
    same_email = client.post("/v1/customers", headers=AUTH,
                             json={"emails": [{"email": "JO@example.com"}]})
    assert same_email.status_code == 409 and same_email.json["errors"][0]["status"] == "409"
    same_external = client.post("/v1/customers", headers=AUTH,
                                json={"emails": [{"email": "other@example.com"}], "externalId": "shop-7"})
    assert same_external.status_code == 409
    assert len(received(client)["customers"]) == 1
    # the failed creates claimed nothing: other@example.com is still free
    make_customer(client, "other@example.com")


def test_a_customer_create_needs_a_json_object(client):
    assert client.post("/v1/customers", data="x", headers=AUTH).status_code == 400
    bad = client.post("/v1/customers", json={"emails": ["jo@example.com"]}, headers=AUTH)
    assert bad.status_code == 400 and bad.json["errors"][0]["source"] == {"pointer": "/emails/0"}


# ---- conversations, tags, notes ----------------------------------------------------------

def test_a_conversation_needs_an_existing_customer(client):
    missing = client.post("/v1/conversations", json={"name": "x"}, headers=AUTH)
    assert missing.status_code == 400 and missing.json["errors"][0]["source"]["pointer"] == "/customer"
    assert client.post("/v1/conversations", json={"customer": "0" * 24}, headers=AUTH).status_code == 404
    assert client.post(f"/v1/customers/{'0' * 24}/conversations", json={}, headers=AUTH).status_code == 404


def test_conversations_are_created_and_found_by_external_id(client):
    customer_id = make_customer(client)
    conversation = make_conversation(client, customer_id, name="1-star review", priority=4,
                                     externalId="okendo-review-1", custom={"okendoRatingNum": 1})
    assert conversation["type"] == "conversation" and HEX24.match(conversation["id"])
    attrs = conversation["attributes"]
    assert (attrs["name"], attrs["status"], attrs["priority"]) == ("1-star review", "open", 4)
    assert attrs["externalId"] == "okendo-review-1" and attrs["custom"] == {"okendoRatingNum": 1}
    assert conversation["relationships"]["customer"]["data"] == {"type": "customer", "id": customer_id}

    found = client.get("/v1/conversations/externalId=okendo-review-1", headers=AUTH)
    assert found.status_code == 200 and found.json["data"]["id"] == conversation["id"]
    assert client.get(f"/v1/conversations/{conversation['id']}", headers=AUTH).json["data"] == conversation
    assert client.get("/v1/conversations/externalId=other", headers=AUTH).status_code == 404
    assert client.get(f"/v1/conversations/{'0' * 24}", headers=AUTH).status_code == 404


def test_the_customer_scoped_route_creates_a_conversation_too(client):
    customer_id = make_customer(client)
    response = client.post(f"/v1/customers/{customer_id}/conversations", json={"name": "hi"}, headers=AUTH)
    assert response.status_code == 201
    assert response.json["data"]["relationships"]["customer"]["data"]["id"] == customer_id


def test_duplicate_conversation_external_ids_are_allowed_but_counted(client):
    customer_id = make_customer(client)
    first = make_conversation(client, customer_id, externalId="dup")
    make_conversation(client, customer_id, externalId="dup")
    make_conversation(client, customer_id, externalId="single")
    counts = received(client)["conversation_external_ids"]
    assert counts == {"dup": 2, "single": 1}
    found = client.get("/v1/conversations/externalId=dup", headers=AUTH).json["data"]
    assert found["id"] == first["id"]  # the oldest


def test_patch_updates_a_conversation(client):
    conversation = make_conversation(client, make_customer(client), custom={"aStr": "a"})
    url = f"/v1/conversations/{conversation['id']}"
    done = client.patch(url, json={"status": "done", "custom": {"bNum": 2}}, headers=AUTH)
    assert done.status_code == 200
    assert done.json["data"]["attributes"]["status"] == "done"
    assert done.json["data"]["attributes"]["custom"] == {"aStr": "a", "bNum": 2}
    assert client.patch(url, json={"status": "closed"}, headers=AUTH).status_code == 400
    assert client.patch(url, json={"priority": 9}, headers=AUTH).status_code == 400
    reopened = client.patch(url, json={"status": "open"}, headers=AUTH)
    assert reopened.json["data"]["attributes"]["status"] == "open"


def test_tags_by_name_are_created_and_added_once(client):
    conversation = make_conversation(client, make_customer(client))
    url = f"/v1/conversations/{conversation['id']}/tags"
    response = client.post(url, json=["okendo", "negative-review"], headers=AUTH)
    assert response.status_code == 200
    assert client.post(url, json=["okendo"], headers=AUTH).status_code == 200
    snapshot = received(client)
    [stored] = snapshot["conversations"]
    assert stored["tags"] == ["okendo", "negative-review"]
    assert stored["attributes"]["tags"] == [snapshot["tags"]["okendo"], snapshot["tags"]["negative-review"]]
    assert client.post(url, json=[snapshot["tags"]["okendo"]], headers=AUTH).status_code == 200  # ids too
    assert received(client)["conversations"][0]["tags"] == ["okendo", "negative-review"]
    for bad in ([], "okendo", [7], {"tags": ["okendo"]}):
        refused = client.post(url, json=bad, headers=AUTH)
        assert refused.status_code == 400, bad
        assert refused.json["errors"][0]["status"] == "400"
    assert client.post(f"/v1/conversations/{'0' * 24}/tags", json=["x"],
                       headers=AUTH).status_code == 404


def test_conversation_tags_on_create_are_ids_not_names(client):
    customer_id = make_customer(client)
    by_name = client.post("/v1/conversations", json={"customer": customer_id, "tags": ["okendo"]},
                          headers=AUTH)
    assert by_name.status_code == 400
    first = make_conversation(client, customer_id)
    client.post(f"/v1/conversations/{first['id']}/tags", json=["okendo"], headers=AUTH)
    tag_id = received(client)["tags"]["okendo"]
    assert make_conversation(client, customer_id, tags=[tag_id])["attributes"]["tags"] == [tag_id]


def test_notes_are_validated_and_attached_to_their_conversation(client):
    conversation = make_conversation(client, make_customer(client))
    url = f"/v1/conversations/{conversation['id']}/notes"
    for bad in [{}, {"body": ""}, {"body": "x" * (NOTE_BODY_MAX + 1)}, {"body": 5},
                {"body": "ok", "externalId": 7}]:
        response = client.post(url, json=bad, headers=AUTH)
        assert response.status_code == 400, bad
        assert response.json["errors"][0]["status"] == "400"
    longest = client.post(url, json={"body": "x" * NOTE_BODY_MAX, "externalId": "n-1"}, headers=AUTH)
    assert longest.status_code == 201
    note = longest.json["data"]
    assert note["type"] == "note" and note["attributes"]["externalId"] == "n-1"
    assert note["relationships"]["conversation"]["data"]["id"] == conversation["id"]
    snapshot = received(client)
    assert [n["id"] for n in snapshot["conversations"][0]["notes"]] == [note["id"]]
    assert [n["id"] for n in snapshot["notes"]] == [note["id"]]
    assert client.post(f"/v1/conversations/{'0' * 24}/notes", json={"body": "x"},
                       headers=AUTH).status_code == 404


def test_120_conversations_and_notes_per_customer_per_minute(client, clock):
    customer_id, other_id = make_customer(client), make_customer(client, "other@example.com")
    for _ in range(120):
        conversation = make_conversation(client, customer_id)
    over = client.post("/v1/conversations", json={"customer": customer_id}, headers=AUTH)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    make_conversation(client, other_id)  # another customer's budget is untouched
    notes_url = f"/v1/conversations/{conversation['id']}/notes"
    for _ in range(120):
        assert client.post(notes_url, json={"body": "n"}, headers=AUTH).status_code == 201
    assert client.post(notes_url, json={"body": "n"}, headers=AUTH).status_code == 429
    clock.now += 61
    make_conversation(client, customer_id)
    assert received(client)["throttled"] == 2


# ---- rate limits ---------------------------------------------------------------------------

def test_the_org_budget_gives_429_with_ratelimit_headers_until_the_window_frees(clock):
    client = create_emulator_app(rate_limit_per_minute=3, clock=clock).test_client()
    seen = []
    for _ in range(3):
        response = client.get("/v1/auth/tokens/current", headers=AUTH)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        seen.append(response.headers["x-ratelimit-remaining"])
        clock.now += 1
    assert seen == ["2", "1", "0"]
    over = client.get("/v1/customers/email=a%40b.c", headers=AUTH)
    assert over.status_code == 429 and over.json["errors"][0]["status"] == "429"
    assert over.headers["x-ratelimit-remaining"] == "0"
    assert over.headers["x-ratelimit-reset"] == "57"  # the first call leaves the window then
    assert over.headers["Retry-After"] == "57"
    assert hook(client).status_code == 200  # hooks have their own budget (unlimited here)
    clock.now += 57
    assert client.get("/v1/auth/tokens/current", headers=AUTH).status_code == 200
    assert received(client)["throttled"] == 1


def test_the_rate_window_can_be_shortened_and_every_budget_counts_in_it(client, clock):
    settings = {"rate_window_seconds": 5, "rate_limit_per_minute": 1, "hook_limit_per_minute": 1}
    assert client.post("/__emulator/config", json=settings).json["rate_window_seconds"] == 5
    assert hook(client).status_code == 200
    refused = hook(client)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
    assert client.get("/v1/auth/tokens/current", headers=AUTH).status_code == 200
    assert client.get("/v1/auth/tokens/current", headers=AUTH).status_code == 429
    clock.now += 5  # one short window later, both budgets are free again
    assert hook(client).status_code == 200
    assert client.get("/v1/auth/tokens/current", headers=AUTH).status_code == 200
    assert client.post("/__emulator/config", json={"rate_window_seconds": 0}).status_code == 400
    client.post("/__emulator/reset")
    assert client.get("/__emulator/config").json["rate_window_seconds"] == 60  # Kustomer's minute


def test_hooks_have_a_separate_budget(clock):
    client = create_emulator_app(hook_limit_per_minute=2, clock=clock).test_client()
    assert [hook(client).status_code for _ in range(3)] == [200, 200, 429]
    assert client.post("/v1/hooks/form/o/h", json={}).status_code == 429  # form hooks share it
    assert client.get("/v1/auth/tokens/current", headers=AUTH).status_code == 200
    assert len(received(client)["hooks"]) == 2


def test_an_unlimited_emulator_sends_no_ratelimit_headers(client):
    assert "x-ratelimit-limit" not in hook(client).headers


def test_the_budget_holds_under_concurrent_threads():
    emulator = create_emulator_app(hook_limit_per_minute=50)
    statuses, lock = [], threading.Lock()

    def post_many():
        local = emulator.test_client()
        codes = [hook(local).status_code for _ in range(20)]
        with lock:
            statuses.extend(codes)
    threads = [threading.Thread(target=post_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) == 50 and statuses.count(429) == 110
    snapshot = emulator.test_client().get("/__emulator/received").json
    assert len(snapshot["hooks"]) == 50 and snapshot["throttled"] == 110 and snapshot["requests"] == 160
    assert len({h["transaction"]["id"] for h in snapshot["hooks"]}) == 50


# ---- faults --------------------------------------------------------------------------------

def test_fail_next_answers_the_listed_statuses_in_order(client):
    response = client.post("/__emulator/faults", json={"fail_next": [503, 503, 429]})
    assert response.status_code == 200 and response.json["fail_next"] == [503, 503, 429]
    codes = [hook(client), client.get("/v1/auth/tokens/current", headers=AUTH), hook(client), hook(client)]
    assert [r.status_code for r in codes] == [503, 503, 429, 200]
    assert codes[2].headers["Retry-After"] == "1"
    assert codes[0].json["errors"][0]["code"] == "service_unavailable"
    snapshot = received(client)
    assert len(snapshot["hooks"]) == 1 and snapshot["throttled"] == 1 and snapshot["requests"] == 4


def test_faults_can_be_set_at_creation():
    client = create_emulator_app(faults={"fail_next": [500]}).test_client()
    assert hook(client).status_code == 500 and hook(client).status_code == 200


def test_an_outage_fails_everything_but_the_controls(client, clock):
    client.post("/__emulator/faults", json={"outage": True})
    assert hook(client).status_code == 503
    assert client.post("/v1/hooks/form/o/h", json={}).status_code == 503
    assert client.get("/v1/auth/tokens/current").status_code == 503  # before auth, like a dead host
    assert client.get("/__emulator/health").status_code == 200
    client.post("/__emulator/faults", json={"outage": False, "outage_until": clock.now + 30})
    down = hook(client)
    assert down.status_code == 503 and down.headers["Retry-After"] == "30"
    clock.now += 30
    assert hook(client).status_code == 200
    assert len(received(client)["hooks"]) == 1


def test_error_rate_is_deterministic_with_a_seed():
    def run():
        client = create_emulator_app(faults={"error_rate": 0.5, "seed": 42}).test_client()
        return [hook(client).status_code for _ in range(40)]
    first = run()
    assert first == run()
    assert set(first) == {200, 503}
    always = create_emulator_app(faults={"error_rate": 1}).test_client()
    assert {hook(always).status_code for _ in range(5)} == {503}


class RecordingTime:
    """Stands in for the `time` module in bridge.devtools.emulator.app: records sleeps, never waits."""

    def __init__(self):
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def __getattr__(self, name):
        return getattr(time, name)


def test_latency_is_added_to_requests(client, monkeypatch):
    recorder = RecordingTime()
    monkeypatch.setattr(emulator_app, "time", recorder)
    assert hook(client).status_code == 200
    assert recorder.slept == []  # no latency by default
    client.post("/__emulator/faults", json={"latency_ms": 150})
    assert hook(client).status_code == 200
    assert client.get("/v1/auth/tokens/current", headers=AUTH).status_code == 200
    assert recorder.slept == [0.15, 0.15]  # each Kustomer call waits the injected latency
    client.get("/__emulator/received")  # controls are never slowed
    client.get("/__emulator/stats")
    assert recorder.slept == [0.15, 0.15]


@pytest.mark.parametrize("bad", [{"nope": 1}, {"error_rate": 2}, {"fail_next": [200]},
                                 {"latency_ms": -1}, {"outage": "yes"}])
def test_bad_fault_settings_get_400_and_change_nothing(client, bad):
    response = client.post("/__emulator/faults", json=bad)
    assert response.status_code == 400 and response.json["errors"][0]["detail"]
    assert client.get("/__emulator/faults").json["error_rate"] == 0
    assert hook(client).status_code == 200


def test_config_can_register_hooks_and_change_roles_at_runtime(client):
    assert client.post("/__emulator/config", json={"hooks": ["reviews"], "roles": []}).status_code == 200
    assert hook(client).status_code == 403
    client.post("/__emulator/config", json={"roles": ["org.hooks"]})
    assert hook(client, hook_hash="other").status_code == 404
    assert hook(client, hook_hash="reviews").status_code == 200
    rejected = client.post("/__emulator/config", json={"roles": [], "bogus": 1})
    assert rejected.status_code == 400
    assert client.get("/__emulator/config").json["roles"] == ["org.hooks"]  # all or nothing


def test_reset_clears_records_counters_and_faults(client):
    customer_id = make_customer(client)
    make_conversation(client, customer_id, externalId="x")
    hook(client)
    client.post("/__emulator/faults", json={"fail_next": [503], "latency_ms": 10, "outage": False})
    client.post("/__emulator/config", json={"hooks": ["only-this"]})
    assert client.post("/__emulator/reset").status_code == 200
    snapshot = received(client)
    assert snapshot == {"hooks": [], "customers": [], "conversations": [], "notes": [], "tags": {},
                        "conversation_external_ids": {}, "klasses": [], "cards": {},
                        "requests": 0, "throttled": 0}
    assert client.get("/__emulator/faults").json["fail_next"] == []
    assert hook(client, hook_hash="any").status_code == 200  # creation-time config is back
    make_customer(client)  # the email is free again
    assert client.get("/__emulator/stats").json == {"hooks": 1, "customers": 1, "conversations": 0,
                                                    "notes": 0, "cards": 0, "requests": 2, "throttled": 0}


def test_unknown_routes_answer_in_the_error_shape(client):
    response = client.get("/v1/nothing-here", headers=AUTH)
    assert response.status_code == 404 and response.json["errors"][0]["status"] == "404"
    assert client.get("/v1/customers/name=jo", headers=AUTH).status_code == 400


# ---- Kustomer's contract, enforced (bridge.kustomer.contract) ----------------------------

@pytest.mark.parametrize("path_kind, body, pointer", [
    ("conversations", {"customer": "CUSTOMER", "subject": "x"}, "/"),                 # unknown key
    ("conversations", {"customer": "CUSTOMER", "name": 5}, "/name"),                  # wrong type
    ("conversations", {"customer": "CUSTOMER", "tags": ["okendo"]}, "/tags/0"),       # names for ids
    ("conversations", {"customer": "CUSTOMER", "priority": 6}, "/priority"),
    ("conversations", {"customer": "CUSTOMER", "custom": {"whyStr": "x" * 1025}}, "/custom/whyStr"),
    ("conversations", {"customer": "CUSTOMER", "custom": {"whyTxt": "x" * 1025}}, "/custom/whyTxt"),
    ("conversations", {"customer": "CUSTOMER", "assignedTeams": {"id": "t1"}}, "/assignedTeams"),
    ("tags", {"tags": ["okendo"]}, "/"),                                              # object for array
    ("notes", {"body": "x" * 10_241}, "/body"),
    ("notes", {"body": "hi", "internal": True}, "/"),
])
def test_a_request_outside_kustomers_contract_gets_400_in_kustomers_error_shape(client, path_kind, body, pointer):
    customer_id = make_customer(client)
    conversation = make_conversation(client, customer_id)
    url = {"conversations": "/v1/conversations",
           "tags": f"/v1/conversations/{conversation['id']}/tags",
           "notes": f"/v1/conversations/{conversation['id']}/notes"}[path_kind]
    if isinstance(body, dict) and body.get("customer") == "CUSTOMER":
        body = {**body, "customer": customer_id}
    response = client.post(url, json=body, headers=AUTH)
    assert response.status_code == 400, response.json
    [error] = response.json["errors"]
    assert error["status"] == "400" and error["code"] == "bad_request"
    assert error["source"]["pointer"] == pointer and error["detail"]
    assert len(received(client)["conversations"]) == 1 and received(client)["notes"] == []


def test_a_route_kustomer_does_not_have_gets_404(client):
    for method, url in (("get", "/v1/nothing/here"), ("delete", "/v1/customers"),
                        ("put", "/v1/conversations/abc")):
        response = getattr(client, method)(url, headers=AUTH)
        assert response.status_code in (404, 405), url
        assert response.json["errors"][0]["status"] == str(response.status_code)


def test_a_get_with_a_body_is_refused(client):
    response = client.get("/v1/auth/tokens/current", json={"x": 1}, headers=AUTH)
    assert response.status_code == 400 and "takes no request body" in response.json["errors"][0]["detail"]


def test_a_conversations_notes_are_listed_with_their_external_ids(client):
    conversation = make_conversation(client, make_customer(client))
    url = f"/v1/conversations/{conversation['id']}/notes"
    for n in range(3):
        assert client.post(url, json={"body": f"n{n}", "externalId": f"ext-{n}"}, headers=AUTH).status_code == 201
    listed = client.get(f"{url}?page=1&pageSize=2", headers=AUTH)
    assert listed.status_code == 200
    assert [n["attributes"]["externalId"] for n in listed.json["data"]] == ["ext-0", "ext-1"]
    assert listed.json["meta"]["totalPages"] == 2
    second = client.get(f"{url}?page=2&pageSize=2", headers=AUTH).json
    assert [n["attributes"]["body"] for n in second["data"]] == ["n2"]
    assert client.get(f"/v1/conversations/{'0' * 24}/notes", headers=AUTH).status_code == 404


def test_both_form_hook_url_shapes_are_accepted_without_auth(client):
    assert client.post("/v1/hooks/form/org1/abc", json={"a": 1}).status_code == 200
    assert client.post("/v1/hooks/form/abc", json={"a": 2}).status_code == 200
    assert [h["transaction"]["attributes"]["data"] for h in received(client)["hooks"]] == [{"a": 1}, {"a": 2}]
