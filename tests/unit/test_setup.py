"""First run in the browser: boot without Okendo/Kustomer settings, connect both on the
setup page, stored encrypted, environment wins, rotation keeps the old secret for a while."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import responses
from sqlalchemy import select

from bridge.config import Settings
from bridge.events.models import StoredSetting
from bridge.setup import stored
from bridge.setup.live import LiveSettings
from bridge.setup.vault import Vault, VaultError, VaultUnavailable
from tests.conftest import KUSTOMER_BASE, REVIEW_HOOK, SURVEY_HOOK, make_env
from tests.helpers import sample_bytes, signed_headers
from tests.unit.test_admin import ADMIN

OKENDO_SUBS = "https://api.okendo.io/enterprise/webhook_subscriptions"
USER_ID = "11111111-2222-3333-4444-555555555555"
OKENDO_KEY = "OkendoKeyOkendoKeyOkendoKey12345"
NEW_SECRET = "whsec_TmV3U2VjcmV0TmV3U2VjcmV0TmV3U2Vj"
NEWER_SECRET = "whsec_TmV3ZXJTZWNyZXROZXdlclNlY3JldE5l"
KUSTOMER_KEY = "kustomer-key-typed-in-the-browser-9876"
NOT_SET_UP = ("OKENDO_WEBHOOK_SECRET", "KUSTOMER_API_KEY", "KUSTOMER_API_BASE", "KUSTOMER_REVIEW_HOOK_URL",
              "KUSTOMER_SURVEY_HOOK_URL")


@pytest.fixture
def env(database_url):
    """What a fresh Heroku app has: a database, SECRET_KEY and the admin login; nothing else."""
    env = make_env(database_url)
    for name in NOT_SET_UP:
        env.pop(name)
    return env


def csrf(client, path="/admin/setup") -> str:
    import re

    page = client.get(path, headers=ADMIN).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, path, **form):
    return client.post(path, data={"csrf_token": csrf(client), **form}, headers=ADMIN)


def subscription(sub_id, secret=None):
    body = {"webhookSubscriptionId": sub_id, "endpointUrl": "http://localhost/webhooks/okendo", "isEnabled": True,
            "subscriptions": [{"resourceType": "review", "topics": ["create"]}]}
    if secret:
        body["webhookSecret"] = secret
    return body


def send(client, secret):
    body = sample_bytes("review-create-positive.json")
    return client.post("/webhooks/okendo", data=body, headers=signed_headers(body, secret=secret))


# -- the vault ---------------------------------------------------------------------------
def test_vault_round_trip_and_a_changed_secret_key_is_named_not_crashed():
    token = Vault("one key").encrypt("s3cret")
    assert "s3cret" not in token and Vault("one key").decrypt(token) == "s3cret"
    with pytest.raises(VaultError, match="SECRET_KEY changed"):
        Vault("another key").decrypt(token, "Kustomer API key")
    with pytest.raises(VaultUnavailable):
        Vault(None).encrypt("x")


def test_signing_secrets_expire_after_their_grace_period():
    now = datetime.now(timezone.utc)
    text = stored.dump_secrets([stored.SigningSecret("whsec_new"),
                                stored.SigningSecret("whsec_old", now + timedelta(hours=1)),
                                stored.SigningSecret("whsec_gone", now - timedelta(seconds=1))])
    assert stored.active_secrets(text, now) == ["whsec_new", "whsec_old"]
    assert stored.active_secrets(text, now + timedelta(hours=2)) == ["whsec_new"]


# -- booting with nothing set up ---------------------------------------------------------
def test_without_settings_health_answers_webhooks_wait_and_the_console_opens_on_setup(client):
    assert client.get("/healthz").status_code == 200
    refused = send(client, NEW_SECRET)
    assert refused.status_code == 503 and refused.json["error"] == "not set up yet"
    assert client.get("/admin/", headers=ADMIN).headers["Location"].endswith("/admin/setup")
    page = client.get("/admin/setup", headers=ADMIN).get_data(as_text=True)
    assert "Not connected" in page and page.count("not set") >= 5


def test_the_setup_page_still_needs_the_admin_login(client):
    assert client.get("/admin/setup").status_code == 401


# -- Okendo --------------------------------------------------------------------------------
def test_connect_okendo_subscribes_this_url_and_keeps_the_secret_encrypted(client, runtime, kustomer):
    kustomer.get(OKENDO_SUBS, json={"webhookSubscriptions": [], "nextUrl": None})
    create = kustomer.post(OKENDO_SUBS, json=subscription("sub-1", NEW_SECRET))
    answer = post(client, "/admin/setup/okendo", user_id=USER_ID, api_key=OKENDO_KEY,
                  public_url="https://bridge.example.com")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    sent = json.loads(create.calls[0].request.body)
    assert sent["endpointUrl"] == "https://bridge.example.com/webhooks/okendo"
    assert create.calls[0].request.headers["Authorization"].startswith("Basic ")

    with runtime.db.session() as session:
        rows = {r.name: r.value for r in session.execute(select(StoredSetting)).scalars()}
    assert set(rows) == {"OKENDO_USER_ID", "OKENDO_API_KEY", "OKENDO_SUBSCRIPTION_ID", "OKENDO_WEBHOOK_SECRET"}
    assert not any(NEW_SECRET in v or OKENDO_KEY in v for v in rows.values())  # encrypted at rest

    page = client.get("/admin/setup", headers=ADMIN).get_data(as_text=True)
    assert NEW_SECRET not in page and OKENDO_KEY not in page
    assert "…" + NEW_SECRET[-4:] in page and "stored here" in page and "sub-1" in page
    assert send(client, NEW_SECRET).status_code == 202  # webhooks are accepted now


def test_rotation_keeps_the_old_secret_valid_and_deletes_the_old_subscription(client, runtime, kustomer):
    kustomer.get(OKENDO_SUBS, json={"webhookSubscriptions": [], "nextUrl": None})
    kustomer.post(OKENDO_SUBS, json=subscription("sub-1", NEW_SECRET))
    post(client, "/admin/setup/okendo", user_id=USER_ID, api_key=OKENDO_KEY, public_url="https://bridge.example.com")

    old = subscription("sub-1")
    old["endpointUrl"] = "https://bridge.example.com/webhooks/okendo"
    kustomer.upsert(responses.GET, OKENDO_SUBS, json={"webhookSubscriptions": [old], "nextUrl": None})
    kustomer.upsert(responses.POST, OKENDO_SUBS, json=subscription("sub-2", NEWER_SECRET))
    deleted = kustomer.delete(f"{OKENDO_SUBS}/sub-1", status=204)
    answer = post(client, "/admin/setup/okendo/rotate", public_url="https://bridge.example.com")
    assert answer.status_code == 302
    assert len(deleted.calls) == 1
    assert send(client, NEWER_SECRET).status_code == 202
    assert send(client, NEW_SECRET).status_code == 202  # still inside the grace period
    page = client.get("/admin/setup", headers=ADMIN).get_data(as_text=True)
    assert "previous: accepted until" in page and "sub-2" in page


def test_okendo_refusing_the_key_is_shown_not_a_500(client, kustomer):
    kustomer.get(OKENDO_SUBS, status=401, json={"message": "Unauthorized"})
    answer = post(client, "/admin/setup/okendo", user_id=USER_ID, api_key=OKENDO_KEY)
    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert "OKENDO_API_KEY" in text and OKENDO_KEY not in text


def test_an_environment_secret_wins_and_the_page_says_so(database_url, kustomer):
    from bridge.app import create_app

    env = make_env(database_url)  # OKENDO_WEBHOOK_SECRET set in the environment
    app = create_app(Settings.from_env(env))
    client = app.test_client()
    page = client.get("/admin/setup", headers=ADMIN).get_data(as_text=True)
    assert "wins over this page" in page and "environment variable" in page
    answer = post(client, "/admin/setup/okendo", user_id=USER_ID, api_key=OKENDO_KEY)
    assert answer.status_code == 400 and "unset it first" in answer.get_data(as_text=True)
    app.extensions["bridge"].close()


# -- Kustomer --------------------------------------------------------------------------------
def test_connect_kustomer_stores_checks_and_the_worker_uses_it_without_a_restart(client, runtime, kustomer):
    roles = ["org.hooks", "org.permission.customer.read", "org.permission.customer.create",
             "org.permission.conversation.create", "org.permission.conversation.read",
             "org.permission.conversation.update", "org.permission.note.create"]
    kustomer.get(f"{KUSTOMER_BASE}/v1/auth/tokens/current", json={"data": {"attributes": {"roles": roles}}})
    assert not runtime.mappings.current().kustomer.api_key  # nothing set up yet
    answer = post(client, "/admin/setup/kustomer", KUSTOMER_API_KEY=KUSTOMER_KEY, KUSTOMER_API_BASE=KUSTOMER_BASE,
                  KUSTOMER_REVIEW_HOOK_URL=REVIEW_HOOK, KUSTOMER_SURVEY_HOOK_URL=SURVEY_HOOK)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200, page
    assert "ok   the key is valid" in page and "FAIL" not in page
    assert KUSTOMER_KEY not in page and "hashes" not in page
    assert REVIEW_HOOK not in page  # hook URLs carry a secret hash: last 4 only
    runtime.live.refresh()
    assert runtime.mappings.current().kustomer.api_key == KUSTOMER_KEY


def test_a_wrong_kustomer_key_fails_the_check_on_the_page(client, kustomer):
    kustomer.get(f"{KUSTOMER_BASE}/v1/auth/tokens/current", status=401, json={"errors": [{"title": "nope"}]})
    answer = post(client, "/admin/setup/kustomer", KUSTOMER_API_KEY="wrong-key-0000", KUSTOMER_API_BASE=KUSTOMER_BASE)
    page = answer.get_data(as_text=True)
    assert "FAIL Kustomer refused the key" in page and "wrong-key-0000" not in page


def test_live_settings_prefer_the_environment_and_name_the_source(runtime):
    with runtime.db.session() as session:
        stored.write(session, runtime.live.vault, {"KUSTOMER_API_KEY": "stored-key", "KUSTOMER_API_BASE": "https://x"})
    live = LiveSettings({"KUSTOMER_API_BASE": "https://from-env", "SECRET_KEY": "test-secret-key"}, runtime.db)
    assert live["KUSTOMER_API_KEY"] == "stored-key" and live.source("KUSTOMER_API_KEY") == "console"
    assert live["KUSTOMER_API_BASE"] == "https://from-env" and live.source("KUSTOMER_API_BASE") == "environment"
    assert live.source("KUSTOMER_SURVEY_HOOK_URL") is None
    other_key = LiveSettings({"SECRET_KEY": "rotated"}, runtime.db)
    assert "KUSTOMER_API_KEY" not in other_key and "SECRET_KEY changed" in other_key.problems[0]


def test_a_kustomer_base_entered_on_the_setup_page_links_cards_and_conversations(client, runtime):
    """One source for the Kustomer API base: the console's value (the environment has none)
    gives the event page its timeline-card link as well as its conversation link."""
    from bridge.events import store
    from bridge.events.models import Ticket

    with runtime.db.session() as session:
        stored.write(session, runtime.live.vault, {"KUSTOMER_API_BASE": KUSTOMER_BASE})
        event_id = store.store_event(session, webhook_id="msg_card", body=b"{}", headers={}, status="delivered",
                                     subscriber_id="sub_1", resource_type="review", resource_id="r1",
                                     topic="create").event_id
        store.record_action(session, event_id, "timeline:timeline", "done",
                            result={"kobject_id": "card_1", "klass": "okendoReview",
                                    "external_id": "okendo-review-r1", "customer_id": "cus_1"})
        session.add(Ticket(subscriber_id="sub_1", resource_type="review", resource_id="r1",
                           external_id="okendo-review-r1", state="open", customer_id="cus_1",
                           conversation_id="conv456"))
    runtime.live.refresh()
    page = client.get(f"/admin/events/{event_id}", headers=ADMIN).get_data(as_text=True)
    assert 'href="https://acme.kustomerapp.com/app/conversations/conv456"' in page
    assert 'href="https://acme.kustomerapp.com/app/customers/cus_1"' in page
