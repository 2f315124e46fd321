"""The admin console through the Flask test client: auth, CSRF, pages, replay, no secrets shown."""
import base64
import itertools
import json
import re

import pytest
import responses
from werkzeug.security import generate_password_hash

from bridge.admin.views import kustomer_app_url
from bridge.events import store
from bridge.events.models import Event, Ticket
from tests.conftest import REVIEW_HOOK, SURVEY_HOOK, drain, make_env
from tests.helpers import SECRET, sample_bytes, signed_headers, with_sequence

PASSWORD = "correct horse battery staple"


def basic(username="admin", password=PASSWORD) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN = basic()

GET_ROUTES = ["/admin/", "/admin/events", "/admin/events/1", "/admin/replay", "/admin/playground",
              "/admin/playground?sample=review-create-negative.json", "/admin/style.css"]
POST_ROUTES = ["/admin/events/1/replay", "/admin/replay", "/admin/playground"]
ALL_ROUTES = [("GET", path) for path in GET_ROUTES] + [("POST", path) for path in POST_ROUTES]


_unique = itertools.count(1)


def ingest(client, name="review-create-positive.json", webhook_id=None, distinct=False) -> int:
    """Post a signed sample; `distinct` makes it another review (the bridge skips a second
    copy of a change already delivered)."""
    body = sample_bytes(name)
    if distinct:
        n = next(_unique)
        body = with_sequence(json.loads(body), 5000 + n, reviewId=f"review-{n}")
    response = client.post("/webhooks/okendo", data=body, headers=signed_headers(body, webhook_id=webhook_id))
    assert response.status_code == 202, response.json
    return response.json["event_id"]


def status_of(runtime, event_id) -> str:
    with runtime.db.session() as session:
        return store.load(session, event_id).status


def dead_event(client, runtime, kustomer, name="review-create-positive.json") -> int:
    """An event the hook refused with a permanent 400: dead at once."""
    kustomer.upsert(responses.POST, REVIEW_HOOK, status=400, json={"errors": [{"code": "bad", "message": "nope"}]})
    event_id = ingest(client, name, distinct=True)
    assert runtime.processor.process(event_id) == "dead"
    return event_id


def csrf_token(page: bytes) -> str:
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1).decode()


def html(response) -> str:
    assert response.status_code == 200, response.data[:2000]
    return response.get_data(as_text=True)


# -- authentication -----------------------------------------------------------------
@pytest.mark.parametrize("method,path", ALL_ROUTES)
@pytest.mark.parametrize("headers", [{}, basic(password="wrong"), basic(username="root"),
                                     {"Authorization": "Bearer " + PASSWORD}],
                         ids=["none", "wrong-password", "wrong-user", "not-basic"])
def test_every_admin_route_needs_the_admin_login(client, method, path, headers):
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert b"<html" not in response.data  # nothing of the console leaks before login


@pytest.mark.parametrize("method,path", ALL_ROUTES)
def test_without_a_configured_password_the_console_is_disabled_not_open(database_url, method, path):
    from bridge.app import create_app
    from bridge.config import Settings

    app = create_app(Settings.from_env(make_env(database_url, ADMIN_PASSWORD="")))
    try:
        response = app.test_client().open(path, method=method, headers=ADMIN)
        assert response.status_code == 503
        assert b"admin console disabled: set ADMIN_USERNAME and ADMIN_PASSWORD" in response.data
    finally:
        app.extensions["bridge"].close()


def test_a_password_hash_can_replace_the_plain_password(database_url):
    from bridge.app import create_app
    from bridge.config import Settings

    env = make_env(database_url, ADMIN_PASSWORD="", ADMIN_PASSWORD_HASH=generate_password_hash("hashed pw"))
    app = create_app(Settings.from_env(env))
    try:
        client = app.test_client()
        assert client.get("/admin/", headers=basic(password="hashed pw")).status_code == 200
        assert client.get("/admin/", headers=basic(password="hashed pw")).status_code == 200  # cached check
        assert client.get("/admin/", headers=basic(password=PASSWORD)).status_code == 401
        assert client.get("/admin/", headers=basic(username="other", password="hashed pw")).status_code == 401
    finally:
        app.extensions["bridge"].close()


def test_security_headers_on_admin_pages_and_refusals(client):
    for response in (client.get("/admin/", headers=ADMIN), client.get("/admin/events")):
        headers = response.headers
        assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none' forbids scripts
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
    page = html(client.get("/admin/", headers=ADMIN))
    assert "<script" not in page and "style=" not in page  # nothing the CSP would block


