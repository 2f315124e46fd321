"""Timeline cards end to end: gunicorn + worker + the emulator's klasses and KObjects."""
from pathlib import Path

import pytest

from tests.e2e.conftest import ONE_WEB_WORKER, new_stack, started_stack
from tests.helpers import SAMPLES

MAPPING = Path(__file__).resolve().parents[1] / "mappings" / "timeline.yaml"
REVIEW_ID = "0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10"


@pytest.fixture
def timeline_stack(database_url, tmp_path, request):
    yield from started_stack(request, new_stack(database_url, tmp_path, BRIDGE_MAPPING=str(MAPPING), **ONE_WEB_WORKER))


def test_a_review_its_update_and_its_deletion_leave_one_card_in_its_final_state(timeline_stack):
    stack = timeline_stack
    setup = stack.cli("kustomer", "setup-timeline")
    assert "created  klass okendoReview" in setup.stdout, setup.stdout
    assert "found" in stack.cli("kustomer", "setup-timeline").stdout  # idempotent

    for count, sample in enumerate(("review-create-negative.json", "review-update-negative.json",
                                    "review-delete.json"), 1):
        stack.send(SAMPLES / sample)
        rows = stack.wait_until_settled(count)
        assert {row["status"] for row in rows} == {"delivered"}, rows

    received = stack.received()
    [(customer_id, cards)] = received["cards"].items()
    [card] = cards
    attributes = card["attributes"]
    assert attributes["externalId"] == f"okendo-review-{REVIEW_ID}"
    assert attributes["title"].startswith("[Deleted in Okendo] ") and "Zip broke" in attributes["title"]
    custom = attributes["custom"]
    assert custom["statusStr"] == "deleted" and custom["deletedAt"] and custom["sequenceStr"] == "1004"
    assert "Update: still no reply" in custom["bodyTxt"]  # the update's text, kept through the delete
    assert custom["replyTxt"] == "Sorry Priya, we've emailed you."
    [customer] = [c for c in received["customers"] if c["id"] == customer_id]
    assert customer["attributes"]["emails"][0]["email"] == "priya.raman@example.com"

    # The ticket opened for the negative review names the card.
    [conversation] = received["conversations"]
    assert any(f"okendoReview {card['id']}" in note["attributes"]["body"] for note in conversation["notes"])

    # A replay of everything changes nothing: done actions are not redone.
    stack.cli("replay", *[str(row["id"]) for row in stack.events()])
    stack.wait_until_settled(3)
    again = stack.received()
    assert [c["attributes"]["rev"] for c in again["cards"][customer_id]] == [attributes["rev"]]
