"""The one test that reads the deployable config/mapping.yaml.

Admins edit that file (raise a priority, add a keyword, turn on a commented route), so
every other test uses the fixture mappings under tests/mappings/. This test only holds
the shipped file to what the bridge itself needs: it loads, and every template and filter
works on the bundled sample events (the loader tries them). Unset variables only warn.
"""

from __future__ import annotations

from pathlib import Path

from bridge.mapping import check_config

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "mapping.yaml"
ENV = {"KUSTOMER_REVIEW_HOOK_URL": "https://acme.api.kustomerapp.com/v1/hooks/web/abc123",
       "KUSTOMER_SURVEY_HOOK_URL": "https://acme.api.kustomerapp.com/v1/hooks/web/def456",
       "KUSTOMER_API_KEY": "key", "KUSTOMER_API_BASE": "https://acme.api.kustomerapp.com"}


def test_the_shipped_mapping_file_is_valid():
    result = check_config(SHIPPED, env=ENV)
    assert result.ok, "\n".join(result.errors)
    assert result.mapping.routes, "the shipped mapping must route at least one event"


def test_reviews_go_out_like_okendos_native_integration_and_updates_have_their_own_commented_route(tmp_path):
    """Native-integration workflows only ever saw new reviews; edits must not re-run them."""
    result = check_config(SHIPPED, env=ENV)
    reviews = next(r for r in result.mapping.routes if r.name == "reviews")
    assert reviews.events == ("review.create",) and reviews.body == "native-review"

    text = SHIPPED.read_text()
    start = text.index("  # - name: review-updates")
    block = text[start:text.index("\n\n", start)]
    uncommented = tmp_path / "mapping.yaml"
    uncommented.write_text(text.replace(block, "\n".join(line.replace("  # ", "  ", 1) for line in block.splitlines())))
    env = {**ENV, "KUSTOMER_REVIEW_UPDATE_HOOK_URL": "https://acme.api.kustomerapp.com/v1/hooks/web/upd789"}
    result = check_config(uncommented, env=env)
    assert result.ok, "\n".join(result.errors)
    updates = next(r for r in result.mapping.routes if r.name == "review-updates")
    assert updates.events == ("review.update", "review.delete")
    assert updates.url == env["KUSTOMER_REVIEW_UPDATE_HOOK_URL"]
