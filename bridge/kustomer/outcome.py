"""What one action (a hook POST, a ticket step, a timeline card) came to: an ``Outcome``.

Every action the bridge runs is a call, or a few calls, to Kustomer; this is the vocabulary
its result is told in, shared by the steps that make the calls (``delivery/processor``,
``delivery/tickets``, ``timeline/service``) and the retry policy that reads them
(``delivery/retry_policy.decide``). It sits in ``kustomer/`` so that ``timeline/`` can
speak it without depending on ``delivery/``.

Failure policy: nothing here raises; :meth:`Outcome.from_error` classifies a Kustomer
error as transient (retried on the schedule) or permanent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bridge.kustomer.errors import TransientError


class OutcomeKind(StrEnum):
    DONE = "done"
    TRANSIENT = "transient"  # retried on the schedule
    PERMANENT = "permanent"  # recorded as failed; only a replay tries again
    WAIT = "wait"  # another worker holds what this needs
    SKIPPED = "skipped"  # not done and not recorded: e.g. a timeline route whose klass is missing


@dataclass(frozen=True)
class Outcome:
    key: str
    kind: OutcomeKind  # plain strings equal to its members are accepted too
    error: str | None = None
    result: dict | None = None
    retry_after: float | None = None
    attempts: list = field(default_factory=list)
    warnings: tuple[str, ...] = ()  # done, but a part of it was refused (e.g. a ticket's tags)

    @classmethod
    def from_error(cls, key: str, exc: Exception, attempts=()) -> "Outcome":
        """Classify a Kustomer error: transient ones are retried on the schedule, the rest are not."""
        kind = OutcomeKind.TRANSIENT if isinstance(exc, TransientError) else OutcomeKind.PERMANENT
        return cls(key, kind, error=str(exc), retry_after=getattr(exc, "retry_after", None),
                   attempts=list(attempts))
