"""The alerts' own rows, read and written in one place: each condition's state, and the
counts of refused webhook signatures. The outbox's statements are `outbox`'s; the events
the conditions look at are read through `bridge.events`.

A state row changes only by compare-and-set on its `version` (`compare_and_set`), so when
several workers evaluate one condition at the same time exactly one records the transition.

Failure policy: database errors propagate. `Alerts` logs them and tries again next round;
the console's Alerts page answers 500.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from bridge.alerts.policy import State
from bridge.alerts.tables import AlertState, SignatureRefusal
from bridge.events.models import utcnow

# The columns of a state row that are the condition's `policy.State`.
STATE_FIELDS = ("active", "notified", "started_at", "last_sent_at", "covered_until", "episode_count", "summary")


def _fields(state: AlertState | State) -> dict:
    """The `STATE_FIELDS` of a row or of a `State`, by name."""
    return {name: getattr(state, name) for name in STATE_FIELDS}


def state_of(row: AlertState) -> State:
    return State(**_fields(row))


def find(session, key: str) -> AlertState | None:
    return session.get(AlertState, key)


def state_row(session, key: str) -> AlertState:
    """The condition's row, inserted (inactive, version 0) the first time it is evaluated."""
    row = session.get(AlertState, key)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = AlertState(key=key, version=0, active=False, notified=False, episode_count=0)
            session.add(row)
            session.flush()
        return row
    except IntegrityError:  # another worker created it a moment ago
        return session.get(AlertState, key, populate_existing=True)


def compare_and_set(session, key: str, version: int, state: State) -> bool:
    """Record `state` if the row is still at `version`; False when another worker was first."""
    result = session.execute(
        update(AlertState).where(AlertState.key == key, AlertState.version == version)
        .values(version=version + 1, updated_at=utcnow(), **_fields(state))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def states_by_key(session) -> dict[str, AlertState]:
    """Every condition's row (the console's Alerts page)."""
    return {row.key: row for row in session.execute(select(AlertState)).scalars()}


def open_summaries(session) -> list[str | None]:
    """The summaries of the alerts the team was told about and that are still active."""
    return [row.summary for row in session.execute(
        select(AlertState).where(AlertState.active.is_(True), AlertState.notified.is_(True))).scalars()]


def refused_since(session, since: datetime) -> int:
    """Webhooks refused for their signature since `since`, as the web processes flushed them."""
    return int(session.execute(select(func.coalesce(func.sum(SignatureRefusal.count), 0))
                               .where(SignatureRefusal.recorded_at >= since)).scalar_one())


def prune_refusals(session, before: datetime) -> None:
    session.execute(delete(SignatureRefusal).where(SignatureRefusal.recorded_at < before))
