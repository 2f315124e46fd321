"""A webhook's whole path with real processes: gunicorn, the worker, the emulator."""
import concurrent.futures
import json

import pytest
import requests

from tests.e2e.conftest import wait_for
from tests.helpers import SAMPLES, sample_bytes, signed_headers

# The tests here take the default stack as it is: they share one per backend (SharedStack
# resets it between them), and run on one xdist worker so that they can (tests/xdist_groups.py).
@pytest.fixture
def stack(shared_stack, request):
    yield from shared_stack.for_test(request)


def test_samples_sent_with_send_sample_are_stored_and_relayed(stack):
    sent = {}
    for name in ("review-create-negative.json", "review-create-positive.json",
                 "survey_response-create-detractor.json", "quiz_response-create.json"):
        result = stack.send(SAMPLES / name, webhook_id=f"msg_{name}")
        assert result.stdout.startswith("202"), result.stdout
        sent[f"msg_{name}"] = name

    rows = stack.wait_until_settled(len(sent))
    assert stack.events_from_cli() == rows  # `bridge events list --json` shows what is stored
    by_id = {row["webhook_id"]: row for row in rows}
    assert set(by_id) == set(sent)
    assert by_id["msg_review-create-negative.json"]["status"] == "delivered"
    assert by_id["msg_review-create-positive.json"]["status"] == "delivered"
    assert by_id["msg_survey_response-create-detractor.json"]["status"] == "delivered"
    # The default mapping has no route for quizzes: stored, then skipped with the reason.
    quiz = by_id["msg_quiz_response-create.json"]
    assert quiz["status"] == "skipped" and "no route" in quiz["last_error"]

    hooks = stack.received()["hooks"]
    review_bodies = [h["transaction"]["attributes"]["data"] for h in hooks if h["hash"] == "reviews"]
    assert sorted(b["review"]["rating"] for b in review_bodies) == [1, 5]
    assert all(b["reviewerEmail"] for b in review_bodies)
    [survey] = [h["transaction"]["attributes"]["data"] for h in hooks if h["hash"] == "surveys"]
    assert survey["npsCategory"] == "detractor"

    shown = json.loads(stack.cli("events", "show", str(by_id["msg_review-create-negative.json"]["id"]),
                                 "--json").stdout)
    assert shown["body"] == sample_bytes("review-create-negative.json").decode()
    hook_attempts = [a for a in shown["attempts_log"] if a["action"].startswith("hook:")]
    assert hook_attempts and hook_attempts[-1]["status_code"] == 200
    assert "reviews" not in hook_attempts[-1]["target"]  # hook hash redacted in the delivery log


def test_concurrent_copies_across_gunicorn_processes_store_one_event(stack):
    body = sample_bytes("review-create-positive.json")
    headers = signed_headers(body, webhook_id="msg_same_time")

    def deliver(_):
        return requests.post(stack.webhook_url, data=body, headers=headers, timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(deliver, range(16)))
    assert sorted(codes) == [200] * 15 + [202]
    rows = stack.wait_until_settled(1)
    assert [r["webhook_id"] for r in rows] == ["msg_same_time"]
    wait_for(lambda: len(stack.received()["hooks"]) == 1, 10, what="one hook")


def test_unsigned_request_is_refused_and_not_stored(stack):
    body = sample_bytes("review-create-negative.json")
    response = requests.post(stack.webhook_url, data=body, headers={"Content-Type": "application/json"}, timeout=5)
    assert response.status_code == 401
    assert stack.events() == []


def test_an_event_stored_while_the_worker_was_down_is_delivered_when_it_returns(stack):
    stack.stop("worker")
    stack.send(SAMPLES / "review-create-negative.json", webhook_id="msg_while_down")
    assert [r["status"] for r in stack.events()] == ["pending"]
    stack.start("worker", "worker")
    rows = stack.wait_until_settled(1)
    assert rows[0]["status"] == "delivered"
