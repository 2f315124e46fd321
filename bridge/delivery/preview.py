"""What an Okendo payload would cause, without sending anything (``bridge preview FILE``).

:func:`preview_payload` runs the same validation, planning and rendering the worker
runs, and returns a JSON-able dict; :func:`format_preview_text` prints it for people.

Failure policy: previewing never raises for a bad payload (an invalid one comes back
with ``valid: false`` and the validation errors, like the worker would record it) and
never contacts Kustomer. The API key is never shown, only whether it is set.
"""

from __future__ import annotations

import json
from typing import Any

from bridge.mapping import Mapping, plan_event, render_ticket
from bridge.okendo import envelope
from bridge.okendo.schemas import EventValidationError, validate_event
from bridge.timeline.cards import card_body
from bridge.timeline.klasses import card_external_id, klass_for


def preview_payload(payload: Any, mapping: Mapping) -> dict:
    """The preview of one decoded webhook body under ``mapping``."""
    result: dict[str, Any] = {
        "event": _event_facts_of_payload(payload),
        "valid": False,
        "errors": None,
        "outcome": None,
        "hooks": [],
        "skipped_routes": [],
        "ticket": None,
        "kustomer": None,
        "cards": [],
    }
    try:
        event = validate_event(payload)
    except EventValidationError as error:
        result["errors"] = error.errors
        result["outcome"] = "invalid: the bridge stores it as invalid and relays nothing"
        return result

    result["valid"] = True
    result["event"] = {**event.summary(), "known": event.known}
    if not event.known:
        result["outcome"] = (f"skipped: resource type {event.resource_type!r} is not known;"
                             " the bridge stores the event and relays nothing")
        return result

    plan = plan_event(mapping, event)
    result["event"]["store_name"] = plan.store_name
    result["hooks"] = [
        {"route": hook.route, "key": hook.key, "url": hook.url, "body": hook.body,
         "problem": hook.problem}
        for hook in plan.hooks
    ]
    result["skipped_routes"] = [{"route": name, "reason": why} for name, why in plan.skipped_routes]
    result["cards"] = [_card_preview(card, event) for card in plan.cards]
    ticket: dict[str, Any] = {
        "wanted": plan.ticket.wanted, "negative": plan.ticket.negative,
        "clause": plan.ticket.clause, "conversation": None, "note": None, "warnings": [],
    }
    if plan.ticket.wanted and plan.ticket.negative:
        rendered = render_ticket(plan.settings, event, plan.ticket, store_name=plan.store_name)
        ticket["conversation"] = rendered.as_dict()
        ticket["note"] = rendered.note
        ticket["warnings"] = list(rendered.warnings) + list(rendered.cut)
    result["ticket"] = ticket
    result["kustomer"] = {
        "api_base": plan.kustomer.api_base,
        "api_key_set": bool(plan.kustomer.api_key),
        "missing_env": list(plan.kustomer.missing_env),
    }
    result["outcome"] = _outcome(plan)
    return result


def _card_preview(card, event) -> dict:
    """The card a timeline route would write (found by externalId, created or updated)."""
    external_id = card_external_id(event)
    body = None if event.topic == "delete" else card_body(event, external_id)
    return {"route": card.route, "key": card.key, "klass": klass_for(event.resource_type).name,
            "external_id": external_id, "body": body, "problem": card.problem,
            "does": "marks the card deleted" if body is None else "creates or updates the card"}


def _outcome(plan) -> str:
    """What the worker would make of the plan, short of Kustomer's answers."""
    if not plan.hooks and not plan.ticket.wanted and not plan.cards:
        return "skipped: no route or ticket rule takes this event"
    no_key = None
    if not plan.kustomer.api_key:
        # Hook posts and tickets both need the store's key (see bridge.kustomer.client_pool).
        missing = ", ".join(plan.kustomer.missing_env or ("KUSTOMER_API_KEY",))
        no_key = f"no Kustomer API key: {missing} is not set"
    problems = [f"{action.key}: {action.problem or no_key}" for action in [*plan.hooks, *plan.cards]
                if action.problem or no_key]
    if plan.ticket.wanted and plan.ticket.negative:
        if no_key:
            problems.append(f"ticket: {no_key}")
        elif not plan.kustomer.api_base:
            problems.append("ticket: no Kustomer API base URL (KUSTOMER_API_BASE or the"
                            " store's kustomer.api_base) is set")
    if problems:
        return "would be marked dead: " + "; ".join(problems)
    return "would be delivered"


