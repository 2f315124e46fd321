"""What a replay did not do, and why, in words for the CLI and the console.

A replay re-runs an event: actions already done are skipped, the rest are tried afresh
(`store.reset_for_replay`). Two kinds of event are left alone: one a worker is processing
right now, and one already `delivered` with all its actions done: there is nothing to send
again, and it stays `delivered` with its history as it was. A delivered event that recorded
actions it could not do then (a timeline card before its klass existed) is taken up again
for those actions only.
"""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.events.models import Event, EventStatus

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
