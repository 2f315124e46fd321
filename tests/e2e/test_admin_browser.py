"""The admin console in a real browser (headless Chromium through Playwright) against real processes.

A hook refuses two reviews with a permanent 400, so both events die. An admin logs in,
finds them in the events list, replays one from its own page and the other through the
bulk "replay matching" confirmation, and both end delivered. Chromium is Debian's
(`/usr/bin/chromium`), which `make chromium` installs (`make test` runs it first); a test
run never installs anything itself.
"""
import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_for
from tests.helpers import sample, with_sequence

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "correct horse battery staple"  # tests.conftest.make_env's


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path to Chromium; skip, saying how to get it, when it is not installed."""
    found = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        pytest.skip(f"no Chromium at {CHROMIUM} or on PATH: run `make chromium` "
                    "(scripts/install-chromium.sh, Debian's package)")
    return found


@pytest.fixture
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def status_of(stack, webhook_id: str) -> str | None:
    return next((row["status"] for row in stack.events() if row["webhook_id"] == webhook_id), None)


def wait_status(stack, webhook_id: str, status: str, timeout: float = 40) -> dict:
    return wait_for(lambda: next((row for row in stack.events()
                                  if row["webhook_id"] == webhook_id and row["status"] == status), None),
                    timeout, interval=0.1, what=f"{webhook_id} to be {status}")


def dead_review(stack, tmp_path, webhook_id: str, sequence: int) -> dict:
    """A positive review (hook only, no ticket) that the hook refuses with a permanent 400."""
    path = tmp_path / f"{webhook_id}.json"
    path.write_bytes(with_sequence(sample("review-create-positive.json"), sequence,
                                   reviewId=f"review-{webhook_id}"))
    stack.faults(fail_next=[400])
    assert stack.send(path, webhook_id=webhook_id).stdout.startswith("202")
    return wait_status(stack, webhook_id, "dead")


def test_an_admin_replays_dead_events_in_the_browser(stack, browser, tmp_path):
    first = dead_review(stack, tmp_path, "msg_browser_one", 10)
    second = dead_review(stack, tmp_path, "msg_browser_two", 20)
    assert stack.received()["hooks"] == []  # both refused; nothing relayed yet

    context = browser.new_context(base_url=stack.web_url, http_credentials={"username": "admin", "password": PASSWORD},
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        # Without credentials the console is closed (a browser page would only show its auth error).
        anonymous = browser.new_context(base_url=stack.web_url)
        assert anonymous.request.get("/admin/").status == 401
        anonymous.close()

        assert page.goto("/admin/").ok
        assert page.get_by_role("link", name="2", exact=True).is_visible()  # dead letters waiting

        # The events list, filtered to dead ones; emails are masked there.
        page.goto("/admin/events?status=dead")
        rows = page.locator("table.list tbody tr")
        assert rows.count() == 2
        assert "t***@example.com" in rows.first.inner_text()

        # Open the first dead event and replay it from its page.
        page.get_by_role("link", name=str(first["id"]), exact=True).click()
        page.wait_for_url(f"**/admin/events/{first['id']}")
        assert page.locator("h1 .badge").inner_text() == "dead"
        assert "hook:reviews" in page.locator("section", has_text="Delivery attempts").inner_text()
        page.screenshot(path=str(tmp_path / "event-page.png"), full_page=True)
        page.get_by_role("button", name="Replay").click()
        page.wait_for_url(f"**/admin/events/{first['id']}")
        assert "Replayed 1 event" in page.locator(".flash").inner_text()
        wait_status(stack, "msg_browser_one", "delivered")
        page.reload()
        assert page.locator("h1 .badge").inner_text() == "delivered"

        # The other one through the bulk replay of the list's filter, with its confirmation.
        page.goto("/admin/events?status=dead")
        page.get_by_role("link", name="Replay the 1 matching event…").click()
        assert "1 event will be replayed" in page.locator("p.confirm").inner_text()
        page.get_by_role("button", name="Replay 1 event").click()
        assert "Replayed 1 event" in page.locator(".flash").inner_text()
        wait_status(stack, "msg_browser_two", "delivered")
    finally:
        context.close()

    assert status_of(stack, "msg_browser_one") == status_of(stack, "msg_browser_two") == "delivered"
    # Each replay delivered its own review, exactly once.
    delivered = sorted(h["transaction"]["attributes"]["data"]["review"]["reviewId"] for h in stack.received()["hooks"])
    assert delivered == ["review-msg_browser_one", "review-msg_browser_two"]
    assert second["id"] != first["id"]
    if os.environ.get("ADMIN_SCREENSHOT_COPY"):  # lets a developer look at the event page
        shutil.copy(tmp_path / "event-page.png", os.environ["ADMIN_SCREENSHOT_COPY"])
