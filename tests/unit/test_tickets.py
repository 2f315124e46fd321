"""Tickets for negative feedback: each Kustomer call sequence, mocked with `responses`."""
import json
import re
from datetime import timedelta

import pytest
import responses
from sqlalchemy import select, update

from bridge.events import store
from bridge.events.models import Event, Ticket, utcnow
from tests.conftest import KUSTOMER_BASE, REVIEW_HOOK, SURVEY_HOOK
from tests.kustomer_contract import checked_mock
from tests.helpers import sample, sample_bytes, signed_headers, with_sequence
from tests.unit.test_admin import basic
from tests.unit.test_processor import event, ingest, make_due

CUSTOMER_BY_EMAIL = re.compile(re.escape(KUSTOMER_BASE) + r"/v1/customers/email=.*")
CONVERSATION_BY_EXT = re.compile(re.escape(KUSTOMER_BASE) + r"/v1/conversations/externalId=.*")
CUSTOMERS = f"{KUSTOMER_BASE}/v1/customers"
CONVERSATIONS = f"{KUSTOMER_BASE}/v1/conversations"
TAGS = re.compile(re.escape(KUSTOMER_BASE) + r"/v1/conversations/[^/]+/tags")
NOTES = re.compile(re.escape(KUSTOMER_BASE) + r"/v1/conversations/[^/]+/notes")
PATCH_CONVERSATION = re.compile(re.escape(KUSTOMER_BASE) + r"/v1/conversations/[^/=]+$")

CUSTOMER = {"data": {"type": "customer", "id": "cus_1", "attributes": {"name": "Priya Raman"}}}
CONVERSATION = {"data": {"type": "conversation", "id": "conv_1", "attributes": {}}}
NOT_FOUND = {"errors": [{"status": "404", "code": "not_found"}]}


@pytest.fixture
def kustomer():
    with checked_mock(assert_all_requests_are_fired=False) as mock:
        mock.post(REVIEW_HOOK, json={}, status=200)
        mock.post(SURVEY_HOOK, json={}, status=200)
        mock.post(TAGS, json={}, status=200)
        mock.post(NOTES, json={"data": {"type": "note", "id": "note_1"}}, status=201)
        mock.get(NOTES, json={"meta": {"page": 1, "totalPages": 1}, "data": []}, status=200)
        mock.patch(PATCH_CONVERSATION, json=CONVERSATION, status=200)
        yield mock


def calls(mock, method, pattern):
    return [c for c in mock.calls if c.request.method == method and re.fullmatch(pattern, c.request.url.split("?")[0])]


def posted(mock, method, pattern):
    return [json.loads(c.request.body) for c in calls(mock, method, pattern)]


def customer_exists(mock):
    mock.get(CUSTOMER_BY_EMAIL, json=CUSTOMER, status=200)


def no_conversation_yet(mock):
    mock.get(CONVERSATION_BY_EXT, json=NOT_FOUND, status=404)
    mock.post(CONVERSATIONS, json=CONVERSATION, status=201)


def test_negative_review_opens_one_conversation_with_a_note(client, runtime, kustomer):
    customer_exists(kustomer)
    no_conversation_yet(kustomer)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"

    [conversation] = posted(kustomer, "POST", CONVERSATIONS)
    assert conversation["customer"] == "cus_1"
    assert conversation["externalId"] == "okendo-review-0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10"
    assert 1 <= conversation["priority"] <= 5
    assert "Zip broke" in conversation["name"] or "1" in conversation["name"]
    [note] = posted(kustomer, "POST", NOTES.pattern)
    for fact in ("Zip broke in a week", "Trail Runner 2 Jacket", "Olive / M", "#4417", "Priya",
                 "https://cdn.example.com/r/zip-full.jpg", "approved"):
        assert fact in note["body"], fact
    assert posted(kustomer, "POST", TAGS.pattern)  # tags added by name
    with runtime.db.session() as session:
        [ticket] = session.execute(select(Ticket)).scalars().all()
    assert (ticket.state, ticket.conversation_id, ticket.customer_id) == ("open", "conv_1", "cus_1")


