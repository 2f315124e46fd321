"""Trying a freshly loaded mapping against sample events, so that what would fail at
delivery time fails at load time instead.

For every route and every event it listens to: the filter evaluates, the body builds,
every ``rename`` key exists in the body. For the tickets section and every store
override of it: subject, note and custom attributes render (in the sandbox, so an
escape attempt is a SecurityError here) and convert to their Kustomer types.

Failure policy: every failure is a :class:`Problem` at the offending value, naming the
sample it failed on; at most one problem per value (the first sample that breaks it),
so one mistake does not print a screenful. Nothing here raises for bad config.
"""

from __future__ import annotations

from bridge.mapping.errors import Problem
from bridge.mapping.events import FEEDBACK_TYPES, event_names_of
from bridge.mapping.model import Mapping, Route, TicketSettings
from bridge.mapping.negative import judge
from bridge.mapping.planner import TicketDecision, shape_body
from bridge.mapping.samples import samples_for
from bridge.mapping.templates import evaluate_when
from bridge.mapping.ticket import ticket_render_errors
from bridge.timeline.klasses import TIMELINE_TYPES


def _failure(sample: str, error: Exception) -> str:
    return f"fails on sample {sample}: {type(error).__name__}: {error}"


def check_against_samples(mapping: Mapping, document) -> list[Problem]:
    problems: list[Problem] = []
    for index, route in enumerate(mapping.routes):
        problems += _check_route(("routes", index), route, document)
    if mapping.tickets.events:
        problems += _check_tickets(("tickets",), mapping.tickets, document, None)
    for subscriber_id, store in mapping.stores.items():
        written = ((document.data.get("stores") or {}).get(subscriber_id) or {}).get("tickets")
        if written is not None:
            problems += _check_tickets(("stores", subscriber_id, "tickets"), store.tickets,
                                       document, store.name, only=written)
    return problems


def _check_route(path: tuple, route: Route, document) -> list[Problem]:
    problems: list[Problem] = []
    failed: set[str] = set()
    body_keys: set[str] = set()
    tried_bodies = False
    for resource_type, topic in event_names_of(route.events):
        for sample, event in samples_for(resource_type, topic):
            if route.when and "when" not in failed:
                try:
                    evaluate_when(route.when, event)
                except Exception as error:  # noqa: BLE001 - any failure is the finding
                    failed.add("when")
                    problems.append(document.problem(path + ("when",), _failure(sample, error)))
            if "body" in failed:
                continue
            if not route.is_hook:
                try:  # a card that cannot be built would fail every delivery: say it now
                    # Imported here: timeline.cards imports mapping modules, and importing any of
                    # them runs bridge/mapping/__init__, which loads this module (a real cycle).
                    from bridge.timeline.cards import card_body

                    if topic != "delete" and resource_type in TIMELINE_TYPES:
                        card_body(event, "okendo-check")
                except Exception as error:  # noqa: BLE001
                    failed.add("body")
                    problems.append(document.problem(path + ("action",), _failure(sample, error)))
                continue
            try:
                # Keys as the body shape makes them, before this route's renames.
                body = shape_body(Route(route.name, route.events, route.url, route.body), event)
            except Exception as error:  # noqa: BLE001
                failed.add("body")
                problems.append(document.problem(path + ("body",), _failure(sample, error)))
                continue
            tried_bodies = True
            body_keys |= set(body)
    if tried_bodies:
        for old in route.rename:
            if old not in body_keys:
                problems.append(document.problem(path + ("rename", old), (
                    f"{old!r} is not a top-level key of the {route.body} body"
                    f" (its keys: {', '.join(sorted(body_keys))})"), at_key=True))
    return problems


def _check_tickets(path: tuple, settings: TicketSettings, document, store_name,
                   only: dict | None = None) -> list[Problem]:
    """``only``: for a store override, the parts it writes (inherited parts were
    already checked with the global section)."""
    problems: list[Problem] = []
    failed: set[str] = set()
    written = ((only or {}).get("conversation") or {}) if only is not None else None
    for resource_type, topic in event_names_of(settings.events, FEEDBACK_TYPES):
        for sample, event in samples_for(resource_type, topic):
            negative, clause = judge(settings.negative, event.resource_type, event.resource)
            decision = TicketDecision(True, negative, clause)
            for error in ticket_render_errors(settings, event, decision, store_name=store_name):
                if error.part in failed:
                    continue
                failed.add(error.part)
                part_path = tuple(error.part.split(".", 1))
                if written is not None and part_path[0] not in written:
                    continue
                problems.append(document.problem(path + ("conversation",) + part_path,
                                                 _failure(sample, error.error),
                                                 template_line=template_line_of(error.error)))
    return problems


def template_line_of(error: BaseException) -> int | None:
    """The template line an exception was raised at: Jinja rewrites tracebacks so that a
    template's frames read ``<template>`` with the template's own line numbers."""
    line = None
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
