"""Open one Kustomer conversation per negative Okendo review or survey response.

Exactly once, across retries, replays, several workers and crashes:
- the `tickets` row for the Okendo resource is the lock: the worker that inserts
  it (state `creating`, with a lease) alone may create the conversation; another
  worker finding a live `creating` row backs off and retries; an expired lease is
  taken over;
- before creating, the conversation is looked up by its externalId, so a crash
  between Kustomer's answer and our commit finds the one already made;
- the steps run in this order: customer, conversation, note, then the extras
  (tags, reopen), so an agent always gets the note even when an extra is refused;
- each step of an event is recorded as a sub-action (`ticket:conversation`,
  `ticket:note`, `ticket:tags`, `ticket:reopen`) once done, and skipped on a retry;
- a note is posted exactly once: the `ticket:note` step is marked `sending` before
  the POST, and a round that finds that mark (a crash or a timeout came between
  Kustomer's answer and our record) first lists the conversation's notes and looks
  for the note's externalId.
Later events of the same resource add a note to the same conversation: an update
that is still negative reopens it, one that turned positive says so, a delete
says so. Failure policy: Kustomer errors in the customer, conversation and note
steps become the action's Outcome (transient → retried on the schedule, 429s
included: never dropped; permanent/configuration → dead with the reason). A
permanent or configuration failure of an extra is recorded on its sub-action with
the reason and becomes a warning: the event ends `delivered`, the note is there.
A transient failure of an extra is retried like any other. A shopper without an
email gets a customer identified by an Okendo-derived externalId instead.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError

from bridge.delivery import lease as leases
from bridge.delivery.retry_policy import Outcome, OutcomeKind
from bridge.events import store, ticket_store
from bridge.events.models import ActionStatus, Ticket, TicketState, utcnow
from bridge.kustomer import attempt_log
from bridge.kustomer.errors import ConfigurationError, KustomerError, TransientError
from bridge.kustomer.note_limit import truncate_note
from bridge.okendo.shopper import find_or_create_shopper  # shared with timeline cards
from bridge.mapping import render_ticket
from bridge.timeline.links import card_for_ticket, with_card_line

log = logging.getLogger(__name__)

KEY = "ticket"
CREATING, SENDING = TicketState.CREATING, ActionStatus.SENDING
# How long a worker may take to open a conversation before another may take over is the
# event's own lease (BRIDGE_LEASE_SECONDS), since opening it is part of processing the event.
# A fixed, longer lease outlived a killed worker's event lease, so the event's own retries
# found "another worker is opening this ticket" until its schedule ran out (tests/faults).
# A second worker that finds the ticket being created waits this long before looking again.
BUSY_RETRY_SECONDS = 2.0


class Lifecycle(StrEnum):
    """What an event did to its resource's conversation: the `ticket` action's result says it
    (``result["ticket"]``), so the values are stored and shown and must not change."""
    NONE = "none"  # no ticket wanted, and none open for the resource
    OPENED = "opened"  # this event opened the conversation: the full note, then the tags
    STILL_NEGATIVE = "still negative"  # an update, still negative: a note, and the conversation reopened
    NOW_POSITIVE = "now positive"  # an update that is no longer negative: a note saying so
    DELETED = "deleted"  # the feedback was deleted in Okendo: a note saying so


def conversation_external_id(event) -> str:
    return f"okendo-{event.resource_type}-{event.resource_id}"


class TicketService:
    def __init__(self, *, db, settings, clients):
        self.db, self.settings, self.clients = db, settings, clients

    def apply(self, event_id: int, event, plan, *, ticketed: bool | None = None) -> Outcome:
        """Do what `plan.ticket` asks for this event; returns the `ticket` action's outcome.

        `ticketed`: whether the resource had a `tickets` row when the round began
        (`store.before_round`), None when not known. An event that wants no ticket, of a
        resource that had none, is answered "none" without reading the row again. (A row
        another worker inserts meanwhile, for an older event of the resource stored after
        this one was claimed, is a race the read here could lose as well.)"""
        client, problem = self.clients.for_target(plan.kustomer)
        with attempt_log.capture() as tries:
            try:
                result = self._apply(event_id, event, plan, client, problem, ticketed)
            except Exception as exc:  # noqa: BLE001 - classified by kind below
                return _outcome_for(exc, tries)
        if isinstance(result, Outcome):
            return result
        return Outcome(KEY, OutcomeKind.DONE, result=result, attempts=list(tries),
                       warnings=tuple(result.get("warnings") or ()))

    def calls_nothing(self, event, plan, *, ticketed: bool | None = None) -> bool:
        """Whether `apply` is sure to answer without a Kustomer call or a write (the common
        "no ticket wanted" case). The processor then need not commit the outcome of the call
        before it first (bridge.delivery.processor._before_call)."""
        return _answer_without_row(event, plan.ticket, ticketed) is not None

    # -- the steps -------------------------------------------------------------------
    def _apply(self, event_id, event, plan, client, problem, ticketed=None):
        decision = plan.ticket
        answer = _answer_without_row(event, decision, ticketed)
        if answer is not None:
            return answer
        ticket = self._ticket_row(event)
        if ticket is None and not decision.negative:
            return {"ticket": Lifecycle.NONE, "reason": decision.clause}
        if client is None:
            return Outcome(KEY, OutcomeKind.PERMANENT, error=problem)

        card = card_for_ticket(self.db, event_id, self.settings, plan.kustomer)
        rendered = with_card_line(render_ticket(plan.settings, event, decision, store_name=plan.store_name,
                                                card=card), card)
        for warning in rendered.warnings:
            log.warning("event %s: ticket template: %s", event_id, warning, extra={"event_id": event_id})
        if ticket is None or ticket.state == CREATING:
            ticket, busy = self._take_creation(event, ticket)
            if busy:
                return Outcome(KEY, OutcomeKind.WAIT, error="another worker is opening this ticket",
                               retry_after=BUSY_RETRY_SECONDS)
        if ticket.state == CREATING:
            ticket = self._create_conversation(event_id, event, ticket, rendered, client)
            if rendered.cut:
                log.info("event %s: %s", event_id, "; ".join(rendered.cut), extra={"event_id": event_id})
        steps = self._steps(event_id)
        # An event that opened the conversation (maybe in an earlier, interrupted round)
        # writes the full note; later events of the resource add an update to it.
        lifecycle = Lifecycle.OPENED if _is_done(steps, "ticket:conversation") else _lifecycle(event, decision)

        conversation_id = ticket.conversation_id
        warnings = []
        if not _is_done(steps, "ticket:note"):
            note = rendered.note if lifecycle == Lifecycle.OPENED else \
                truncate_note(f"{_headline(event, lifecycle, decision)}\n\n{rendered.note}")
            warnings += self._post_note_once(event_id, steps.get("ticket:note"), client, conversation_id, note)
        # The extras come after the note: a refused tag must never cost the agent the note.
        if lifecycle == Lifecycle.OPENED and rendered.tags:
            warnings += self._extra(event_id, steps, "ticket:tags", {"tags": list(rendered.tags)},
                                    lambda: client.add_conversation_tags(conversation_id, list(rendered.tags)))
        if lifecycle == Lifecycle.STILL_NEGATIVE:
            warnings += self._extra(event_id, steps, "ticket:reopen", {"conversation_id": conversation_id},
                                    lambda: client.update_conversation(conversation_id, status="open"))
        result = {"ticket": lifecycle, "conversation_id": conversation_id, "customer_id": ticket.customer_id,
                  "external_id": ticket.external_id, "clause": decision.clause}
        if warnings:
            result["warnings"] = warnings
        return result

    def _post_note_once(self, event_id, step, client, conversation_id, note) -> list[str]:
        """Post the note unless an earlier, unrecorded try already did; returns warnings."""
        external_id = f"okendo-note-{event_id}"
        warnings = []
        if step is not None and step.status == SENDING:
            try:
                found = client.find_note_by_external_id(conversation_id, external_id)
            except ConfigurationError as exc:
                # Listing notes needs org.permission.note.read. A note twice is better than
                # none, so post it, and say so.
                found = None
                warnings.append(f"ticket:note: could not look for an earlier copy of the note, so it may "
                                f"appear twice ({exc})")
            if found is not None:
                self._step_done(event_id, "ticket:note", {"note_id": found.get("id"), "found_existing": True})
                return warnings
        self._step(event_id, "ticket:note", SENDING, {"conversation_id": conversation_id})
        created = client.create_note(conversation_id, note, external_id=external_id)
        self._step_done(event_id, "ticket:note", {"note_id": (created or {}).get("id")})
        return warnings

    def _extra(self, event_id, steps, key, result, call) -> list[str]:
        """Run an extra step once; a permanent refusal is recorded and returned as a warning."""
        step = steps.get(key)
        if step is not None and step.status == ActionStatus.DONE:
            return []
        if step is not None and step.status == ActionStatus.FAILED:
            return [f"{key}: {step.error}"]
        try:
            call()
        except TransientError:
            raise  # retried on the schedule; the note is already recorded, so it is not redone
        except KustomerError as exc:
            self._step(event_id, key, ActionStatus.FAILED, error=str(exc))
            log.warning("event %s: %s refused; the ticket is open without it: %s", event_id, key, exc,
                        extra={"event_id": event_id})
            return [f"{key}: {exc}"]
        self._step_done(event_id, key, result)
        return []

    def _steps(self, event_id: int) -> dict:
        with self.db.session() as session:
            return store.recorded_actions(session, event_id)

    def _create_conversation(self, event_id, event, ticket, rendered, client) -> Ticket:
        customer = self._customer(event, client)
        conversation = client.find_conversation_by_external_id(ticket.external_id)
        if conversation is None:
            conversation = client.create_conversation(
                customer["id"], name=rendered.subject, status=rendered.status, priority=rendered.priority,
                direction="in", externalId=ticket.external_id,
                assignedTeams=list(rendered.team_ids) or None,
                queue={"id": rendered.queue_id} if rendered.queue_id else None,
                custom=dict(rendered.custom) or None,
            )
        # One transaction for both: were the row marked open without the step recorded (a
        # worker killed between two commits), the next round would take this event for a
        # later one of the resource and skip the tags an opened conversation gets.
        with self.db.session() as session:
            leases.fence(session)
            ticket = ticket_store.mark_open(session, ticket.id, conversation_id=conversation["id"],
                                            customer_id=customer["id"])
            store.record_action(session, event_id, "ticket:conversation", ActionStatus.DONE,
                                result={"conversation_id": conversation["id"],
                                        **({"cut": list(rendered.cut)} if rendered.cut else {})})
        log.info("event %s: opened conversation %s", event_id, conversation["id"], extra={"event_id": event_id})
        return ticket

    def _customer(self, event, client) -> dict:
        return find_or_create_shopper(event, client)

    # -- the lock ----------------------------------------------------------------------
    def _ticket_row(self, event) -> Ticket | None:
        with self.db.reading() as session:
            return ticket_store.find(session, subscriber_id=event.subscriber_id,
                                     resource_type=event.resource_type, resource_id=event.resource_id)

    def _take_creation(self, event, ticket: Ticket | None) -> tuple[Ticket | None, bool]:
        """(row, busy): insert the `creating` row, or take over one whose lease expired."""
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        if ticket is None:
            try:
                with self.db.session() as session:
                    leases.fence(session)
                    ticket = ticket_store.insert_creating(
                        session, subscriber_id=event.subscriber_id, resource_type=event.resource_type,
                        resource_id=event.resource_id, external_id=conversation_external_id(event),
                        lease_until=lease)
                _hold(ticket)
                return ticket, False
            except IntegrityError:  # another worker inserted it first
                ticket = self._ticket_row(event)
                return ticket, ticket.state == CREATING
        if ticket.state != CREATING:
            return ticket, False
        with self.db.session() as session:
            leases.fence(session)
            taken = ticket_store.take_over_expired(session, ticket.id, now=now, lease_until=lease)
        if taken:
            _hold(ticket)
        return (self._ticket_row(event), not taken)

    def _step_done(self, event_id: int, key: str, result: dict) -> None:
        self._step(event_id, key, ActionStatus.DONE, result)

    def _step(self, event_id: int, key: str, status: str, result: dict | None = None,
              error: str | None = None) -> None:
        with self.db.session() as session:
            leases.fence(session)
            store.record_action(session, event_id, key, status, result=result, error=error)


def _is_done(steps: dict, key: str) -> bool:
    return key in steps and steps[key].status == ActionStatus.DONE


def _hold(ticket: Ticket) -> None:
    """Keep the `creating` row's lock alive as long as the event round that holds it."""
    lease = leases.current()
    if lease is not None:
        lease.ticket_ids.add(ticket.id)


