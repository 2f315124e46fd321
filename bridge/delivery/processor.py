"""Process one stored event: validate, plan, do each action not yet done, record.

This is what the worker runs for "look at event N now". Failure policy:
- the event is claimed first; if another worker holds it, or it is final, do nothing;
- a body that does not parse or validate (also after a mapping/schema change on
  replay) becomes `invalid` with its errors; an unknown resource type `skipped`;
- an older event of the same Okendo resource still in flight makes this one wait
  (per-resource order); a newer one already delivered makes this one `skipped`;
- each action (hook posts, timeline cards, then the ticket, which links the card) that
  called Kustomer has its outcome committed before the round's next call (the last call's in
  the final status's transaction), so a crash redoes at most one call: the one in flight, or
  the last one, whose outcome was not committed yet; one that called nothing is written with
  the next write (at the latest with the final status), since doing it again costs nothing; done actions
  are never redone; an action that does not apply in this org (a timeline card without its
  klass) is ``skipped``: not done, not failed;
- transient failures are retried on `BRIDGE_RETRY_SCHEDULE`, then `dead`;
  permanent and configuration failures make the event `dead` with the reason;
- an unexpected exception (a bug, a database hiccup) is logged and the event is
  retried like a transient failure, never dropped;
- the round holds the event's lease while it runs (`bridge.delivery.lease`): renewed by the
  process's heartbeat, and every write of the round is fenced by its token, so a
  round that lost the event to another worker stops and changes nothing.
A round's database work is kept to a few round trips (it was most of a worker's time): the
claim returns the event's columns, one read finds older/newer events and earlier actions,
and the fence is part of the write it guards.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Callable

from bridge import logs
from bridge.delivery import delivery_id, lease as leases
from bridge.delivery.body_size import encoded_size, fit_to_limit
from bridge.delivery.queue import claim_next
from bridge.delivery.retry_policy import Outcome, OutcomeKind, decide
from bridge.events import json_body, store
from bridge.events.models import ActionStatus, EventStatus, utcnow
from bridge.kustomer import attempt_log
from bridge.kustomer.client import HOOK_BODY_LIMIT
from bridge.kustomer.errors import KustomerError
from bridge import mapping
from bridge.okendo.schemas import EventValidationError, validate_event

log = logging.getLogger(__name__)

# How long a newer event waits for an older one of the same resource before looking again.
ORDER_WAIT_SECONDS = 2.0


class Processor:
    def __init__(self, *, db, settings, mappings, clients, enqueue: Callable[[int, float | None], object],
                 tickets=None, metrics=None, timeline=None):
        self.db = db
        self.settings = settings
        self.mappings = mappings
        self.clients = clients
        self.enqueue = enqueue
        self.tickets = tickets
        self.metrics = metrics
        self.heartbeat = leases.Heartbeat(db, settings.lease_seconds)
        self.timeline = timeline  # bridge.timeline.TimelineService: cards on the timeline

    # -- entry point ---------------------------------------------------------------
    def process(self, event_id: int) -> str | None:
        """Run one round for this event; returns its new status, or None if not taken."""
        token = leases.new_token()
        with self.db.reading_connection() as connection:  # one statement: atomic by itself
            claimed = store.claim_round(connection, event_id, self.settings.lease_seconds, token=token)
        if claimed is None:
            return None
        return self._round(claimed, token)

    def process_next(self) -> bool:
        """Claim the first due event (bridge.delivery.queue) and run one round for it; False when
        nothing was due. What each worker thread does in a loop."""
        token = leases.new_token()
        with self.db.reading_connection() as connection:  # one statement on PostgreSQL; SQLite's is a transaction
            claimed = claim_next(connection, self.settings.lease_seconds, token)
        if claimed is None:
            return False
        self._round(claimed, token)
        return True

    def _round(self, event, token: str) -> str | None:
        """One round for a claimed event (its `round_statements.ROUND_COLUMNS` row)."""
        started = time.monotonic()
        event_id = event.id
        lease = leases.Lease(event_id, token, self.settings.lease_seconds)
        self.heartbeat.hold(lease)
        with logs.context(event_id=event_id, webhook_id=event.webhook_id), leases.holding(lease):
            try:
                status = self._run(event)
            except leases.LeaseLost as exc:
                log.warning("event %s: %s; stopping this round without writing", event_id, exc)
                return None
            except Exception as exc:  # noqa: BLE001 - see the failure policy above
                log.exception("event %s: unexpected error; will retry", event_id)
                status = self._retry_after_crash(event_id, exc)
            finally:
                self.heartbeat.release(lease)
            if self.metrics and status is not None:
                self.metrics.event_processed(event_id, status, time.monotonic() - started)
        return status

    # -- one round -----------------------------------------------------------------
    def _run(self, event) -> str:
        event_id, body, attempts_so_far = event.id, event.body, event.attempts
        webhook_id, stored_errors = event.webhook_id, event.errors

        try:
            validated = validate_event(json_body.parse(body).data)  # lone surrogates repaired
        except json_body.BodyError as exc:
            return self._finish(event_id, EventStatus.INVALID, error=f"body is not valid JSON: {exc}",
                                errors={"_body": [str(exc)]})
        except EventValidationError as exc:
            # What ingest noted (text it repaired) stays beside the schema's errors.
            noted = {k: v for k, v in stored_errors.items() if k == "_repaired"} \
                if isinstance(stored_errors, dict) else {}
            return self._finish(event_id, EventStatus.INVALID, error="payload failed validation",
                                errors={**exc.as_json(), **noted})
        if not validated.known:
            return self._finish(event_id, EventStatus.SKIPPED,
                                error=f"resource type {validated.resource_type!r} is not relayed")

        # With tickets on, the same read says whether the resource has a ticket row: an event
        # that wants no ticket (most) then costs no read of its own for it.
        ticket_of = (validated.subscriber_id, validated.resource_type, validated.resource_id) \
            if self.tickets is not None and validated.subscriber_id and validated.resource_id else None
        with self.db.reading_connection() as connection:
            older, newer, previous, ticketed = store.before_round(connection, event, ticket_of)
        if older is not None:
            return self._wait_for_older(event_id, older)
        if newer is not None and not any(a.status == ActionStatus.DONE for a in previous.values()):
            # Superseded only while nothing of this event was done: a delivered event that is
            # replayed for an action it could not do then (bridge.delivery.replay) keeps its history.
            return self._finish(event_id, EventStatus.SKIPPED,
                                error=f"superseded by event {newer.id} (sequenceNumber {newer.sequence_number})")

        plan = mapping.plan_event(self.mappings.current(), validated)
        if not plan.hooks and not plan.ticket.wanted and not plan.cards:
            reasons = "; ".join(f"{name}: {why}" for name, why in plan.skipped_routes)
            return self._finish(event_id, EventStatus.SKIPPED,
                                error="no route for " + f"{validated.resource_type}.{validated.topic}"
                                + (f" ({reasons})" if reasons else ""))

        outcomes: list[Outcome] = []
        unsaved: list[Outcome] = []  # outcomes not written yet (see _save)
        for hook in plan.hooks:
            done = previous.get(hook.key)
            if done is not None:
                if done.status == ActionStatus.FAILED:  # permanent failure: only a replay tries again
                    outcomes.append(Outcome(hook.key, OutcomeKind.PERMANENT, error=done.error))
                continue
            hook = delivery_id.stamped(hook, webhook_id)
            self._before_call(event_id, unsaved)
            outcomes.append(self._save(event_id, self._deliver_hook(hook, plan.kustomer), unsaved))
        for card in plan.cards if self.timeline is not None else ():  # before the ticket: it links the card
            done = previous.get(card.key)
            if done is None:
                if not self.timeline.calls_nothing(card, validated, plan.kustomer):
                    self._before_call(event_id, unsaved)
                outcomes.append(self._save(event_id, self.timeline.apply(card, validated, plan.kustomer), unsaved))
            elif done.status == ActionStatus.FAILED:
                outcomes.append(Outcome(card.key, OutcomeKind.PERMANENT, error=done.error))
        if plan.ticket.wanted and self.tickets is not None:
            done = previous.get("ticket")
            if done is None:
                if not self.tickets.calls_nothing(validated, plan, ticketed=ticketed):
                    self._before_call(event_id, unsaved)
                outcomes.append(self._save(event_id, self.tickets.apply(event_id, validated, plan, ticketed=ticketed),
                                           unsaved))
            elif done.status == ActionStatus.FAILED:
                outcomes.append(Outcome("ticket", OutcomeKind.PERMANENT, error=done.error))

        if outcomes and all(o.kind == OutcomeKind.SKIPPED for o in outcomes):  # e.g. no klass for the cards yet
            return self._finish(event_id, EventStatus.SKIPPED, error="; ".join(f"{o.key}: {o.error}" for o in outcomes),
                                unsaved=unsaved)
        not_done = [o for o in outcomes if o.kind == OutcomeKind.SKIPPED]
        inactive = "; ".join(f"{o.key}: not done: {o.error}" for o in not_done)
        if inactive:
            log.warning("event %s: %s", event_id, inactive)
        verdict = decide(outcomes, attempts_so_far, self.settings.retry_schedule, utcnow())
        # A delivered event keeps which actions it left undone, so that a replay (after e.g.
        # `bridge kustomer setup-timeline`) takes it up for them, and only them.
        errors = store.with_not_done(stored_errors, [o.key for o in not_done]
                                     if verdict.status == EventStatus.DELIVERED else [])
        status = self._finish(event_id, verdict.status, error=verdict.error or inactive or None, errors=errors,
                              next_attempt_at=verdict.next_attempt_at, count_attempt=verdict.count_attempt,
                              unsaved=unsaved)
        if verdict.status == EventStatus.RETRYING:
            self.enqueue(event_id, verdict.delay)
        return status

    def _deliver_hook(self, hook, target) -> Outcome:
        if hook.problem:
            return Outcome(hook.key, OutcomeKind.PERMANENT, error=hook.problem)
        client, problem = self.clients.for_target(target)
        if client is None:
            return Outcome(hook.key, OutcomeKind.PERMANENT, error=problem)
        fitted = fit_to_limit(hook.body, HOOK_BODY_LIMIT)
        if fitted is None:
            return Outcome(hook.key, OutcomeKind.PERMANENT, error=f"the hook body is {encoded_size(hook.body)} bytes, over "
                           "Kustomer's 400 KB limit, and trimming its texts cannot make it fit")
        body, trimmed = fitted
        with attempt_log.capture() as tries:
            try:
                result = client.post_hook(hook.url, body)
            except Exception as exc:  # noqa: BLE001 - classified below
                return _classified(hook.key, exc, tries)
        outcome = {"status": result.status, "latency_ms": result.latency_ms}
        if trimmed:
            outcome["trimmed"] = trimmed
            log.warning("hook body trimmed to fit 400 KB: %s", ", ".join(trimmed))
        return Outcome(hook.key, OutcomeKind.DONE, result=outcome, attempts=list(tries))

    # -- bookkeeping ---------------------------------------------------------------
    def _save(self, event_id: int, outcome: Outcome, unsaved: list[Outcome]) -> Outcome:
        """Keep an action's outcome and its HTTP attempts for the round's next write (see the
        failure policy): `_before_call`, before the next action that may call Kustomer, or at the
        latest the final status's transaction (`_finish`).

        An outcome that called Kustomer is so committed before the next call goes out, and a crash
        redoes at most one call: the one in flight, or the last one, whose outcome was waiting
        for its transaction, as a crash just before that commit would anyway. One that called
        nothing (no ticket wanted, a card whose klass is missing, a hook without a URL) costs
        nothing to do again. Waiting saves a transaction per action: a one-hook event (the
        hook, then "no ticket wanted") writes once after its claim, with its final status."""
        unsaved.append(outcome)
        if self.metrics:
            for attempt in outcome.attempts:
                self.metrics.attempt(outcome.key, attempt.status, attempt.latency_ms)
        return outcome

    def _before_call(self, event_id: int, unsaved: list[Outcome]) -> None:
        """Commit the outcomes waiting in `unsaved` (`_save`) before the next Kustomer call, when
        one of them called Kustomer itself: at most one call is ever not on record."""
        if any(outcome.attempts for outcome in unsaved):
            self._write(event_id, unsaved)
            unsaved.clear()

    def _write(self, event_id: int, outcomes: list[Outcome]) -> None:
        """Commit these outcomes in one transaction, fenced by the round's lease: the first
        action row is written only while the round holds the event (`store.record_action`
        with its token); with no action row to write, the lease's renewal is the fence."""
        lease = leases.current()
        with self.db.transaction() as session:  # a Core connection: see Database.transaction
            fenced = lease is None
            for key, status, result, error in _action_rows(outcomes):
                if not store.record_action(session, event_id, key, status, result=result, error=error,
                                           token=None if fenced else lease.token):
                    lease.lost = True
                    raise leases.LeaseLost(f"event {event_id} is held by another worker now")
                fenced = True
            if not fenced:
                lease.renew(session)
            for outcome in outcomes:
                store.record_attempts(session, event_id, outcome.key, outcome.attempts)

    def _finish(self, event_id: int, status: str, unsaved: list[Outcome] = (), **kwargs) -> str:
        """Write the round's final status, fenced by its token, and the outcomes not yet written
        (`_save`) in the same transaction."""
        lease = leases.current()
        with self.db.transaction() as session:  # a Core connection: see Database.transaction
            if not store.finish(session, event_id, status, token=lease.token if lease else None, **kwargs):
                lease.lost = True
                raise leases.LeaseLost(f"event {event_id} is held by another worker now")
            # The finish holds the event row (PostgreSQL) or the write lock (SQLite) until commit.
            store.record_actions(session, event_id, _action_rows(unsaved))
            for outcome in unsaved:
                store.record_attempts(session, event_id, outcome.key, outcome.attempts)
        log.info("event %s -> %s%s", event_id, status,
                 f": {kwargs['error']}" if kwargs.get("error") else "",
                 extra={"event_id": event_id, "status": status})
        return status

    def _wait_for_older(self, event_id: int, older) -> str:
        delay = ORDER_WAIT_SECONDS
        if older.status == EventStatus.RETRYING and older.next_attempt_at is not None:
            delay = max(delay, (older.next_attempt_at - utcnow()).total_seconds() + ORDER_WAIT_SECONDS)
        self._finish(event_id, EventStatus.RETRYING, count_attempt=False,
                     error=f"waiting for older event {older.id} of the same resource",
                     next_attempt_at=utcnow() + timedelta(seconds=delay))
        self.enqueue(event_id, delay)
        return EventStatus.RETRYING

    def _retry_after_crash(self, event_id: int, exc: Exception) -> str:
        outcome = Outcome("internal", OutcomeKind.TRANSIENT, error=f"{type(exc).__name__}: {exc}")
        try:
            with self.db.session() as session:
                event = store.load(session, event_id)
                attempts = event.attempts if event else 0
            verdict = decide([outcome], attempts, self.settings.retry_schedule, utcnow())
            self._finish(event_id, verdict.status, error=verdict.error, next_attempt_at=verdict.next_attempt_at)
            if verdict.delay:
                self.enqueue(event_id, verdict.delay)
            return verdict.status
        except leases.LeaseLost:
            log.warning("event %s: lease lost; the worker holding it now records the outcome", event_id)
            return None
        except Exception:  # noqa: BLE001 - the lease expires and a worker claims it again
            log.exception("event %s: could not record the failure; it is taken over when its lease expires", event_id)
            return EventStatus.PROCESSING


def _action_rows(outcomes: list[Outcome]):
    """(key, status, result, error) of the `actions` rows these outcomes make: done and
    permanently failed actions are recorded; transient, waiting and skipped ones are not."""
    for outcome in outcomes:
        if outcome.kind == OutcomeKind.DONE:
            yield outcome.key, ActionStatus.DONE, outcome.result, None
        elif outcome.kind == OutcomeKind.PERMANENT:
            yield outcome.key, ActionStatus.FAILED, None, outcome.error


def _classified(key: str, exc: Exception, tries) -> Outcome:
    if isinstance(exc, leases.LeaseLost):
        raise exc

    if isinstance(exc, KustomerError):
        return Outcome.from_error(key, exc, tries)
    # Anything else from the HTTP layer is treated as transient: retrying is safe.
    return Outcome(key, OutcomeKind.TRANSIENT, error=f"{type(exc).__name__}: {exc}", attempts=list(tries))
