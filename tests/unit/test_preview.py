"""`bridge preview`: what a payload would cause, as JSON and as text; nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.delivery.preview import format_preview_text, preview_payload
from bridge.mapping import load_mapping

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "samples" / "okendo"
REVIEW_HOOK = "https://acme.api.kustomerapp.com/v1/hooks/web/reviews"
SECRET_KEY = "jwt-secret-key-value"
ENV = {"KUSTOMER_REVIEW_HOOK_URL": REVIEW_HOOK, "KUSTOMER_API_KEY": SECRET_KEY,
       "KUSTOMER_API_BASE": "https://acme.api.kustomerapp.com"}


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(ROOT / "tests" / "mappings" / "default.yaml", ENV)


def test_preview_of_the_negative_review(mapping):
    result = preview_payload(sample("review-create-negative"), mapping)
    assert json.loads(json.dumps(result)) == result  # JSON-able as it is

    assert result["valid"] is True and result["errors"] is None
    assert result["event"] == {
        "name": "review.create", "resource_type": "review", "topic": "create",
        "sequence_number": "1001", "subscriber_id": "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21",
        "resource_id": "0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10", "known": True, "store_name": None}
    [hook] = result["hooks"]
    assert (hook["route"], hook["key"], hook["url"], hook["problem"]) == (
        "reviews", "hook:reviews", REVIEW_HOOK, None)
    assert hook["body"]["reviewerEmail"] == "priya.raman@example.com"
    assert hook["body"]["orderId"] == "#4417"
    assert result["skipped_routes"] == [{
        "route": "surveys",
        "reason": "event not listed: review.create is not in [survey_response.create,"
                  " survey_response.update]"}]

    ticket = result["ticket"]
    assert (ticket["wanted"], ticket["negative"], ticket["clause"]) == (
        True, True, "rating 1 is at most 2")
    assert ticket["conversation"] == {
        "subject": "1★ review of Trail Runner 2 Jacket by Priya Raman", "priority": 4,
        "status": "open", "tags": ["okendo", "negative-feedback"], "team_ids": [],
        "queue_id": None, "custom": {}}
    assert ticket["note"].startswith("Okendo review.create (sequence 1001)\n"
                                     "Why this ticket: rating 1 is at most 2\n")
    assert "Zip broke in a week" in ticket["note"]
    assert ticket["warnings"] == []
    assert result["kustomer"] == {"api_base": "https://acme.api.kustomerapp.com",
                                  "api_key_set": True, "missing_env": []}
    assert result["outcome"] == "would be delivered"
    assert SECRET_KEY not in json.dumps(result)


def test_text_preview_of_the_negative_review(mapping):
    text = format_preview_text(preview_payload(sample("review-create-negative"), mapping))
    assert text.startswith("Event: review.create (sequence 1001, store"
                           " 5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21,"
                           " id 0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10)\n"
                           "Outcome: would be delivered\n")
    assert f"  hook:reviews: POST {REVIEW_HOOK}\n" in text
    assert '      "reviewerEmail": "priya.raman@example.com",\n' in text
    assert "Ticket: NEGATIVE (rating 1 is at most 2)\n" in text
    assert "  Subject:  1★ review of Trail Runner 2 Jacket by Priya Raman\n" in text
    assert "  Priority: 4    Status: open\n" in text
    assert "    Title: Zip broke in a week\n" in text
    assert text.endswith("Kustomer: https://acme.api.kustomerapp.com, API key set\n"
                         "Nothing was sent.\n")
    assert SECRET_KEY not in text


def test_preview_of_a_positive_review_has_no_conversation(mapping):
    result = preview_payload(sample("review-create-positive"), mapping)
    assert result["ticket"]["negative"] is False
    assert result["ticket"]["conversation"] is None and result["ticket"]["note"] is None
    assert "Ticket: not opened (not negative: rating 5 > 2, sentiment 'positive' not in" \
           " [negative])" in format_preview_text(result)


def test_preview_says_what_would_go_dead(mapping):
    result = preview_payload(sample("survey_response-create-detractor"), mapping)
    [hook] = result["hooks"]
    assert hook["url"] is None and hook["problem"] == "KUSTOMER_SURVEY_HOOK_URL is not set"
    assert result["outcome"] == ("would be marked dead: hook:surveys:"
                                 " KUSTOMER_SURVEY_HOOK_URL is not set")
    assert "  hook:surveys: NOT SENT: KUSTOMER_SURVEY_HOOK_URL is not set\n" in format_preview_text(result)


def test_preview_without_a_kustomer_key():
    mapping = load_mapping(ROOT / "tests" / "mappings" / "default.yaml", {"KUSTOMER_REVIEW_HOOK_URL": REVIEW_HOOK})
    result = preview_payload(sample("review-create-negative"), mapping)
    assert result["outcome"] == (
        "would be marked dead: hook:reviews: no Kustomer API key: KUSTOMER_API_KEY,"
        " KUSTOMER_API_BASE is not set; ticket: no Kustomer API key: KUSTOMER_API_KEY,"
        " KUSTOMER_API_BASE is not set")


def test_preview_of_an_invalid_payload(mapping):
    payload = sample("review-create-negative")
    payload["resource"]["rating"] = 9
    del payload["sequenceNumber"]
    result = preview_payload(payload, mapping)
    assert result["valid"] is False
    assert result["errors"] == {"sequenceNumber": ["Missing data for required field."],
                                "resource": {"rating": ["Must be between 1 and 5."]}}
    assert result["hooks"] == [] and result["ticket"] is None
    text = format_preview_text(result)
    assert "Outcome: invalid: the bridge stores it as invalid and relays nothing\n" in text
    assert "  resource.rating: Must be between 1 and 5.\n" in text
    assert preview_payload([1, 2], mapping)["valid"] is False


def test_preview_of_an_unknown_resource_type(mapping):
    result = preview_payload({"resource": {"subscriberId": "x"}, "resourceType": "gift_card",
                              "topic": "create", "sequenceNumber": "1", "version": "2025-02-01"},
                             mapping)
    assert result["valid"] is True and result["event"]["known"] is False
    assert result["outcome"].startswith("skipped: resource type 'gift_card' is not known")
    assert result["hooks"] == [] and result["ticket"] is None
