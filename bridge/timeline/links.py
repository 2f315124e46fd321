"""How a ticket refers to the review's timeline card, so an agent sees its history in one place.

The card is the one this event wrote (the ``timeline`` action runs before the ticket);
its id, klass, externalId and a link to the shopper's timeline go to the ticket templates
as ``card`` (e.g. a conversation attribute ``okendoCardUrl: "{{ card.url }}"``), and a
line naming the card is added to the note. Failure policy: never raises; no card (the
timeline route is off, or its klass is missing) means no line and ``card`` is None.
"""
from __future__ import annotations

import dataclasses

from bridge.events import store
from bridge.events.models import ActionStatus
from bridge.kustomer.links import customer_url
from bridge.kustomer.note_limit import truncate_note


def card_for_ticket(db, event_id: int, settings, target) -> dict | None:
    with db.session() as session:
        actions = store.recorded_actions(session, event_id)
    for key, action in sorted(actions.items()):
        result = action.result if isinstance(action.result, dict) else {}
        if key.startswith("timeline:") and action.status == ActionStatus.DONE and result.get("kobject_id"):
            return {"id": result["kobject_id"], "klass": result.get("klass"),
                    "external_id": result.get("external_id"), "customer_id": result.get("customer_id"),
                    "url": customer_url(settings.raw, target.api_base, result.get("customer_id"))}
    return None


def with_card_line(rendered, card: dict | None):
    """The rendered ticket with a line naming the card at the end of its note."""
    if not card:
        return rendered

    where = f" on the shopper's timeline: {card['url']}" if card.get("url") else " on the shopper's timeline"
    line = f"Timeline card: {card['klass']} {card['id']} ({card['external_id']}){where}"
    return dataclasses.replace(rendered, note=truncate_note(f"{rendered.note}\n\n{line}"))
