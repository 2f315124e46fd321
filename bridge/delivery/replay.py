"""Replay: the one implementation behind `bridge replay` and the console's replay buttons,
and what a replay did not do, and why, in words for both.

A replay re-runs an event: actions already done are skipped, the rest are tried afresh
(`store.reset_for_replay`). Two kinds of event are left alone: one a worker is processing
right now, and one already `delivered` with all its actions done: there is nothing to send
again, and it stays `delivered` with its history as it was. A delivered event that recorded
actions it could not do then (a timeline card before its klass existed) is taken up again
for those actions only.
"""
from __future__ import annotations

from typing import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.events import store
from bridge.events.models import Event, EventStatus

# The statuses a bulk replay selects by (`bridge replay --status`, the console's replay of a
# filtered list). Single ids may be of any status: `store.reset_for_replay` decides, and of
# `delivered` events it takes up only those that recorded actions they could not do then
# (timeline cards before `setup-timeline`): the rest stay as they are and are reported so.
# Plain strings (not enum members), so click's Choice and templates see the values.
REPLAYABLE = tuple(map(str, (EventStatus.DEAD, EventStatus.INVALID, EventStatus.SKIPPED, EventStatus.RETRYING,
                             EventStatus.DELIVERED)))
CHUNK = 500  # ids per UPDATE ... WHERE id IN (...), well under every driver's limit

DELIVERED_MEANS = "already delivered: every action is done, nothing is sent again"
BUSY_MEANS = "being processed by a worker right now"
UNKNOWN_MEANS = "no such event"


def not_replayed(session: Session, requested: Sequence[int], replayed: Sequence[int]) -> dict[str, list[int]]:
    """{reason: ids} for the requested ids that were not replayed."""
    left = sorted(set(requested) - set(replayed))
    statuses = dict(session.execute(select(Event.id, Event.status).where(Event.id.in_(left))).all()) if left else {}
    reasons: dict[str, list[int]] = {}
    for event_id in left:
        status = statuses.get(event_id)
        reason = (UNKNOWN_MEANS if status is None else DELIVERED_MEANS if status == EventStatus.DELIVERED
                  else BUSY_MEANS)
        reasons.setdefault(reason, []).append(event_id)
    return reasons


def replay(db, event_ids: Sequence[int], enqueue: Callable[[int], object]) -> list[int]:
    """Reset the events that can run again (`store.reset_for_replay`), then wake the workers
    for each; returns the ids replayed. Each chunk's reset is committed before its events are
    enqueued, so no worker can pick up a half-reset event; a lost wake-up costs at most a
    second (the workers also poll). Failure policy: database errors propagate, and what was
    committed before stays replayed."""
    event_ids = list(event_ids)
    replayed: list[int] = []
    for start in range(0, len(event_ids), CHUNK):
        with db.session() as session:
            replayed += store.reset_for_replay(session, event_ids[start:start + CHUNK])
    for event_id in replayed:
        enqueue(event_id)
    return replayed