def _event_facts_of_payload(payload: Any) -> dict:
    """What can be said of a payload before (or without) validation."""
    sent = envelope.as_sent(payload)
    if sent is None:
        return {"name": None}
    resource_type, topic = sent["resource_type"], sent["topic"]
    name = f"{resource_type}.{topic}" if isinstance(resource_type, str) and isinstance(topic, str) else None
    return {"name": name, "resource_type": resource_type, "topic": topic,
            "sequence_number": sent["sequence_number"]}


# ------------------------------------------------------------------------------ text


def format_preview_text(result: dict) -> str:
    """The preview as ``bridge preview FILE`` prints it."""
    lines: list[str] = []
    event = result.get("event") or {}
    header = f"Event: {event.get('name') or '(unnamed)'}"
    details = [f"sequence {event['sequence_number']}" if event.get("sequence_number") else None,
               f"store {event['subscriber_id']}" if event.get("subscriber_id") else None,
               event.get("store_name"),
               f"id {event['resource_id']}" if event.get("resource_id") else None]
    details = [detail for detail in details if detail]
    lines.append(header + (f" ({', '.join(details)})" if details else ""))
    lines.append(f"Outcome: {result.get('outcome')}")

    if not result.get("valid"):
        lines.append("")
        lines.append("Validation errors:")
        lines += [f"  {path}: {message}" for path, message in _flat_errors(result.get("errors"))]
        return "\n".join(lines) + "\n"
    if result.get("ticket") is None:
        return "\n".join(lines) + "\n"

    lines.append("")
    lines.append("Hooks:" if result["hooks"] else "Hooks: none")
    for hook in result["hooks"]:
        if hook["problem"]:
            lines.append(f"  {hook['key']}: NOT SENT: {hook['problem']}")
        else:
            lines.append(f"  {hook['key']}: POST {hook['url']}")
        if hook["body"]:
            body = json.dumps(hook["body"], indent=2, ensure_ascii=False, default=str)
            lines += ["    " + line for line in body.splitlines()]
    if result["skipped_routes"]:
        lines.append("Skipped routes:")
        lines += [f"  {item['route']}: {item['reason']}" for item in result["skipped_routes"]]

    for card in result.get("cards") or []:
        lines.append("")
        lines.append(f"Timeline card ({card['key']}): {card['does']}, klass {card['klass']},"
                     f" externalId {card['external_id']}" + (f"; NOT WRITTEN: {card['problem']}"
                                                            if card["problem"] else ""))
        if card["body"]:
            body = json.dumps(card["body"], indent=2, ensure_ascii=False, default=str)
            lines += ["    " + line for line in body.splitlines()]

    ticket = result["ticket"]
    lines.append("")
    if not ticket["wanted"]:
        lines.append(f"Ticket: none ({ticket['clause']})")
    elif not ticket["negative"]:
        lines.append(f"Ticket: not opened ({ticket['clause']})")
    else:
        conversation = ticket["conversation"]
        lines.append(f"Ticket: NEGATIVE ({ticket['clause']})")
        lines.append(f"  Subject:  {conversation['subject']}")
        lines.append(f"  Priority: {conversation['priority']}    Status: {conversation['status']}")
        lines.append(f"  Tags:     {', '.join(conversation['tags']) or '(none)'}")
        if conversation["team_ids"]:
            lines.append(f"  Teams:    {', '.join(conversation['team_ids'])}")
        if conversation["queue_id"]:
            lines.append(f"  Queue:    {conversation['queue_id']}")
        for name, value in conversation["custom"].items():
            lines.append(f"  {name}: {value!r}")
        for warning in ticket["warnings"]:
            lines.append(f"  WARNING: {warning}")
        lines.append("  Note:")
        lines += ["    " + line if line else "" for line in ticket["note"].splitlines()]
    kustomer = result.get("kustomer") or {}
    lines.append("")
    lines.append(f"Kustomer: {kustomer.get('api_base') or '(no API base)'}, API key "
                 + ("set" if kustomer.get("api_key_set") else "NOT set")
                 + (f" (missing: {', '.join(kustomer['missing_env'])})"
                    if kustomer.get("missing_env") else ""))
    lines.append("Nothing was sent.")
    return "\n".join(lines) + "\n"


def _flat_errors(errors: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(errors, dict):
        pairs = []
        for key, value in errors.items():
            step = f"[{key}]" if isinstance(key, int) else (f".{key}" if path else str(key))
            pairs += _flat_errors(value, path + step)
        return pairs
    if isinstance(errors, list):
        return [(path or "(payload)", str(message)) for message in errors]
    return [(path or "(payload)", str(errors))]
