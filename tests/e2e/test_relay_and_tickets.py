"""Relay and tickets end to end: gunicorn + worker + emulator, with injected failures."""
import json

import pytest
import requests

from tests.e2e.conftest import ONE_WEB_WORKER, wait_for
from tests.helpers import SAMPLES, sample, signed_headers, with_sequence

# The tests here take the default stack as it is: they share one per backend (SharedStack
# resets it between them), and run on one xdist worker so that they can (tests/xdist_groups.py).
# Their subject is the worker and Kustomer: web is only the way in (one gunicorn worker).
SHARED_STACK_ENV = ONE_WEB_WORKER


@pytest.fixture
def stack(shared_stack, request):
    yield from shared_stack.for_test(request)


def post(stack, body: bytes, webhook_id=None):
    response = requests.post(stack.webhook_url, data=body, headers=signed_headers(body, webhook_id=webhook_id),
                             timeout=10)
    assert response.status_code in (200, 202), response.text
    return response


def test_injected_failures_end_delivered_or_dead_with_their_attempts(stack):
    # Two transient failures then success for the first hook; a permanent 400 for the second.
    stack.faults(fail_next=[503, 503])
    stack.send(SAMPLES / "review-create-positive.json", webhook_id="msg_transient")
    first = stack.wait_until_settled(1)[0]
    assert first["status"] == "delivered"
    shown = json.loads(stack.cli("events", "show", str(first["id"]), "--json").stdout)
    codes = [a["status_code"] for a in shown["attempts_log"]]
    assert codes[-1] == 200 and codes.count(503) == 2

    stack.faults(fail_next=[400])
    review = sample("review-create-positive.json")
    review["resource"]["reviewId"] = "another-review"
    post(stack, json.dumps(review).encode(), webhook_id="msg_permanent")
    rows = stack.wait_until_settled(2)
    dead = next(r for r in rows if r["webhook_id"] == "msg_permanent")
    assert dead["status"] == "dead" and "400" in dead["last_error"]

    # Replay after the cause is gone: delivered, and the first event's hook is not re-sent.
    stack.cli("replay", "--status", "dead")
    wait_for(lambda: next(r for r in stack.events() if r["webhook_id"] == "msg_permanent")["status"] == "delivered",
             20, what="the replayed event to be delivered")
    assert len(stack.received()["hooks"]) == 2


def test_an_outage_longer_than_the_in_call_retries_is_ridden_out_by_the_schedule(stack):
    stack.faults(outage=True)
    for n in range(3):
        review = sample("review-create-positive.json")
        review["resource"]["reviewId"] = f"outage-{n}"
        post(stack, json.dumps(review).encode())
    # Every event has failed a whole round (its in-call retries included) and is still being
    # retried: not "all retrying at this instant", since a due retry is claimed at once.
    wait_for(lambda: len(rows := stack.events()) == 3
             and all(r["attempts"] >= 1 and r["status"] in ("retrying", "processing") for r in rows),
             20, what="every event to have failed a round")
    stack.faults(outage=False)
    rows = stack.wait_until_settled(3, timeout=60)
    assert {r["status"] for r in rows} == {"delivered"}
    assert len(stack.received()["hooks"]) == 3


def test_negative_review_updated_twice_and_redelivered_keeps_one_conversation(stack):
    review = sample("review-create-negative.json")
    post(stack, with_sequence(review, 1001), webhook_id="create")
    post(stack, with_sequence(review, 1001), webhook_id="create")  # Okendo's at-least-once
    stack.wait_until_settled(1)
    update = sample("review-update-negative.json")
    post(stack, with_sequence(update, 1002, title="Zip broke, still waiting"), webhook_id="update-1")
    post(stack, with_sequence(update, 1003, rating=4, sentiment="positive", title="Sorted in the end"),
         webhook_id="update-2")
    post(stack, with_sequence(update, 1003, rating=4, sentiment="positive", title="Sorted in the end"),
         webhook_id="update-2-again-new-id")
    rows = stack.wait_until_settled(4)
    by_id = {r["webhook_id"]: r for r in rows}
    assert [by_id[w]["status"] for w in ("create", "update-1", "update-2")] == ["delivered"] * 3
    # The same change (same sequenceNumber) under a new webhook id is not relayed twice.
    assert by_id["update-2-again-new-id"]["status"] == "skipped"

    received = stack.received()
    assert len(received["customers"]) == 1
    [conversation] = received["conversations"]
    assert conversation["attributes"]["externalId"] == "okendo-review-0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10"
    notes = [n["attributes"]["body"] for n in conversation["notes"]]
    # the create, the still-negative update, the update that turned positive
    assert len(notes) == 3
    assert "Zip broke in a week" in notes[0]
    assert "still negative" in notes[1]
    assert "no longer negative" in notes[2]


def test_a_negative_review_against_the_strict_emulator_opens_one_tagged_conversation_with_one_note(stack):
    """The emulator refuses anything outside Kustomer's published contract (bridge.kustomer.contract)."""
    stack.send(SAMPLES / "review-create-negative.json")
    [row] = stack.wait_until_settled(1)
    assert row["status"] == "delivered" and not row["last_error"]
    received = stack.received()
    assert len(received["customers"]) == 1
    [conversation] = received["conversations"]
    assert conversation["tags"] == ["okendo", "negative-feedback"]
    [note] = conversation["notes"]
    assert "Zip broke in a week" in note["attributes"]["body"]
    assert note["attributes"]["externalId"] == f"okendo-note-{row['id']}"


def test_positive_review_opens_nothing_and_detractor_survey_opens_one(stack):
    stack.send(SAMPLES / "review-create-positive.json")
    stack.send(SAMPLES / "survey_response-create-detractor.json")
    stack.wait_until_settled(2)
    received = stack.received()
    [conversation] = received["conversations"]
    assert conversation["attributes"]["externalId"].startswith("okendo-survey_response-")
    assert "Delivery took 12 days" in conversation["notes"][0]["attributes"]["body"]