# -- pages ----------------------------------------------------------------------------
def test_overview_counts_and_dead_letters(client, runtime, kustomer):
    dead = dead_event(client, runtime, kustomer)
    ingest(client, "quiz_response-create.json")  # pending
    page = html(client.get("/admin/", headers=ADMIN))
    assert 'href="/admin/events?status=dead">1</a>' in page
    assert "Received in the last hour: 2" in page
    assert re.search(r"status-dead\">dead</span></td><td class=\"num\">1<", page)
    assert re.search(r"<td>review</td><td class=\"num\">1<", page)
    assert re.search(r"<td>quiz_response</td><td class=\"num\">1<", page)
    assert "version 1 in the database" in page and ">valid<" in page
    # delivered 0 of 1 finished (the dead one); 0 of 1 Kustomer calls answered 2xx
    assert "0.0%" in page and "0 / 1" in page
    assert dead
    # What retention bounds: the database's size and the oldest event kept.
    assert re.search(r"Database</div>\s*<div class=\"big\">[\d.]+ [kM]B<", page)
    assert re.search(r"oldest event kept: \d+s old", page)
    assert "kept 30 days" in page


def test_overview_says_when_the_mapping_file_is_broken(database_url, tmp_path):
    from bridge.app import create_app
    from bridge.config import Settings

    broken = tmp_path / "mapping.yaml"
    broken.write_text("routes: [\n")
    app = create_app(Settings.from_env(make_env(database_url, BRIDGE_MAPPING=str(broken))))
    try:
        page = html(app.test_client().get("/admin/", headers=ADMIN))
        assert "invalid: no mapping loaded" in page and str(broken) in page
        event_page = html(app.test_client().get("/admin/playground?sample=review-create-positive.json",
                                                headers=ADMIN))
        assert "Preview unavailable: the mapping file does not load" in event_page
    finally:
        app.extensions["bridge"].close()


def test_events_list_filters_paginates_and_masks_emails(client, runtime):
    first = ingest(client, "review-create-positive.json")
    second = ingest(client, "review-create-negative.json")
    quiz = ingest(client, "quiz_response-create.json")
    page = html(client.get("/admin/events", headers=ADMIN))
    for event_id in (first, second, quiz):
        assert f'href="/admin/events/{event_id}"' in page
    assert "t***@example.com" in page and "p***@example.com" in page
    assert "tomas@example.com" not in page and "priya.raman@example.com" not in page
    assert "/admin/replay?" not in page  # bulk replay is offered for dead/invalid/skipped/retrying lists only

    reviews = html(client.get("/admin/events?resource_type=review", headers=ADMIN))
    assert f'href="/admin/events/{quiz}"' not in reviews and f'href="/admin/events/{first}"' in reviews
    found = html(client.get("/admin/events?q=priya", headers=ADMIN))
    assert f'href="/admin/events/{second}"' in found and f'href="/admin/events/{first}"' not in found
    none = html(client.get("/admin/events?status=dead", headers=ADMIN))
    assert "No events match." in none
    bad = html(client.get("/admin/events?since=yesterday-ish&status=nope", headers=ADMIN))
    assert "since=&#39;yesterday-ish&#39;: expected e.g. 30m" in bad and "status=&#39;nope&#39;" in bad
    recent = html(client.get("/admin/events?since=1h", headers=ADMIN))
    assert f'href="/admin/events/{first}"' in recent


def test_events_list_pages_through_many_events(client, runtime):
    with runtime.db.session() as session:
        for n in range(55):
            store.store_event(session, webhook_id=f"msg_{n}", body=b"{}", headers={}, status="pending",
                              resource_type="review", topic="create")
    first = html(client.get("/admin/events", headers=ADMIN))
    assert "page 1 of 2" in first and 'href="/admin/events/55"' in first and 'href="/admin/events/5"' not in first
    second = html(client.get("/admin/events?page=2", headers=ADMIN))
    assert 'href="/admin/events/5"' in second and 'href="/admin/events/55"' not in second


def test_event_page_shows_payload_preview_actions_attempts(client, runtime, kustomer):
    event_id = dead_event(client, runtime, kustomer)
    page = html(client.get(f"/admin/events/{event_id}", headers=ADMIN))
    with runtime.db.session() as session:
        event = store.load(session, event_id)
    assert event.webhook_id in page and event.resource_id in page
    assert "&#34;productName&#34;: &#34;" in page or '"productName": "' in page  # raw body, pretty-printed
    assert "hook:reviews" in page  # the action and its attempt
    assert ">400<" in page  # the HTTP status of the attempt
    assert "nope" in page  # Kustomer's error message
    assert "Outcome:</strong> would be delivered" in page  # the live mapping's preview
    assert "https://acme.api.kustomerapp.com/…/review…" in page  # hook URL shown redacted
    assert "webhook-signature" not in page
    assert client.get("/admin/events/999999", headers=ADMIN).status_code == 404


