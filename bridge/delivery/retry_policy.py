"""What the event becomes, from what its actions came to (``kustomer.outcome``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.events.models import EventStatus
from bridge.kustomer.outcome import Outcome, OutcomeKind  # the vocabulary decide() reads; importers use it from here too


@dataclass(frozen=True)
class Verdict:
    status: EventStatus  # what the event becomes: retrying, dead or delivered
    error: str | None = None
    next_attempt_at: datetime | None = None
    delay: float | None = None
    count_attempt: bool = True  # waiting for another worker is not a failed delivery


def decide(outcomes: list[Outcome], attempts_so_far: int, schedule: tuple[float, ...],
           now: datetime) -> Verdict:
    """Turn a round's outcomes into the event's next status.

    `attempts_so_far` counts earlier rounds. Transient failures win over permanent
    ones while the schedule lasts (the other actions may still get through); once
    it is exhausted, or when only permanent failures remain, the event is dead. An
    action that waits for another worker retries soon without spending an attempt.
    A delivered event keeps its actions' warnings as its `last_error`, prefixed
    "warning: ", so the event list and page show what was left out.
    """
    transient = [o for o in outcomes if o.kind == OutcomeKind.TRANSIENT]
    permanent = [o for o in outcomes if o.kind == OutcomeKind.PERMANENT]
    if transient:
        round_number = attempts_so_far + 1
        if round_number <= len(schedule):
            delay = schedule[round_number - 1]
            hint = max((o.retry_after or 0) for o in transient)
            delay = max(delay, hint)
            return Verdict(EventStatus.RETRYING, error=_summary(transient + permanent),
                           next_attempt_at=now + timedelta(seconds=delay), delay=delay)
        return Verdict(EventStatus.DEAD, error=f"gave up after {round_number} attempts: "
                       + _summary(transient + permanent))
    if permanent:
        return Verdict(EventStatus.DEAD, error=_summary(permanent))
    waiting = [o for o in outcomes if o.kind == OutcomeKind.WAIT]
    if waiting:
        delay = max((o.retry_after or 1.0) for o in waiting)
        return Verdict(EventStatus.RETRYING, error=_summary(waiting), next_attempt_at=now + timedelta(seconds=delay),
                       delay=delay, count_attempt=False)
    warnings = [w for o in outcomes for w in o.warnings]
    return Verdict(EventStatus.DELIVERED, error="warning: " + "; ".join(warnings) if warnings else None)


def _summary(outcomes: list[Outcome]) -> str:
    return "; ".join(f"{o.key}: {o.error}" for o in outcomes)
