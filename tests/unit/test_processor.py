"""The worker's processing of stored events, with Kustomer mocked by `responses`.

Each test stores events through the real webhook endpoint, then steps the
processor by hand so retry logic is deterministic.
"""
import json
from datetime import timedelta

import responses
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import update

from bridge.events import store
from bridge.events.models import Event, utcnow
from tests.conftest import REVIEW_HOOK, SURVEY_HOOK, make_env
from tests.helpers import sample, sample_bytes, signed_headers, with_sequence


def ingest(client, body: bytes, webhook_id=None) -> int:
    response = client.post("/webhooks/okendo", data=body, headers=signed_headers(body, webhook_id=webhook_id))
    assert response.status_code == 202, response.json
    return response.json["event_id"]


def event(runtime, event_id) -> Event:
    with runtime.db.session() as session:
        return store.load(session, event_id, with_history=True)


def make_due(runtime, event_id):
    """Pretend the scheduled retry time has come."""
    with runtime.db.session() as session:
        session.execute(update(Event).where(Event.id == event_id).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def hook_calls(kustomer, url=REVIEW_HOOK):
    return [c for c in kustomer.calls if c.request.url == url]


def test_a_positive_review_is_posted_as_the_native_body_and_delivered(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, json={}, status=200)
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "delivered"
    [call] = hook_calls(kustomer)
    body = json.loads(call.request.body)
    assert body["review"]["rating"] == 5
    assert call.request.headers["Authorization"] == "Bearer test-kustomer-key"
    stored = event(runtime, event_id)
    assert stored.status == "delivered" and stored.attempts == 1
    assert [(a.action_key, a.status_code) for a in stored.delivery_attempts] == [("hook:reviews", 200)]
    assert "reviewhash" not in stored.delivery_attempts[0].target  # no hook secret in the log


def test_a_survey_goes_to_the_survey_hook(client, runtime, kustomer):
    kustomer.post(SURVEY_HOOK, json={}, status=200)
    runtime.processor.tickets = None  # this test is about the hook only
    event_id = ingest(client, sample_bytes("survey_response-create-detractor.json"))
    assert runtime.processor.process(event_id) == "delivered"
    [call] = hook_calls(kustomer, SURVEY_HOOK)
    assert json.loads(call.request.body)["npsCategory"] == "detractor"


def test_transient_failure_is_retried_on_the_schedule_then_delivered_once(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, status=503)
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "retrying"
    stored = event(runtime, event_id)
    assert stored.next_attempt_at is not None and stored.attempts == 1
    assert "503" in stored.last_error
    assert len(stored.delivery_attempts) == runtime.settings.kustomer_max_attempts  # in-call retries logged

    # Not due yet: a stray task does nothing.
    assert runtime.processor.process(event_id) is None
    make_due(runtime, event_id)
    kustomer.replace(responses.POST, REVIEW_HOOK, status=201, json={})
    assert runtime.processor.process(event_id) == "delivered"
    assert event(runtime, event_id).attempts == 2

    # A replay of a delivered event has nothing to redo: it is left delivered, nothing posted.
    with runtime.db.session() as session:
        assert store.reset_for_replay(session, [event_id]) == []
    before = len(hook_calls(kustomer))
    runtime.processor.process(event_id)
    assert len(hook_calls(kustomer)) == before
    assert event(runtime, event_id).status == "delivered" and event(runtime, event_id).attempts == 2


def test_replaying_a_delivered_event_never_makes_it_look_undelivered(client, runtime, kustomer, runner):
    """A newer update of the review was delivered after it: replaying the older, delivered
    event must not turn it into 'superseded by event N'."""
    kustomer.post(REVIEW_HOOK, status=200, json={})
    first = ingest(client, with_sequence(sample("review-create-positive.json"), 10))
    assert runtime.processor.process(first) == "delivered"
    second = ingest(client, with_sequence(sample("review-create-positive.json"), 20))
    assert runtime.processor.process(second) == "delivered"

    result = runner.invoke("replay", str(first), "999")
    assert result.exit_code == 1  # 999 does not exist
    assert f"not replayed, already delivered: every action is done, nothing is sent again: {first}" in result.output
    assert "not replayed, no such event: 999" in result.output
    runtime.processor.process(first)
    stored = event(runtime, first)
    assert stored.status == "delivered" and stored.last_error is None


def test_replay_by_status_delivered_takes_up_only_events_with_actions_left_undone(client, runtime, kustomer, runner):
    """`bridge replay --status delivered` (the README's advice after `setup-timeline`) runs
    again only the delivered events that recorded actions they could not do then; the rest
    are reported as already delivered, and keep their history."""
    from sqlalchemy import update as sql_update
    kustomer.post(REVIEW_HOOK, status=200, json={})
    complete = ingest(client, with_sequence(sample("review-create-positive.json"), 10))
    assert runtime.processor.process(complete) == "delivered"
    left_undone = ingest(client, with_sequence(sample("review-create-positive.json"), 20))
    assert runtime.processor.process(left_undone) == "delivered"
    with runtime.db.session() as session:  # as the processor records a card it could not make
        session.execute(sql_update(Event).where(Event.id == left_undone)
                        .values(errors={store.NOT_DONE: ["timeline:timeline"]}))

    result = runner.invoke("replay", "--status", "delivered")
    assert result.exit_code == 0, result.output
    assert f"replaying 1 event(s): {left_undone}" in result.output
    assert f"not replayed, already delivered: every action is done, nothing is sent again: {complete}" in result.output
    before = len(hook_calls(kustomer))
    assert runtime.processor.process(left_undone) == "delivered"
    assert len(hook_calls(kustomer)) == before  # the done hook is not posted again
    assert event(runtime, complete).status == "delivered"


def test_schedule_exhausted_makes_the_event_dead(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, status=502)
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    statuses = []
    for _ in range(len(runtime.settings.retry_schedule) + 1):
        make_due(runtime, event_id)
        statuses.append(runtime.processor.process(event_id))
    assert statuses == ["retrying"] * len(runtime.settings.retry_schedule) + ["dead"]
    assert "gave up after 4 attempts" in event(runtime, event_id).last_error


def test_a_rejected_key_is_dead_at_once_with_what_to_check(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, status=401, json={"errors": [{"code": "auth_unauthorized"}]})
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "dead"
    error = event(runtime, event_id).last_error
    assert "KUSTOMER_API_KEY" in error and "test-kustomer-key" not in error
    assert len(hook_calls(kustomer)) == 1  # configuration errors are not retried in-call


def test_replay_of_a_dead_event_delivers_it(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, status=422, json={"errors": [{"code": "bad", "message": "nope"}]})
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "dead"
    kustomer.replace(responses.POST, REVIEW_HOOK, status=200, json={})
    with runtime.db.session() as session:
        assert store.reset_for_replay(session, [event_id]) == [event_id]
    assert runtime.processor.process(event_id) == "delivered"


def test_an_unset_hook_url_makes_the_event_dead_with_the_variable_named(database_url, kustomer):
    from bridge.app import create_app
    from bridge.config import Settings

    env = make_env(database_url)
    del env["KUSTOMER_REVIEW_HOOK_URL"]
    app = create_app(Settings.from_env(env))
    runtime = app.extensions["bridge"]
    event_id = ingest(app.test_client(), sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "dead"
    assert "KUSTOMER_REVIEW_HOOK_URL" in event(runtime, event_id).last_error
    assert len(kustomer.calls) == 0


def test_an_older_update_arriving_after_a_newer_one_is_skipped(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, status=200, json={})
    review = sample("review-create-positive.json")
    newer = ingest(client, with_sequence(review, 1005, title="newer"))
    assert runtime.processor.process(newer) == "delivered"
    older = ingest(client, with_sequence(review, 1003, title="older"))
    assert runtime.processor.process(older) == "skipped"
    assert f"superseded by event {newer}" in event(runtime, older).last_error
    assert [json.loads(c.request.body)["review"]["title"] for c in hook_calls(kustomer)] == ["newer"]


def test_the_same_change_twice_is_not_relayed_twice_when_the_first_finishes_during_the_check(
        client, runtime, kustomer):
    """The order check reads once: if the first copy of a change is delivered just after the
    check saw it unfinished, the second copy waits and is then skipped, not relayed again.
    (A second lookup in a later snapshot once found neither an unfinished older event nor a
    delivered one, and relayed the change twice.)"""
    kustomer.post(REVIEW_HOOK, status=200, json={})
    review = with_sequence(sample("review-create-positive.json"), 3001, title="once")
    first = ingest(client, review, webhook_id="msg_first_copy")
    second = ingest(client, review, webhook_id="msg_second_copy")
    with runtime.db.session() as session:  # another worker holds the first copy
        session.execute(update(Event).where(Event.id == first).values(status="processing"))

    finished = []

    def first_finishes_after_the_check(conn, cursor, statement, parameters, context, executemany):
        if not finished and "EXISTS" in statement.upper():
            finished.append(True)
            with runtime.db.session() as other:
                other.execute(update(Event).where(Event.id == first).values(status="delivered"))

    sqlalchemy_event.listen(runtime.db.engine, "after_cursor_execute", first_finishes_after_the_check)
    try:
        assert runtime.processor.process(second) == "retrying"
    finally:
        sqlalchemy_event.remove(runtime.db.engine, "after_cursor_execute", first_finishes_after_the_check)
    assert finished and "waiting for older event" in event(runtime, second).last_error
    make_due(runtime, second)
    assert runtime.processor.process(second) == "skipped"
    assert f"superseded by event {first}" in event(runtime, second).last_error
    assert hook_calls(kustomer) == []


def test_a_newer_event_waits_while_an_older_one_of_the_same_review_is_retrying(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, status=503)
    review = sample("review-create-positive.json")
    first = ingest(client, with_sequence(review, 2001, title="first"))
    second = ingest(client, with_sequence(review, 2002, title="second"))
    assert runtime.processor.process(first) == "retrying"
    assert runtime.processor.process(second) == "retrying"
    assert "waiting for older event" in event(runtime, second).last_error
    assert event(runtime, second).attempts == 0  # waiting is not a failed attempt

    kustomer.replace(responses.POST, REVIEW_HOOK, status=200, json={})
    make_due(runtime, first)
    make_due(runtime, second)
    assert runtime.processor.process(first) == "delivered"
    assert runtime.processor.process(second) == "delivered"
    titles = [json.loads(c.request.body)["review"]["title"] for c in hook_calls(kustomer) if c.response.status_code == 200]
    assert titles == ["first", "second"]


def test_an_invalid_event_stays_invalid_on_replay(client, runtime):
    body = b"not json"
    response = client.post("/webhooks/okendo", data=body, headers=signed_headers(body))
    event_id = response.json["event_id"]
    with runtime.db.session() as session:
        store.reset_for_replay(session, [event_id])
    assert runtime.processor.process(event_id) == "invalid"


def test_an_unexpected_error_is_retried_not_lost(client, runtime, monkeypatch, kustomer):
    event_id = ingest(client, sample_bytes("review-create-positive.json"))

    def explode(*args, **kwargs):
        raise RuntimeError("bug in a mapping helper")

    monkeypatch.setattr("bridge.mapping.plan_event", explode)
    assert runtime.processor.process(event_id) == "retrying"
    assert "bug in a mapping helper" in event(runtime, event_id).last_error


def test_two_claims_on_one_event_only_one_wins(client, runtime):
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    with runtime.db.session() as session:
        first = store.claim(session, event_id, 60)
    with runtime.db.session() as session:
        second = store.claim(session, event_id, 60)
    assert (first, second) == (event(runtime, event_id).webhook_id, None)


def test_a_hook_body_over_400_kb_is_trimmed_to_fit_and_the_trim_recorded(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, status=200, json={})
    review = sample("review-create-positive.json")
    review["resource"]["body"] = "Long story. " * 50_000  # ~600 KB of prose
    event_id = ingest(client, json.dumps(review).encode())
    assert runtime.processor.process(event_id) == "delivered"
    [call] = hook_calls(kustomer)
    assert len(call.request.body) <= 400_000  # "400 KB" read strictly
    sent = json.loads(call.request.body)
    assert sent["review"]["body"].endswith("over Kustomer's 400 KB hook limit]")
    assert sent["review"]["title"] == review["resource"]["title"]  # short fields untouched
    [action] = [a for a in event(runtime, event_id).actions if a.key == "hook:reviews"]
    assert action.result["trimmed"] == ["review.body"]


def test_a_hook_body_too_big_to_trim_is_dead_with_the_reason():
    from bridge.delivery.body_size import fit_to_limit

    body = {"attributes": [{"title": f"t{i}", "value": i} for i in range(40_000)]}
    assert fit_to_limit(body, 400 * 1024) is None