def test_event_page_links_the_ticket_to_the_kustomer_app(client, runtime):
    event_id = ingest(client, "review-create-negative.json")
    with runtime.db.session() as session:
        event = store.load(session, event_id)
        session.add(Ticket(subscriber_id=event.subscriber_id, resource_type=event.resource_type,
                           resource_id=event.resource_id, external_id="okendo-review-x", state="open",
                           customer_id="cust123", conversation_id="conv456"))
    page = html(client.get(f"/admin/events/{event_id}", headers=ADMIN))
    assert 'href="https://acme.kustomerapp.com/app/conversations/conv456"' in page
    assert "cust123" in page


def test_kustomer_app_url_is_configured_or_derived():
    assert kustomer_app_url({}, "https://acme.api.kustomerapp.com") == "https://acme.kustomerapp.com"
    assert kustomer_app_url({}, "https://acme.api.prod2.kustomerapp.com") == "https://acme.prod2.kustomerapp.com"
    assert kustomer_app_url({"KUSTOMER_APP_URL": "https://x.example/"}, None) == "https://x.example"
    assert kustomer_app_url({}, "http://127.0.0.1:5000") is None


def test_playground_previews_a_pasted_payload_and_a_sample(client):
    page = html(client.get("/admin/playground", headers=ADMIN))
    assert "review-create-negative.json" in page  # bundled samples offered
    token = csrf_token(page.encode())
    pasted = html(client.post("/admin/playground", headers=ADMIN, data={
        "csrf_token": token, "payload": sample_bytes("review-create-negative.json").decode()}))
    assert "hook:reviews" in pasted and "Ticket decision" in pasted and "negative" in pasted
    sample = html(client.get("/admin/playground?sample=survey_response-create-detractor.json", headers=ADMIN))
    assert "hook:surveys" in sample and "detractor" in sample
    broken = html(client.post("/admin/playground", headers=ADMIN, data={"csrf_token": token, "payload": "{nope"}))
    assert "not valid JSON" in broken
    invalid = html(client.post("/admin/playground", headers=ADMIN,
                               data={"csrf_token": token, "payload": '{"resourceType": "review"}'}))
    assert "Validation errors" in invalid
    assert client.get("/admin/playground?sample=../../setup.cfg", headers=ADMIN).status_code == 404


