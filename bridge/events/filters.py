"""The events filter: one meaning for the console's list, its pagination and bulk replay,
and for `bridge replay --status --since`.

`store.list_events` fetches a page; counting and replaying need the same conditions
on a cheaper query (ids only, no bodies); both apply `store.filter_events`.

Failure policy: a filter value that cannot be understood (an unknown status, a
"since" that is neither `2h`-style nor a date) is dropped and reported in `problems`,
so the page still renders and says why the filter was ignored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from bridge.events import store
from bridge.events.models import Event, EventStatus, utcnow

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`"2h"` (or `1.5h`, `30m`, `7d`, `2w`) -> that long ago; `"2024-05-01"` or an ISO
    datetime (UTC if no zone). Raises ValueError saying what is accepted."""
    match = _RELATIVE.match(text)
    if match:
        try:
            return (now or utcnow()) - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        except OverflowError:  # 999999999d: before year 1
            raise ValueError(f"since={text!r} reaches back before the year 1") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"since={text!r}: expected e.g. 30m, 2h, 7d or 2024-05-01T12:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class EventFilter:
    status: str = ""
    resource_type: str = ""
    topic: str = ""
    store: str = ""
    since: str = ""
    q: str = ""
    since_at: datetime | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args, default_status: str = "") -> "EventFilter":
        """Read the filter from a query string or form; `default_status` when none was sent."""
        def text(name: str, default: str = "") -> str:
            # NUL cannot be in a PostgreSQL text parameter (a 500); no stored value holds one.
            return args.get(name, default).replace("\x00", "").strip()

        status = text("status", default_status)
        result = cls(status=status, resource_type=text("resource_type"), topic=text("topic"),
                     store=text("store"), since=text("since"), q=text("q"))
        if result.status and result.status not in EventStatus.ALL:
            result.problems.append(f"status={status!r} is not one of {', '.join(EventStatus.ALL)}; ignored")
            result.status = ""
        if result.since:
            try:
                result.since_at = parse_since(result.since)
            except ValueError as exc:
                result.problems.append(f"{exc}; ignored")
                result.since = ""
        return result

    def as_args(self) -> dict:
        """The non-empty fields, for links and hidden form fields."""
        fields = dict(status=self.status, resource_type=self.resource_type, topic=self.topic,
                      store=self.store, since=self.since, q=self.q)
        return {k: v for k, v in fields.items() if v}

    def replay_args(self) -> dict:
        """Like `as_args`, but always with `status`: bulk replay reads a missing one as "dead"."""
        return {**self.as_args(), "status": self.status}

    def list_kwargs(self) -> dict:
        """Keyword arguments for `store.list_events`."""
        return dict(status=self.status or None, since=self.since_at, resource_type=self.resource_type or None,
                    topic=self.topic or None, subscriber_id=self.store or None, search=self.q or None)

    def where(self, query):
        """Apply the filter to any select over Event (a page, a count, ids)."""
        return store.filter_events(query, **self.list_kwargs())

    def count(self, session) -> int:
        return session.execute(self.where(select(func.count()).select_from(Event))).scalar_one()

    def ids(self, session, limit: int) -> list[int]:
        return list(session.execute(self.where(select(Event.id)).order_by(Event.id).limit(limit)).scalars())

    def describe(self) -> str:
        parts = [f"status {self.status or 'any'}"]
        for label, value in (("type", self.resource_type), ("topic", self.topic), ("store", self.store),
                             ("received since", self.since), ("matching", self.q)):
            if value:
                parts.append(f"{label} {value}")
        return ", ".join(parts)