def test_a_missing_customer_is_created_and_the_404s_before_it_count_as_lookup_misses(client, runtime, kustomer):
    kustomer.get(CUSTOMER_BY_EMAIL, json=NOT_FOUND, status=404)
    kustomer.post(CUSTOMERS, json=CUSTOMER, status=201)
    no_conversation_yet(kustomer)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"
    [created] = posted(kustomer, "POST", CUSTOMERS)
    assert created["name"] == "Priya Raman"
    assert created["emails"][0]["email"] == "priya.raman@example.com"

    # Not found yet is the expected first answer: not a failed call in /metrics or the console.
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'okendo_bridge_delivery_attempts_total{action="ticket",outcome="lookup_miss"} 2.0' in metrics
    assert 'okendo_bridge_delivery_attempts_total{action="ticket",outcome="error"} 0.0' in metrics
    overview = client.get("/admin/", headers=basic()).get_data(as_text=True)
    assert "(100.0%)" in overview and "Lookup misses" in overview


def test_a_customer_created_concurrently_ends_as_one_customer(client, runtime, kustomer):
    # First lookup: not found; our create loses the race (409); the second lookup finds theirs.
    kustomer.get(CUSTOMER_BY_EMAIL, json=NOT_FOUND, status=404)
    kustomer.get(CUSTOMER_BY_EMAIL, json=CUSTOMER, status=200)
    kustomer.post(CUSTOMERS, json={"errors": [{"status": "409", "code": "duplicate"}]}, status=409)
    no_conversation_yet(kustomer)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert posted(kustomer, "POST", CONVERSATIONS)[0]["customer"] == "cus_1"


def test_an_existing_conversation_with_our_external_id_is_reused_not_duplicated(client, runtime, kustomer):
    """A crash after Kustomer created the conversation but before we recorded it."""
    customer_exists(kustomer)
    kustomer.get(CONVERSATION_BY_EXT, json=CONVERSATION, status=200)
    kustomer.post(CONVERSATIONS, json=CONVERSATION, status=201)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert calls(kustomer, "POST", CONVERSATIONS) == []
    assert len(posted(kustomer, "POST", NOTES.pattern)) == 1


def test_a_429_midway_is_retried_later_without_a_second_conversation(client, runtime, kustomer):
    customer_exists(kustomer)
    no_conversation_yet(kustomer)
    kustomer.replace(responses.POST, NOTES, status=429, headers={"Retry-After": "120"},
                     json={"errors": [{"code": "rate_limited"}]})
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "retrying"
    assert event(runtime, event_id).next_attempt_at is not None

    kustomer.replace(responses.POST, NOTES, status=201, json={"data": {"id": "note_1"}})
    make_due(runtime, event_id)
    runtime.processor.clients.close()  # the two minutes of the 429's pause have passed
    assert runtime.processor.process(event_id) == "delivered"
    assert len(calls(kustomer, "POST", CONVERSATIONS)) == 1
    assert len([c for c in calls(kustomer, "POST", NOTES.pattern) if c.response.status_code == 201]) == 1


def test_positive_review_opens_no_conversation(client, runtime, kustomer):
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert calls(kustomer, "POST", CONVERSATIONS) == []
    assert calls(kustomer, "GET", CUSTOMER_BY_EMAIL.pattern) == []
    with runtime.db.session() as session:  # decided from the round's first read (no ticket row)
        assert store.recorded_actions(session, event_id)["ticket"].result["ticket"] == "none"