# -- CSRF and replay --------------------------------------------------------------------
def test_replay_post_without_a_csrf_token_is_refused(client, runtime, kustomer):
    event_id = dead_event(client, runtime, kustomer)
    response = client.post(f"/admin/events/{event_id}/replay", headers=ADMIN)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    response = client.post(f"/admin/events/{event_id}/replay", headers=ADMIN, data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert client.post("/admin/replay", headers=ADMIN, data={"confirm": "yes"}).status_code == 400
    assert client.post("/admin/playground", headers=ADMIN, data={"payload": "{}"}).status_code == 400
    assert status_of(runtime, event_id) == "dead"


def test_replay_with_the_token_from_the_page_delivers_a_dead_event(client, runtime, kustomer):
    event_id = dead_event(client, runtime, kustomer)
    drain(runtime)
    page = client.get(f"/admin/events/{event_id}", headers=ADMIN).data
    response = client.post(f"/admin/events/{event_id}/replay", headers=ADMIN, data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/events/{event_id}")
    assert status_of(runtime, event_id) == "pending"
    assert runtime.dispatcher.depth() == 1  # enqueued for the worker
    assert "Replayed 1 event" in html(client.get(response.headers["Location"], headers=ADMIN))

    kustomer.upsert(responses.POST, REVIEW_HOOK, status=200, json={})
    drain(runtime)
    assert status_of(runtime, event_id) == "delivered"


def test_bulk_replay_confirms_then_replays_every_dead_event(client, runtime, kustomer):
    dead = [dead_event(client, runtime, kustomer) for _ in range(2)]
    kustomer.upsert(responses.POST, REVIEW_HOOK, status=200, json={})
    delivered = ingest(client, distinct=True)
    assert runtime.processor.process(delivered) == "delivered"
    drain(runtime)

    confirm = client.get("/admin/replay", headers=ADMIN)  # status dead by default
    page = html(confirm)
    assert "<strong>2</strong> events will be replayed" in page
    token = csrf_token(confirm.data)

    # Without the confirmation field the POST only shows the count again.
    again = html(client.post("/admin/replay", headers=ADMIN, data={"csrf_token": token, "status": "dead"}))
    assert "<strong>2</strong> events will be replayed" in again
    assert [status_of(runtime, i) for i in dead] == ["dead", "dead"]

    done = client.post("/admin/replay", headers=ADMIN, data={"csrf_token": token, "status": "dead", "confirm": "yes"})
    assert done.status_code == 303
    assert "Replayed 2 events" in html(client.get(done.headers["Location"], headers=ADMIN))
    assert [status_of(runtime, i) for i in dead] == ["pending", "pending"]
    assert status_of(runtime, delivered) == "delivered"
    drain(runtime)
    assert [status_of(runtime, i) for i in dead] == ["delivered", "delivered"]


def test_bulk_replay_honours_the_list_filter(client, runtime, kustomer):
    review = dead_event(client, runtime, kustomer)
    with runtime.db.session() as session:
        other = store.store_event(session, webhook_id="msg_other", body=b"{}", headers={}, status="dead",
                                  resource_type="survey_response", topic="create").event_id
    listing = html(client.get("/admin/events?status=dead&resource_type=survey_response", headers=ADMIN))
    assert "/admin/replay?" in listing and "resource_type=survey_response" in listing
    page = client.get("/admin/replay?status=dead&resource_type=survey_response", headers=ADMIN)
    assert "<strong>1</strong> event will be replayed" in html(page)
    client.post("/admin/replay", headers=ADMIN, data={"csrf_token": csrf_token(page.data), "status": "dead",
                                                      "resource_type": "survey_response", "confirm": "yes"})
    assert status_of(runtime, other) == "pending" and status_of(runtime, review) == "dead"


# -- secrets and the webhook ------------------------------------------------------------
def test_no_admin_page_shows_a_secret(client, runtime, kustomer, env):
    runtime.processor.tickets = None  # the hook's attempt is what this test needs on the page
    event_id = dead_event(client, runtime, kustomer, "review-create-negative.json")
    ingest(client, "survey_response-create-detractor.json")
    token = csrf_token(client.get("/admin/playground", headers=ADMIN).data)
    pages = [client.get(path, headers=ADMIN) for path in (
        "/admin/", "/admin/events", f"/admin/events/{event_id}", "/admin/replay", "/admin/playground",
        "/admin/playground?sample=review-create-negative.json",
        "/admin/playground?sample=survey_response-create-detractor.json")]
    pages.append(client.post("/admin/playground", headers=ADMIN, data={
        "csrf_token": token, "payload": sample_bytes("survey_response-create-detractor.json").decode()}))
    secrets = [env["KUSTOMER_API_KEY"], SECRET, SECRET.removeprefix("whsec_"), REVIEW_HOOK, SURVEY_HOOK,
               "reviewhash123456", "surveyhash654321", env["ADMIN_PASSWORD"], env["SECRET_KEY"]]
    for response in pages:
        text = html(response)
        for secret in secrets:
            assert secret not in text, f"{secret!r} shown on {response.request.path}"
    assert "review…" in html(pages[2])  # hook URLs appear, redacted


def test_the_webhook_needs_no_csrf_token(client, runtime):
    body = sample_bytes("review-create-positive.json")
    response = client.post("/webhooks/okendo", data=body, headers=signed_headers(body))
    assert response.status_code == 202
    with runtime.db.session() as session:
        assert session.query(Event).count() == 1


def test_a_secret_echoed_in_stored_data_is_scrubbed_from_the_page(client, runtime, env):
    with runtime.db.session() as session:
        event_id = store.store_event(
            session, webhook_id="msg_echo", body=b'{"note": "key test-kustomer-key"}', headers={}, status="dead",
            resource_type="review", topic="create", last_error=f"POST {REVIEW_HOOK} failed").event_id
    page = html(client.get(f"/admin/events/{event_id}", headers=ADMIN))
    assert env["KUSTOMER_API_KEY"] not in page and REVIEW_HOOK not in page
    assert "key [redacted]" in page and "https://acme.api.kustomerapp.com/…/review…" in page


def test_a_whole_email_address_finds_its_events_through_the_index(client, runtime):
    from bridge.events import store

    with runtime.db.session() as session:
        for n, email in enumerate(["priya@example.com", "Priya@example.com", "priyanka@example.com"]):
            store.store_event(session, webhook_id=f"msg_email_{n}", body=b"{}", headers={}, status="skipped",
                              email=email)
    with runtime.db.session() as session:
        exact = {e.email for e in store.list_events(session, search="Priya@example.com")}
        partial = {e.email for e in store.list_events(session, search="priya")}
    assert exact == {"priya@example.com", "Priya@example.com"}  # as given, or lower-cased
    assert {"priya@example.com", "priyanka@example.com"} <= partial  # a part still finds every match
