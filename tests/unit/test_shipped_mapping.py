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
