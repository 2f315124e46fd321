"""How a recorded Kustomer call counts, for `/metrics` and the console overview alike.

A 404 answer to a lookup (a customer or conversation looked up by email or externalId
before it is created) is the expected answer the first time, not a failure: counting it
as one made a perfect run show "Kustomer calls answered 2xx: 76%". Every GET the bridge
records is such a lookup (customer, conversation, a conversation's notes), so a lookup
miss is a GET answered 404. An extra ticket step (tags, reopen) that Kustomer refused is
recorded as a `failed` sub-action while its event stays delivered; it is counted apart.
It lives in `events/` because it is a reading of the attempts and actions tables: `/metrics`
(`events.counters`) and the console both count through it.
"""
from __future__ import annotations

from sqlalchemy import and_, func, select, text

from bridge.events.models import FAILED_ACTIONS_SQL, Action, Attempt

OK = Attempt.status_code.between(200, 299)
LOOKUP_MISS = and_(Attempt.method == "GET", Attempt.status_code == 404)
EXTRA_STEPS = ("ticket:tags", "ticket:reopen")


def extra_failures(session) -> dict[str, int]:
    """Refused extra ticket steps now on record, by step (a replay clears them)."""
    rows = session.execute(
        select(Action.key, func.count()).where(Action.key.in_(EXTRA_STEPS), text(f"({FAILED_ACTIONS_SQL})"))
        .group_by(Action.key)
    ).all()
    counts = {step: 0 for step in EXTRA_STEPS}
    counts.update({key: int(n) for key, n in rows})
    return counts
