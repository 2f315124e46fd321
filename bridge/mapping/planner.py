"""What one validated Okendo event causes under a mapping: hook posts and a ticket decision.

Planning sends nothing and reads nothing but the mapping and the event, so the worker,
``bridge preview`` and the tests all get the same answer.

Failure policy: :func:`plan_event` does not raise for anything an event or the mapping
can contain. A route that cannot be delivered is still planned, as a
:class:`HookAction` with a ``problem`` (its URL's variable is unset, its filter failed on
this event, its body could not be built), so the worker marks the event dead with that
message and an admin can fix the mapping and replay it. Nothing is dropped silently:
every route that does not apply is listed in ``skipped_routes`` with the reason.

A filter that *raises* on an event is a problem, not a skip: skipping would leave the
event looking delivered while the hook never got it. The loader runs each filter on the
bundled samples, so this only happens for data the samples did not foresee.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from bridge.bodies import build_body
from bridge.mapping.model import KustomerTarget, Mapping, Route, TicketSettings
from bridge.mapping.negative import judge
from bridge.mapping.templates import evaluate_when
from bridge.timeline.klasses import TIMELINE_TYPES


@dataclass(frozen=True)
class HookAction:
    """Post ``body`` to ``url``; when ``problem`` is set it cannot be done (``url`` may
    then be None) and the event should be marked dead with that message."""

    key: str  # "hook:<route name>": what the worker records as done
    route: str
    url: str | None
    body: dict
    problem: str | None = None


@dataclass(frozen=True)
class CardAction:
    """Write this event's card on the shopper's Kustomer timeline (``bridge.timeline``);
    when ``problem`` is set it cannot be done and the event should be marked dead."""

    key: str  # "timeline:<route name>": what the worker records as done
    route: str
    problem: str | None = None


@dataclass(frozen=True)
class TicketDecision:
    """``wanted``: this event should touch a ticket at all (its event is listed under
    tickets for its store); ``negative``: the rule says so; ``clause``: why, in words."""

    wanted: bool
    negative: bool
    clause: str


@dataclass(frozen=True)
class Plan:
    event: str  # e.g. "review.create"
    hooks: list[HookAction] = field(default_factory=list)
    skipped_routes: list[tuple[str, str]] = field(default_factory=list)
    ticket: TicketDecision = TicketDecision(False, False, "")
    settings: TicketSettings = field(default_factory=TicketSettings)  # this store's
    kustomer: KustomerTarget = field(default_factory=KustomerTarget)  # this store's org
    store_name: str | None = None
    cards: list[CardAction] = field(default_factory=list)  # timeline routes that apply


def plan_event(mapping: Mapping, event) -> Plan:
    """The plan for ``event`` (a ValidatedEvent) under ``mapping``."""
    hooks: list[HookAction] = []
    cards: list[CardAction] = []
    skipped: list[tuple[str, str]] = []
    for route in mapping.routes:
        action, why_not = (_route_action if route.is_hook else _card_action)(route, event)
        if action is not None:
            (hooks if route.is_hook else cards).append(action)
        else:
            skipped.append((route.name, why_not))
    store = mapping.store(event.subscriber_id)
    settings = mapping.tickets_for(event.subscriber_id)
    return Plan(
        event=f"{event.resource_type}.{event.topic}",
        hooks=hooks,
        skipped_routes=skipped,
        ticket=decide_ticket(settings, event),
        settings=settings,
        kustomer=mapping.kustomer_for(event.subscriber_id),
        store_name=store.name if store else None,
        cards=cards,
    )


def _not_applying(route: Route, event) -> tuple[str | None, str | None]:
    """(why the route does not apply, or None; the filter's error, if it raised)."""
    name = f"{event.resource_type}.{event.topic}"
    if not route.listens_to(event.resource_type, event.topic):
        return f"event not listed: {name} is not in [{', '.join(route.events)}]", None
    if route.stores is not None and event.subscriber_id not in route.stores:
        return (f"store not listed: store {event.subscriber_id} is not in"
                f" [{', '.join(route.stores)}]"), None
    if route.when:
        try:
            holds = evaluate_when(route.when, event)
        except Exception as error:  # noqa: BLE001 - see the failure policy
            return None, (f"filter error in route {route.name!r} ({route.when}):"
                          f" {type(error).__name__}: {error}")
        if not holds:
            return f"filter false: {route.when}", None
    return None, None


def _card_action(route: Route, event) -> tuple[CardAction | None, str]:
    if event.resource_type not in TIMELINE_TYPES:
        return None, f"no timeline card for {event.resource_type} events"
    why_not, problem = _not_applying(route, event)
    if why_not:
        return None, why_not
    return CardAction(route.key, route.name, problem), ""


def _route_action(route: Route, event) -> tuple[HookAction | None, str]:
    why_not, problem = _not_applying(route, event)
    if why_not:
        return None, why_not
    if problem:
        return HookAction(route.key, route.name, route.url, {}, problem), ""

    try:
        body = shape_body(route, event)
        problem = None
    except Exception as error:  # noqa: BLE001 - a body that cannot be built is a problem
        body, problem = {}, f"cannot build the {route.body} body: {type(error).__name__}: {error}"
    if route.url is None:
        names = route.missing_env or ("the hook URL",)
        problem = problem or f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} not set"
    return HookAction(route.key, route.name, route.url, body, problem), ""


def shape_body(route: Route, event) -> dict:
    """The route's body shape for ``event``, then its renames, then its extra fields
    (so ``extra`` keys are named as they will appear, and win over body keys)."""
    body = build_body(route.body, event)
    if route.rename:
        renamed = {route.rename[key]: value for key, value in body.items() if key in route.rename}
        # A renamed key wins over an existing key of the same name.
        body = {key: value for key, value in body.items()
                if key not in route.rename and key not in renamed}
        body.update(renamed)
    else:
        body = dict(body)  # the top level is ours to change; nested objects are shared
    if route.extra:
        body.update(copy.deepcopy(route.extra))
    return body


def decide_ticket(settings: TicketSettings, event) -> TicketDecision:
    """Whether this event should touch a ticket, and whether it is negative."""
    name = f"{event.resource_type}.{event.topic}"
    if not settings.events:
        return TicketDecision(False, False, "tickets are not configured (no tickets section)")
    if not settings.enabled:
        return TicketDecision(False, False,
                              f"tickets are disabled ({settings.origin}.enabled is false)")
    if not settings.wants(event.resource_type, event.topic):
        return TicketDecision(False, False, f"tickets are not configured for {name}")
    negative, clause = judge(settings.negative, event.resource_type, event.resource)
    return TicketDecision(True, negative, clause)
