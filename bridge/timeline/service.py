"""Put each review and survey response on the shopper's Kustomer timeline, as one card.

One card (KObject) per Okendo resource, found by its externalId
(``okendo-review-<reviewId>``) before it is created, so it exists exactly once:
- ``create``/``update``: the card is created on the shopper's customer (found by email,
  or created, as tickets do) or, when it exists, updated with the event's content;
- ``delete``: the card is marked deleted (status, time, title), never removed;
- an event older than what the card shows (its ``sequenceStr``) leaves it alone. The
  processor already runs a resource's events in sequenceNumber order; this guards the
  card against anything else that wrote it (a second bridge, a replay of an old event).

Failure policy (the action's Outcome): Kustomer's transient errors (429 included) are
retried on the schedule and never dropped; permanent ones (400/404/422) and configuration
ones (401/403, with the roles to check) make the event dead with the reason. A create
refused as a duplicate (another worker created the card meanwhile) is looked up again
and updated. Our own count of 120 creates per minute per customer holds a create back
(retried when a slot frees) instead of sending it into a 429. A klass that does not
exist makes the route inactive (``skipped``, not recorded; see ``catalog``). A crash
after Kustomer created a card but before we recorded it is harmless: the retry finds
the card by externalId and updates it with the same content.
"""
from __future__ import annotations

import logging

from bridge.kustomer import attempt_log, kobjects
from bridge.kustomer.errors import ConfigurationError, KustomerError
from bridge.kustomer.outcome import Outcome, OutcomeKind
from bridge.okendo.shopper import find_or_create_shopper
from bridge.timeline import cards
from bridge.timeline.catalog import KlassCatalog
from bridge.timeline.create_limit import PerCustomerCreateLimit
from bridge.timeline.klasses import card_external_id, klass_for

log = logging.getLogger(__name__)

KOBJECT_ROLES = ("timeline cards need org.permission.kobject.read/create/update (legacy "
                 "org.user.kobject.read/write) and org.permission.klass.read to find the klasses")


class TimelineService:
    def __init__(self, *, clients, catalog: KlassCatalog | None = None,
                 create_limit: PerCustomerCreateLimit | None = None):
        self.clients = clients
        self.catalog = catalog or KlassCatalog()
        self.create_limit = create_limit or PerCustomerCreateLimit()

    def apply(self, action, event, target) -> Outcome:
        """Do one planned ``timeline`` action (a CardAction) for a ValidatedEvent."""
        if action.problem:
            return Outcome(action.key, OutcomeKind.PERMANENT, error=action.problem)
        if target.api_key and not target.api_base:  # a hook-only setup: cards are simply off
            return Outcome(action.key, OutcomeKind.SKIPPED, error=(
                "KUSTOMER_API_BASE (or the store's kustomer.api_base) is not set, so the timeline route is off"))
        client, problem = self.clients.for_target(target)
        if client is None:
            return Outcome(action.key, OutcomeKind.PERMANENT, error=problem)

        with attempt_log.capture() as tries:
            try:
                result = self._apply(action.key, event, client)
            except ConfigurationError as exc:
                if exc.status == 403:
                    exc = ConfigurationError(f"{exc}; {KOBJECT_ROLES}", status=403, url=exc.url)
                return Outcome.from_error(action.key, exc, tries)
            except KustomerError as exc:
                return Outcome.from_error(action.key, exc, tries)
        if isinstance(result, Outcome):
            return Outcome(result.key, result.kind, error=result.error, result=result.result,
                           retry_after=result.retry_after, attempts=list(tries))
        return Outcome(action.key, OutcomeKind.DONE, result=result, attempts=list(tries))

    def calls_nothing(self, action, event, target) -> bool:
        """Whether `apply` is sure to answer without calling Kustomer (no card type, no resource
        id, no key, or the klass known missing: the timeline route is off for this org). The
        processor then need not commit the outcome of the call before it first
        (bridge.delivery.processor._before_call)."""
        if action.problem or (target.api_key and not target.api_base):
            return True
        client, _problem = self.clients.for_target(target)
        klass = klass_for(event.resource_type)
        if client is None or klass is None or not event.resource_id:
            return True
        return self.catalog.known_off(client, klass.name)

    def _apply(self, key: str, event, client):
        klass = klass_for(event.resource_type)
        if klass is None or not event.resource_id:
            return {"card": "none", "reason": "the event has no resource id" if klass else
                    f"no card type for {event.resource_type}"}
        off = self.catalog.why_not(client, klass.name)
        if off:
            return Outcome(key, OutcomeKind.SKIPPED, error=off)
        external_id = card_external_id(event)
        card = kobjects.find_kobject(client, klass.name, external_id)
        if event.topic == "delete":
            if card is None:
                return {"card": "none", "klass": klass.name, "external_id": external_id,
                        "reason": "no card to mark deleted (the review was never on the timeline)"}
            return self._update(client, klass, card, cards.deleted_body(event, card), external_id,
                                "marked deleted")
        body = cards.card_body(event, external_id)
        if card is not None:
            return self._update_unless_newer(client, klass, card, body, event, external_id)
        customer = find_or_create_shopper(event, client)
        wait = self.create_limit.reserve(customer["id"])
        if wait is not None:
            return Outcome(key, OutcomeKind.TRANSIENT, retry_after=wait, error=(
                f"120 cards were created for customer {customer['id']} in the last minute "
                "(Kustomer's limit); this one waits for a free slot"))
        try:
            created = kobjects.create_customer_kobject(client, customer["id"], klass.name, body)
        except Exception as exc:  # noqa: BLE001 - only a duplicate is handled here
            if not kobjects.is_duplicate(exc):
                raise
            card = kobjects.find_kobject(client, klass.name, external_id)
            if card is None:
                raise  # a genuine 400: report Kustomer's reason
            log.info("card %s was created meanwhile; updating it", external_id)
            return self._update_unless_newer(client, klass, card, body, event, external_id)
        log.info("created timeline card %s (%s)", created.get("id"), external_id)
        return _result("created", klass, created, external_id, customer["id"])

    def _update_unless_newer(self, client, klass, card, body, event, external_id) -> dict:
        shown = cards.card_sequence(card)
        if shown is not None and event.sequence_number.isdigit() and shown > int(event.sequence_number):
            return _result("left alone: the card shows a newer change", klass, card, external_id,
                           cards.card_customer_id(card))
        body = {key: value for key, value in body.items() if key != "externalId"}
        return self._update(client, klass, card, body, external_id, "updated")

    def _update(self, client, klass, card, body, external_id, what) -> dict:
        updated = kobjects.update_kobject(client, klass.name, card["id"], body) or card
        return _result(what, klass, updated if updated.get("id") else card, external_id,
                       cards.card_customer_id(updated) or cards.card_customer_id(card))


def _result(what: str, klass, card: dict, external_id: str, customer_id: str | None) -> dict:
    return {"card": what, "kobject_id": card.get("id"), "klass": klass.name,
            "external_id": external_id, "customer_id": customer_id}