def _lifecycle(event, decision) -> Lifecycle:
    """What a later event of a resource with a conversation does to it."""
    if event.topic == "delete":
        return Lifecycle.DELETED
    return Lifecycle.STILL_NEGATIVE if decision.negative else Lifecycle.NOW_POSITIVE


def _headline(event, lifecycle: Lifecycle, decision) -> str:
    name = f"{event.resource_type}.{event.topic}"
    if lifecycle == Lifecycle.DELETED:
        return f"Okendo {name}: the shopper's feedback was deleted in Okendo."
    if lifecycle == Lifecycle.NOW_POSITIVE:
        return f"Okendo {name}: the feedback is no longer negative ({decision.clause})."
    return f"Okendo {name}: still negative ({decision.clause}); conversation reopened."


def _outcome_for(exc: Exception, tries) -> Outcome:
    if isinstance(exc, KustomerError):
        return Outcome.from_error(KEY, exc, tries)
    raise exc


def _answer_without_row(event, decision, ticketed: bool | None) -> dict | None:
    """The ticket action's result when neither the ticket row nor Kustomer need asking, else None."""
    if not event.resource_id or not event.subscriber_id:
        return {"ticket": Lifecycle.NONE, "reason": "the event has no resource id or store id"}
    if ticketed is False and not decision.negative:
        return {"ticket": Lifecycle.NONE, "reason": decision.clause}
    return None