def test_detractor_survey_opens_a_conversation_with_each_answer_in_the_note(client, runtime, kustomer):
    customer_exists(kustomer)
    no_conversation_yet(kustomer)
    event_id = ingest(client, sample_bytes("survey_response-create-detractor.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert len(posted(kustomer, "POST", CONVERSATIONS)) == 1
    [note] = posted(kustomer, "POST", NOTES.pattern)
    assert "Delivery took 12 days" in note["body"]
    assert "How likely are you to recommend us" in note["body"]


def test_updates_and_delete_add_notes_to_the_same_conversation(client, runtime, kustomer):
    customer_exists(kustomer)
    no_conversation_yet(kustomer)
    review = sample("review-create-negative.json")
    created = ingest(client, with_sequence(review, 1001))
    assert runtime.processor.process(created) == "delivered"

    review_update = sample("review-update-negative.json")
    still_negative = ingest(client, with_sequence(review_update, 1002))
    assert runtime.processor.process(still_negative) == "delivered"
    turned_positive = ingest(client, with_sequence(review_update, 1003, rating=5, sentiment="positive"))
    assert runtime.processor.process(turned_positive) == "delivered"
    deleted = ingest(client, sample_bytes("review-delete.json"))  # sequence 1004
    assert runtime.processor.process(deleted) == "delivered"

    assert len(calls(kustomer, "POST", CONVERSATIONS)) == 1
    notes = [n["body"] for n in posted(kustomer, "POST", NOTES.pattern)]
    assert len(notes) == 4
    assert "still negative" in notes[1]
    assert "no longer negative" in notes[2]
    assert "deleted" in notes[3]
    reopened = posted(kustomer, "PATCH", PATCH_CONVERSATION.pattern)
    assert reopened == [{"status": "open"}]  # only the still-negative update reopens

    # Re-delivering an update under a new webhook id opens nothing and adds no note.
    body = with_sequence(review_update, 1002)
    again = client.post("/webhooks/okendo", data=body, headers=signed_headers(body)).json["event_id"]
    assert runtime.processor.process(again) == "skipped"
    assert len(calls(kustomer, "POST", CONVERSATIONS)) == 1
    assert len(posted(kustomer, "POST", NOTES.pattern)) == 4


def test_a_review_without_an_email_gets_a_customer_identified_another_way(client, runtime, kustomer):
    kustomer.get(re.compile(re.escape(KUSTOMER_BASE) + r"/v1/customers/externalId=.*"), json=NOT_FOUND, status=404)
    kustomer.post(CUSTOMERS, json=CUSTOMER, status=201)
    no_conversation_yet(kustomer)
    review = sample("review-create-negative.json")
    del review["resource"]["reviewer"]["email"]
    event_id = ingest(client, json.dumps(review).encode())
    assert runtime.processor.process(event_id) == "delivered"
    [created] = posted(kustomer, "POST", CUSTOMERS)
    assert created["externalId"].startswith("okendo-")
    assert created["name"] == "Priya Raman"


def test_a_ticket_being_opened_by_another_worker_makes_this_one_wait(client, runtime, kustomer):
    from datetime import timedelta

    from bridge.events.models import utcnow

    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    with runtime.db.session() as session:
        session.add(Ticket(subscriber_id=sample("review-create-negative.json")["resource"]["subscriberId"],
                           resource_type="review", resource_id="0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10",
                           external_id="x", state="creating", lease_until=utcnow() + timedelta(minutes=1)))
    assert runtime.processor.process(event_id) == "retrying"
    assert "another worker is opening this ticket" in event(runtime, event_id).last_error
    assert event(runtime, event_id).attempts == 0  # waiting is not a failed delivery
    assert calls(kustomer, "POST", CONVERSATIONS) == []


def kustomer_path(call) -> str:
    return call.request.method + " " + call.request.url.split("?")[0].replace(KUSTOMER_BASE, "")


def test_the_steps_run_customer_conversation_note_then_tags(client, runtime, kustomer):
    customer_exists(kustomer)
    no_conversation_yet(kustomer)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"
    ticket_calls = [kustomer_path(c) for c in kustomer.calls if "/hooks/" not in c.request.url]
    assert [re.sub(r"=.*", "=…", p) for p in ticket_calls] == [
        "GET /v1/customers/email=…", "GET /v1/conversations/externalId=…", "POST /v1/conversations",
        "POST /v1/conversations/conv_1/notes", "POST /v1/conversations/conv_1/tags"]
    assert posted(kustomer, "POST", TAGS.pattern) == [["okendo", "negative-feedback"]]


def test_refused_tags_leave_the_event_delivered_with_the_note_and_a_warning(client, runtime, kustomer):
    customer_exists(kustomer)
    no_conversation_yet(kustomer)
    kustomer.replace(responses.POST, TAGS, status=400,
                     json={"errors": [{"status": "400", "code": "bad_request", "detail": "tag names refused"}]})
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"

    assert len(posted(kustomer, "POST", NOTES.pattern)) == 1
    stored = event(runtime, event_id)
    assert stored.last_error.startswith("warning: ticket:tags:") and "tag names refused" in stored.last_error
    from bridge.events import store
    with runtime.db.session() as session:
        steps = store.recorded_actions(session, event_id)
    assert steps["ticket:tags"].status == "failed" and "tag names refused" in steps["ticket:tags"].error
    assert steps["ticket:note"].status == "done" and steps["ticket"].status == "done"

    page = client.get(f"/admin/events/{event_id}", headers=basic())
    assert page.status_code == 200 and b"Warning" in page.data and b"tag names refused" in page.data
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'okendo_bridge_ticket_extra_failures{step="ticket:tags"} 1.0' in metrics


@pytest.mark.parametrize("written_before_the_drop, note_posts", [(True, [None]), (False, [None, 201])])
def test_a_note_whose_answer_was_lost_is_looked_for_by_its_external_id_before_posting_again(
        client, runtime, kustomer, written_before_the_drop, note_posts):
    import requests

    customer_exists(kustomer)
    no_conversation_yet(kustomer)
    kustomer.replace(responses.POST, NOTES, body=requests.ConnectionError("connection reset"))
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "retrying"
    if written_before_the_drop:  # Kustomer wrote it before the connection dropped
        kustomer.replace(responses.GET, NOTES, status=200, json={"meta": {"page": 1, "totalPages": 1}, "data": [
            {"type": "note", "id": "note_9", "attributes": {"body": "…", "externalId": f"okendo-note-{event_id}"}}]})
    kustomer.replace(responses.POST, NOTES, status=201, json={"data": {"type": "note", "id": "note_2"}})
    make_due(runtime, event_id)
    assert runtime.processor.process(event_id) == "delivered"
    assert len(calls(kustomer, "GET", NOTES.pattern)) == 1
    assert [getattr(c.response, "status_code", None) for c in calls(kustomer, "POST", NOTES.pattern)] == note_posts


def test_a_str_attribute_over_the_limit_is_cut_and_the_cut_recorded_with_the_ticket(database_url, tmp_path, kustomer):
    from pathlib import Path

    from bridge.app import create_app
    from bridge.config import Settings
    from bridge.composition import build_runtime
    from tests.conftest import make_env

    fixture = Path(__file__).parents[1] / "mappings" / "default.yaml"
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(fixture.read_text().replace(
        "    custom: {}", '    custom: {okendoBodyStr: "{{ (review.body or \'\') * 200 }}", okendoRatingNum: "{{ review.rating }}"}'))
    runtime = build_runtime(Settings.from_env(make_env(database_url, BRIDGE_MAPPING=str(mapping))))
    runtime.processor.clients.sleep = lambda seconds: None
    try:
        client = create_app(runtime=runtime).test_client()
        kustomer.post(REVIEW_HOOK, json={}, status=200)
        kustomer.post(NOTES, json={"data": {"type": "note", "id": "note_1"}}, status=201)
        kustomer.post(TAGS, json={}, status=200)
        customer_exists(kustomer)
        no_conversation_yet(kustomer)
        event_id = ingest(client, sample_bytes("review-create-negative.json"))
        assert runtime.processor.process(event_id) == "delivered"
        [conversation] = posted(kustomer, "POST", CONVERSATIONS)
        assert len(conversation["custom"]["okendoBodyStr"]) == 1024
        from bridge.events import store
        with runtime.db.session() as session:
            step = store.recorded_actions(session, event_id)["ticket:conversation"]
        [cut] = step.result["cut"]
        assert cut.startswith("custom.okendoBodyStr cut to 1,024 of ")
    finally:
        runtime.close()


def test_a_round_cut_between_opening_the_conversation_and_recording_it_still_tags_it(
        client, runtime, kustomer, monkeypatch):
    """The ticket row's `open` and the event's `ticket:conversation` step commit together.

    Were they two commits, a worker killed between them would leave an open ticket whose
    opening no step records: the next round would take the event for a later one of the
    resource, post a "still negative" update and reopen, and never tag the conversation.
    """
    from bridge.delivery import tickets
    from bridge.events import store

    customer_exists(kustomer)
    no_conversation_yet(kustomer)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))

    real_record = store.record_action

    def cut_after_the_conversation(session, event_id, key, *args, **kwargs):
        if key == "ticket:conversation":
            raise ConnectionError("the worker died here")
        return real_record(session, event_id, key, *args, **kwargs)

    monkeypatch.setattr(tickets.store, "record_action", cut_after_the_conversation)
    assert runtime.processor.process(event_id) == "retrying"  # an unexpected error: tried again
    with runtime.db.session() as session:
        [ticket] = session.execute(select(Ticket)).scalars().all()
    assert ticket.state == "creating"  # not left open without the step that says who opened it

    monkeypatch.setattr(tickets.store, "record_action", real_record)
    with runtime.db.session() as session:  # the dead round's locks have run out
        session.execute(update(Ticket).values(lease_until=utcnow() - timedelta(seconds=1)))
    make_due(runtime, event_id)
    assert runtime.processor.process(event_id) == "delivered"
    assert posted(kustomer, "POST", TAGS.pattern) == [["okendo", "negative-feedback"]]
    assert calls(kustomer, "PATCH", PATCH_CONVERSATION.pattern) == []  # nothing to reopen
    [note] = posted(kustomer, "POST", NOTES.pattern)
    assert "still negative" not in note["body"]  # the opening note, not an update


