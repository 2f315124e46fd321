"""The mapping editor in a real browser (headless Chromium) against real processes.

An admin logs in, edits the draft, sees the problem at its line, fixes it, previews the
impact on the stored events, publishes with a note and rolls back.
"""
import os
import shutil

from tests.e2e.conftest import ROOT
from tests.e2e.test_admin_browser import PASSWORD, browser, chromium, wait_status  # noqa: F401 - fixtures
from tests.helpers import sample, with_sequence

FIXTURE = ROOT / "tests" / "mappings" / "default.yaml"


def test_an_admin_edits_previews_publishes_and_rolls_back_the_mapping(stack, browser, tmp_path):  # noqa: F811
    review = tmp_path / "review.json"
    review.write_bytes(with_sequence(sample("review-create-positive.json"), 1, reviewId="review-five"))
    assert stack.send(review, webhook_id="msg_mapping_browser").stdout.startswith("202")
    wait_status(stack, "msg_mapping_browser", "delivered")  # rated 5: no ticket under version 1

    text = FIXTURE.read_text()
    broken = text.replace("    priority: 4\n", "    priority: 9\n", 1)
    line = broken.splitlines().index("    priority: 9") + 1
    fixed = text.replace("    rating_at_most: 2\n", "    rating_at_most: 5\n", 1)

    context = browser.new_context(base_url=stack.web_url, http_credentials={"username": "admin", "password": PASSWORD},
                                  viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        assert page.goto("/admin/").ok
        page.get_by_role("link", name="Mapping", exact=True).click()
        page.wait_for_url("**/admin/mapping")
        assert "version 1" in page.locator("main").inner_text()

        # A typo: saved as a draft, shown at its line and column, nothing goes live.
        page.fill("#yaml", broken)
        page.get_by_role("button", name="Save draft").click()
        assert "1 problem" in page.locator("#problems").inner_text()
        flagged = page.locator(f"#L{line}")
        assert "has-problem" in flagged.get_attribute("class")
        assert f"line {line}, column 15: tickets.conversation.priority" in flagged.inner_text()
        flagged.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "mapping-editor.png"), full_page=False)

        # Fixed: every review rated 5 or less is now negative.
        page.fill("#yaml", fixed)
        page.get_by_role("button", name="Save draft").click()
        assert "is valid" in page.locator(".flash-ok").last.inner_text()

        page.get_by_role("link", name="Preview impact").first.click()
        assert page.locator("#impact-headline").inner_text().startswith("1 more ticket")
        assert "opened: rating 5 is at most 5" in page.locator("table.impact").inner_text()

        page.get_by_role("link", name="Publish…").first.click()
        assert "+    rating_at_most: 5" in page.locator("pre.diff").inner_text()
        page.fill("#note", "every review is negative, for the launch week")
        page.check("input[name=confirm]")
        page.get_by_role("button", name="Publish").click()
        page.wait_for_url("**/admin/mapping/history")
        assert "Published version 2" in page.locator(".flash").inner_text()
        assert "every review is negative" in page.locator("table.list").first.inner_text()

        page.get_by_role("link", name="v1", exact=True).click()
        page.get_by_role("button", name="Roll back to version 1").click()
        page.wait_for_url("**/admin/mapping/history")
        assert "Rolled back: version 3 is live with the text of version 1" in page.locator(".flash").inner_text()
    finally:
        context.close()

    history = stack.cli("mapping", "history").stdout
    assert "3 (live)" in history and "admin [rollback to 1]" in history
    assert stack.cli("mapping", "export").stdout == text
    if os.environ.get("ADMIN_SCREENSHOT_COPY"):
        shutil.copy(tmp_path / "mapping-editor.png", os.environ["ADMIN_SCREENSHOT_COPY"])
