"""Impact preview: what a draft mapping would have done to the last N stored events.

Each stored event is planned twice, under the live mapping and under the draft, with
the same code the worker runs (validation, routes, filters, the ticket rule, rendered
bodies and conversations). Only events whose outcome differs are listed, each with
what changed, before and after: a route taken or no longer taken, a ticket opened or no
longer opened, a body field or ticket field with another value. Counts come first.

Failure policy: nothing is sent and nothing is written. An event whose stored body no
longer parses or validates is counted as ``unreadable`` and left out; a rendering error
in either mapping shows as that side's value. The number of events is clamped to
1..``MAX_EVENTS`` so a typo cannot make the page read the whole table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bridge.events.models import Event
from bridge.mapping.planner import plan_event
from bridge.mapping.ticket import render_ticket
from bridge.okendo.schemas import EventValidationError, validate_event

DEFAULT_EVENTS = 200
MAX_EVENTS = 1000
CHUNK = 100  # events read per query: bodies may be large, keep memory flat
VALUE_LIMIT = 300  # characters of a before/after value shown
TICKET_FIELDS = ("subject", "priority", "status", "tags", "team_ids", "queue_id", "custom", "note")


@dataclass
class Change:
    what: str  # "route reviews", "ticket", "reviews body: rating", "ticket priority"
    before: str
    after: str


@dataclass
class EventImpact:
    event_id: int
    name: str
    received_at: Any
    changes: list[Change]


@dataclass
class Impact:
    examined: int = 0
    unreadable: int = 0
    more_tickets: int = 0
    fewer_tickets: int = 0
    routes_added: dict[str, int] = field(default_factory=dict)
    routes_removed: dict[str, int] = field(default_factory=dict)
    bodies_changed: int = 0
    tickets_changed: int = 0
    events: list[EventImpact] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.events)

    def headline(self) -> str:
        """Counts in words: "3 more tickets, 1 route no longer taken"."""
        parts = []
        if self.more_tickets:
            parts.append(_count(self.more_tickets, "more ticket"))
        if self.fewer_tickets:
            parts.append(_count(self.fewer_tickets, "fewer ticket"))
        added, removed = sum(self.routes_added.values()), sum(self.routes_removed.values())
        if added:
            parts.append(_count(added, "more route post"))
        if removed:
            parts.append(_count(removed, "route") + " no longer taken")
        if self.bodies_changed:
            parts.append(_count(self.bodies_changed, "event") + " with other hook body fields")
        if self.tickets_changed:
            parts.append(_count(self.tickets_changed, "ticket") + " with other fields")
        if not parts:
            return f"no change on the last {self.examined} events"
        return ", ".join(parts) + f" (of the last {self.examined} events)"

    def as_dict(self) -> dict:
        return {
            "examined": self.examined, "changed": self.changed, "unreadable": self.unreadable,
            "more_tickets": self.more_tickets, "fewer_tickets": self.fewer_tickets,
            "routes_added": self.routes_added, "routes_removed": self.routes_removed,
            "bodies_changed": self.bodies_changed, "tickets_changed": self.tickets_changed,
            "headline": self.headline(),
            "events": [{"id": item.event_id, "event": item.name,
                        "received_at": item.received_at.isoformat() if item.received_at else None,
                        "changes": [vars(change) for change in item.changes]} for item in self.events],
        }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def clamp(limit: Any) -> int:
    try:
        number = int(limit)
    except (TypeError, ValueError):
        return DEFAULT_EVENTS
    return max(1, min(MAX_EVENTS, number))


def impact_preview(db, before, after, limit: int = DEFAULT_EVENTS) -> Impact:
    """Compare ``before`` (live) and ``after`` (draft) Mappings on the newest stored events."""
    limit = clamp(limit)
    impact = Impact()
    last_id = None
    while impact.examined + impact.unreadable < limit:
        take = min(CHUNK, limit - impact.examined - impact.unreadable)
        query = select(Event.id, Event.body, Event.received_at).order_by(Event.id.desc()).limit(take)
        if last_id is not None:
            query = query.where(Event.id < last_id)
        with db.session() as session:
            rows = session.execute(query).all()
        if not rows:
            break
        for event_id, body, received_at in rows:
            last_id = event_id
            try:
                event = validate_event(json.loads(body))
            except (ValueError, UnicodeDecodeError, EventValidationError):
                impact.unreadable += 1
                continue
            impact.examined += 1
            if not event.known:
                continue
            changes = _compare(_outcome(before, event), _outcome(after, event), impact)
            if changes:
                impact.events.append(EventImpact(event_id, event.name, received_at, changes))
    return impact


def _outcome(mapping, event) -> dict:
    """Routes with their bodies, and the ticket (None when none would be opened)."""
    plan = plan_event(mapping, event)
    routes = {hook.route: (hook.body if hook.problem is None else {"(not sent)": hook.problem})
              for hook in plan.hooks}
    routes.update({card.route: {"(timeline card)": card.problem or "written"} for card in plan.cards})
    ticket = None
    if plan.ticket.wanted and plan.ticket.negative:
        try:
            rendered = render_ticket(plan.settings, event, plan.ticket, store_name=plan.store_name)
            ticket = {**rendered.as_dict(), "note": rendered.note, "clause": plan.ticket.clause}
        except Exception as error:  # noqa: BLE001 - see the failure policy
            ticket = {"clause": plan.ticket.clause, "subject": f"(cannot render: {error})"}
    return {"routes": routes, "ticket": ticket}


def _compare(before: dict, after: dict, impact: Impact) -> list[Change]:
    changes: list[Change] = []
    for route in sorted(set(before["routes"]) | set(after["routes"])):
        if route not in before["routes"]:
            impact.routes_added[route] = impact.routes_added.get(route, 0) + 1
            changes.append(Change(f"route {route}", "not posted", "posted"))
        elif route not in after["routes"]:
            impact.routes_removed[route] = impact.routes_removed.get(route, 0) + 1
            changes.append(Change(f"route {route}", "posted", "not posted"))
    body_changes = []
    for route in sorted(set(before["routes"]) & set(after["routes"])):
        old, new = _flatten(before["routes"][route]), _flatten(after["routes"][route])
        for key in sorted(set(old) | set(new)):
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                body_changes.append(Change(f"{route} body: {key}", _show(old.get(key, _MISSING)),
                                           _show(new.get(key, _MISSING))))
    if body_changes:
        impact.bodies_changed += 1
        changes += body_changes
    old_ticket, new_ticket = before["ticket"], after["ticket"]
    if old_ticket is None and new_ticket is not None:
        impact.more_tickets += 1
        changes.append(Change("ticket", "none", f"opened: {new_ticket['clause']}"))
    elif old_ticket is not None and new_ticket is None:
        impact.fewer_tickets += 1
        changes.append(Change("ticket", f"opened: {old_ticket['clause']}", "none"))
    elif old_ticket is not None:
        ticket_changes = [Change(f"ticket {name}", _show(old_ticket.get(name, _MISSING)),
                                 _show(new_ticket.get(name, _MISSING)))
                          for name in TICKET_FIELDS if old_ticket.get(name) != new_ticket.get(name)]
        if ticket_changes:
            impact.tickets_changed += 1
            changes += ticket_changes
    return changes


_MISSING = object()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay whole (one field)."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix or "(body)": value}


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT] + "…"
