"""The processing lease (issue 13, part 1): renewed while a round runs, and every write of
the round fenced by its token, so a worker that lost an event changes nothing."""
from datetime import timedelta

from sqlalchemy import update

from bridge.delivery import lease as leases
from bridge.events import store
from bridge.events.models import Event, utcnow
from tests.conftest import REVIEW_HOOK
from tests.helpers import sample_bytes
from tests.unit.test_processor import event, hook_calls, ingest


def take_over(runtime, event_id):
    """What another worker does once this one's lease has run out: claim it with its token."""
    with runtime.db.session() as session:
        session.execute(update(Event).where(Event.id == event_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    with runtime.db.session() as session:
        assert store.claim(session, event_id, 60, token="other-worker") is not None


def test_a_round_that_lost_its_lease_mid_call_records_nothing_and_stops(client, runtime, kustomer):
    event_id = ingest(client, sample_bytes("review-create-negative.json"))

    def slow_hook(request):  # the hook answers after the lease ran out and another worker took it
        take_over(runtime, event_id)
        return 200, {}, "{}"
    kustomer.add_callback("POST", REVIEW_HOOK, callback=slow_hook)

    assert runtime.processor.process(event_id) is None
    stored = event(runtime, event_id)
    # The new holder's lease is untouched, and nothing of the old round was written.
    assert (stored.status, stored.lease_token, stored.attempts) == ("processing", "other-worker", 0)
    assert stored.actions == [] and stored.delivery_attempts == []
    # The ticket (a negative review) was not started: no call after the hook.
    assert [c.request.url for c in kustomer.calls] == [REVIEW_HOOK]


def test_finish_with_another_rounds_token_changes_nothing(client, runtime):
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    with runtime.db.session() as session:
        store.claim(session, event_id, 60, token="mine")
    with runtime.db.session() as session:
        assert store.finish(session, event_id, "delivered", token="not-mine") is False
    with runtime.db.session() as session:
        assert store.finish(session, event_id, "delivered", token="mine") is True
    assert event(runtime, event_id).status == "delivered"


def test_the_heartbeat_renews_a_held_lease_and_marks_a_taken_one_lost(client, runtime):
    first = ingest(client, sample_bytes("review-create-positive.json"))
    second = ingest(client, sample_bytes("review-create-negative.json"))
    with runtime.db.session() as session:
        store.claim(session, first, 1, token="a")
        store.claim(session, second, 1, token="b")
    kept, taken = leases.Lease(first, "a", 60), leases.Lease(second, "b", 60)
    take_over(runtime, second)
    heartbeat = leases.Heartbeat(runtime.db, 60)
    heartbeat.hold(kept)
    heartbeat.hold(taken)
    try:
        heartbeat.beat()
    finally:
        heartbeat.stop()
    assert event(runtime, first).lease_until > utcnow() + timedelta(seconds=50)
    assert (kept.lost, taken.lost) == (False, True)


def test_a_lease_not_renewed_for_its_whole_period_counts_as_lost():
    now = [0.0]
    lease = leases.Lease(1, "t", 5, clock=lambda: now[0])
    lease.check()
    now[0] = 6.0  # the database was unreachable: another worker may hold it by now
    try:
        lease.check()
    except leases.LeaseLost:
        pass
    else:
        raise AssertionError("a lease past its period must count as lost")


def test_a_paced_call_checks_the_lease_after_waiting():
    from bridge.kustomer.client_pool import LeaseCheckingPacer

    pacer = LeaseCheckingPacer(0)
    lost = leases.Lease(1, "t", 60)
    lost.lost = True
    assert pacer.acquire() == 0.0  # outside a round: nothing to check
    with leases.holding(lost):
        try:
            pacer.acquire()
        except leases.LeaseLost:
            return
    raise AssertionError("a round that lost its lease must not be let through the pacer")


def test_a_normal_round_clears_its_token(client, runtime, kustomer):
    kustomer.post(REVIEW_HOOK, json={}, status=200)
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert len(hook_calls(kustomer)) == 1
    assert event(runtime, event_id).lease_token is None
