"""Retention (BRIDGE_RETENTION_DAYS): old delivered and skipped events lose their body and
attempts, in batches; dead and invalid events, and recent ones, keep everything."""
from datetime import timedelta

from sqlalchemy import func, select, update

from bridge.delivery import retention
from bridge.events import store
from bridge.events.models import Attempt, Event, utcnow


def add(runtime, status, age_days, webhook_id):
    with runtime.db.session() as session:
        event_id = store.store_event(session, webhook_id=webhook_id, body=b'{"a": 1}', headers={},
                                     status=status).event_id
        then = utcnow() - timedelta(days=age_days)
        session.execute(update(Event).where(Event.id == event_id)
                        .values(received_at=then, completed_at=then, status=status))
        session.add(Attempt(event_id=event_id, action_key="hook:reviews", method="POST", target="x",
                            status_code=200, latency_ms=10))
    return event_id


def state(runtime, event_id):
    with runtime.db.session() as session:
        body = session.execute(select(Event.body).where(Event.id == event_id)).scalar_one()
        attempts = session.execute(select(func.count()).select_from(Attempt)
                                   .where(Attempt.event_id == event_id)).scalar_one()
    return body, attempts


def test_old_delivered_and_skipped_events_are_pruned_and_the_rest_kept(runtime, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches
    old = [add(runtime, status, 40, f"msg_old_{n}") for n, status in
           enumerate(["delivered", "skipped", "delivered", "delivered", "skipped"])]
    kept = [add(runtime, "dead", 40, "msg_dead"), add(runtime, "invalid", 40, "msg_invalid"),
            add(runtime, "delivered", 5, "msg_recent"), add(runtime, "retrying", 40, "msg_retrying")]

    pruned, last = retention.prune(runtime.db, 30)
    assert pruned == len(old) and last >= max(old)
    assert [state(runtime, i) for i in old] == [(b"", 0)] * len(old)
    assert [state(runtime, i) for i in kept] == [(b'{"a": 1}', 1)] * len(kept)
    # The row stays: a late duplicate from Okendo is still recognised.
    with runtime.db.session() as session:
        again = store.store_event(session, webhook_id="msg_old_0", body=b"{}", headers={}, status="pending")
    assert (again.created, again.status) == (False, "delivered")
    assert retention.prune(runtime.db, 30)[0] == 0  # nothing left to do


def test_the_overview_numbers_for_size_and_oldest_event(runtime):
    add(runtime, "delivered", 3, "msg_a")
    with runtime.db.session() as session:
        assert retention.database_size(session) > 0
        oldest = retention.oldest_event(session)
    assert abs((utcnow() - oldest.replace(tzinfo=oldest.tzinfo or utcnow().tzinfo)).days - 3) <= 1


def test_a_pruned_event_is_not_replayed(runtime):
    event_id = add(runtime, "skipped", 40, "msg_skipped")
    retention.prune(runtime.db, 30)
    with runtime.db.session() as session:
        assert store.reset_for_replay(session, [event_id]) == []
