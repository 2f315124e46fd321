"""First run in a real browser: a bridge with no Okendo or Kustomer settings is set up from
its console's setup page (headless Chromium through Playwright), against the project's
Kustomer emulator and a stand-in for Okendo's subscription API (tests/e2e/okendo_standin.py).

Real processes: gunicorn (`bridge web`) and the worker (`bridge worker`, which waits for
Kustomer settings and then picks up the stored ones without a restart).
"""
import re

import pytest
import requests

from tests.e2e.conftest import ROOT, Stack, free_port, stack_env, wait_for
from tests.e2e.okendo_standin import OkendoStandIn
from tests.e2e.test_admin_browser import PASSWORD, browser, chromium  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
OKENDO_USER = "11111111-2222-3333-4444-555555555555"
OKENDO_KEY = "OkendoKeyOkendoKeyOkendoKey12345"
NOT_SET_UP = ("OKENDO_WEBHOOK_SECRET", "KUSTOMER_API_KEY", "KUSTOMER_API_BASE", "KUSTOMER_REVIEW_HOOK_URL",
              "KUSTOMER_SURVEY_HOOK_URL")


@pytest.fixture
def okendo():
    standin = OkendoStandIn(OKENDO_USER, OKENDO_KEY)
    standin.url = standin.start(free_port())
    yield standin
    standin.stop()


@pytest.fixture
def fresh(database_url, tmp_path, okendo):
    """Web, worker and the Kustomer emulator, with nothing connected yet."""
    web_port, emulator_port = free_port(), free_port()
    env = stack_env(database_url, tmp_path, web_port, emulator_port, OKENDO_API_BASE=okendo.url)
    for name in NOT_SET_UP:
        env.pop(name)
    stack = Stack(env=env, tmp=tmp_path, web_url=f"http://127.0.0.1:{web_port}",
                  emulator_url=f"http://127.0.0.1:{emulator_port}")
    stack.start_emulator()
    stack.start_web_server()
    stack.start("worker", "worker")
    yield stack
    stack.close()


def test_an_admin_connects_okendo_and_kustomer_in_the_browser(fresh, okendo, browser):
    body = (ROOT / "tests/samples/okendo/review-create-positive.json").read_bytes()
    refused = requests.post(fresh.webhook_url, data=body, headers={"content-type": "application/json"}, timeout=5)
    assert refused.status_code == 503 and refused.json()["error"] == "not set up yet"

    context = browser.new_context(base_url=fresh.web_url, http_credentials={"username": "admin", "password": PASSWORD})
    page = context.new_page()
    try:
        page.goto("/admin/")
        page.wait_for_url("**/admin/setup")  # a first run opens on the setup page
        assert "Not connected" in page.locator("#okendo").inner_text()

        # Connect Okendo: the bridge subscribes its own URL (the address the page was opened at).
        okendo_form = page.locator("#okendo form.setup")
        okendo_form.get_by_label("Okendo user id").fill(OKENDO_USER)
        okendo_form.get_by_label("Okendo API key").fill(OKENDO_KEY)
        assert okendo_form.get_by_label("Public URL of this bridge").input_value() == fresh.web_url
        okendo_form.get_by_role("button", name="Connect Okendo").click()
        assert "Okendo connected" in page.locator(".flash").inner_text()
        [(sub_id, subscription)] = okendo.subscriptions.items()
        assert subscription["endpointUrl"] == fresh.webhook_url
        secret = okendo.secrets[sub_id]
        row = page.locator('#settings tr[data-name="OKENDO_WEBHOOK_SECRET"]')
        assert "…" + secret[-4:] in row.inner_text() and "stored here" in row.inner_text()

        # Okendo delivers now; the event waits as pending while Kustomer is not connected.
        first = okendo.deliver(sub_id, body)
        assert first.status_code == 202, first.text
        assert fresh.events()[0]["status"] == "pending"

        # Connect Kustomer, with the emulator's URLs; the same checks as `bridge kustomer check`.
        kustomer_form = page.locator("#kustomer form.setup")
        kustomer_form.get_by_label("API key").fill("emulator-key")
        kustomer_form.get_by_label("API base URL").fill(fresh.emulator_url)
        kustomer_form.get_by_label("Review hook URL").fill(f"{fresh.emulator_url}/v1/hooks/web/reviews")
        kustomer_form.get_by_label("Survey hook URL").fill(f"{fresh.emulator_url}/v1/hooks/web/surveys")
        kustomer_form.get_by_role("button", name="Save and check").click()
        checks = page.locator("#checks").inner_text()
        assert "the key is valid" in checks and "FAIL" not in checks, checks
        assert "route reviews" in checks
        assert page.locator('#settings tr[data-name="KUSTOMER_API_KEY"] .source').inner_text() == "stored here"

        # The waiting worker picks the stored settings up, without a restart, and delivers.
        wait_for(lambda: fresh.received()["hooks"], 30, what="the worker to deliver with the stored settings")
        assert wait_for(lambda: fresh.events()[0]["status"] == "delivered", 20, what="delivered")

        # Rotate: a new subscription and secret; the old secret still works for the grace period.
        page.get_by_role("button", name="Rotate the signing secret").click()
        assert "old one stays valid for 24 hours" in page.locator(".flash").inner_text()
        assert okendo.deleted == [sub_id]
        [new_id] = okendo.subscriptions
        assert okendo.deliver(new_id, body).status_code == 202
        assert okendo.deliver(new_id, body, secret=secret).status_code == 202  # old secret: still accepted
        assert okendo.deliver(new_id, body, secret="whsec_" + "A" * 32).status_code == 401
        assert "previous: accepted until" in page.locator("#secrets").inner_text()

        html = page.content()
        for full in (secret, okendo.secrets[new_id], OKENDO_KEY):
            assert full not in html

        # The events list fits the page, even with long ids and errors; emails are masked
        # on an event's own page too (its raw payload and what the mapping makes of it).
        long_error = requests.post(fresh.webhook_url, data=b'{"resourceType": "' + b"x" * 300 + b'"}', timeout=5)
        assert long_error.status_code == 401  # unsigned: refused, nothing stored
        okendo.deliver(new_id, b'{"resourceType": "review", "topic": "create", "resource": {"reviewId": "'
                       + b"r" * 120 + b'"}}')
        page.set_viewport_size({"width": 1024, "height": 800})
        page.goto("/admin/events")
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        page.goto(f"/admin/events/{fresh.events()[-1]['id']}")
        event_page = page.content()
        assert "@example.com" in event_page and "***@example.com" in event_page
        assert not re.search(r"[\w.+-]{2,}@example\.com", event_page.replace("***@", "@@@"))
    finally:
        context.close()