def test_the_hooks_outcome_is_on_record_before_the_tickets_first_call(client, runtime, kustomer):
    """A crash redoes at most one call: the hook's outcome is committed before the ticket's
    first Kustomer call goes out (bridge.delivery.processor._before_call)."""
    no_conversation_yet(kustomer)
    seen = []

    def customer_lookup(request):
        with runtime.db.session() as session:  # what another connection sees at this moment
            seen.append({key: action.status for key, action in store.recorded_actions(session, event_id).items()})
        return 200, {}, json.dumps(CUSTOMER)

    kustomer.add_callback(responses.GET, CUSTOMER_BY_EMAIL, callback=customer_lookup)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert seen and seen[0] == {"hook:reviews": "done"}


def test_a_crash_before_the_final_write_redoes_only_the_last_call(client, runtime, kustomer, monkeypatch):
    """A one-hook event writes the hook's outcome with its final status, in one transaction:
    a round cut before that commit leaves nothing on record, and the next round posts the hook
    once more (the one call whose outcome was not committed), then records it."""
    from bridge.delivery import processor as processor_module

    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    real_finish = processor_module.store.finish

    def cut_before_the_commit(*args, **kwargs):
        raise ConnectionError("the worker died here")

    monkeypatch.setattr(processor_module.store, "finish", cut_before_the_commit)
    assert runtime.processor.process(event_id) == "processing"  # recording the failure fails too: the lease decides
    with runtime.db.session() as session:
        assert store.recorded_actions(session, event_id) == {}
    monkeypatch.setattr(processor_module.store, "finish", real_finish)
    with runtime.db.session() as session:  # the dead round's lease has run out
        session.execute(update(Event).where(Event.id == event_id)
                        .values(status="processing", lease_until=utcnow() - timedelta(seconds=1)))
    assert runtime.processor.process(event_id) == "delivered"
    assert len(calls(kustomer, "POST", REVIEW_HOOK)) == 2
    with runtime.db.session() as session:
        assert store.recorded_actions(session, event_id)["hook:reviews"].status == "done"
