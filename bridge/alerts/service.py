"""Evaluate the conditions, record what to say, send it: the alerts' moving parts.

`Alerts.evaluate()` runs each condition and `policy.decide` in one transaction per
condition, then records the new state with a compare-and-set on `alert_state.version`
and, only if that update won, adds the message to the outbox. Any number of workers
(processes, dynos) can evaluate at the same time: for one transition exactly one
update wins, so the team gets one message, not one per worker.

`Alerts.send_due()` sends what the outbox holds (`outbox.claim` makes each delivery
one worker's). Both run in the worker's alert thread (`AlertThread`), never in a web
request, and never in the threads that deliver events: a slow mail server delays
alerts, not complaints.

Failure policy: a condition or a channel that fails is logged and tried again next
round; nothing here raises into the worker.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from bridge.alerts import channels as channel_mod, outbox, state_store
from bridge.alerts.conditions import CONDITIONS, Context
from bridge.alerts.policy import State, decide
from bridge.alerts.tables import DeliveryStatus
from bridge.events import overview, store
from bridge.events.models import utcnow

log = logging.getLogger(__name__)

DIGEST_KEY = "digest"
TEST_SUBJECT = "Test alert from the Okendo → Kustomer bridge"


class Alerts:
    def __init__(self, db, settings, mappings=None, conditions=None, channels=None, clock=utcnow):
        self.db, self.settings, self.mappings, self.clock = db, settings, mappings, clock
        self.conditions = CONDITIONS if conditions is None else conditions
        self.channels = channel_mod.configured(settings) if channels is None else channels

    # -- deciding -------------------------------------------------------------------------------
    def evaluate(self) -> list[int]:
        """One round over every condition (and the digest); returns the ids of messages queued."""
        queued = []
        for key, (title, condition) in self.conditions.items():
            try:
                message_id = self._evaluate_one(key, title, condition)
            except Exception:  # noqa: BLE001 - see the failure policy
                log.exception("alert condition %s could not be evaluated; trying again next round", key)
                continue
            if message_id:
                queued.append(message_id)
        if self.settings.digest_hour is not None:
            try:
                queued += self._digest()
            except Exception:  # noqa: BLE001
                log.exception("the daily alert digest failed; trying again next round")
        return queued

    def _evaluate_one(self, key: str, title: str, condition) -> int | None:
        now = self.clock()
        with self.db.session() as session:
            row = state_store.state_row(session, key)
            version, current = row.version, state_store.state_of(row)
            finding = condition(Context(session, now, self.settings, self.mappings), current.covered_until)
            decision = decide(current, finding, now, self.settings, title)
            if decision is None:
                return None
            if not state_store.compare_and_set(session, key, version, decision.state):
                session.rollback()  # another worker recorded this transition first
                return None
            if decision.message is None:
                return None
            message = outbox.add_message(session, key, decision.message.kind, decision.message.subject,
                                         decision.message.text, self.channels)
            log.info("alert %s (%s): %s", key, decision.message.kind, decision.message.subject)
            return message.id

    def _digest(self) -> list[int]:
        now = self.clock()
        due_at = now.replace(hour=self.settings.digest_hour, minute=0, second=0, microsecond=0)
        if now < due_at:
            return []
        with self.db.session() as session:
            row = state_store.state_row(session, DIGEST_KEY)
            if row.covered_until is not None and row.covered_until >= due_at:
                return []
            state = State(covered_until=now, last_sent_at=now)
            if not state_store.compare_and_set(session, DIGEST_KEY, row.version, state):
                session.rollback()
                return []
            subject, text = _digest_text(session, now, self.settings)
            return [outbox.add_message(session, DIGEST_KEY, "digest", subject, text, self.channels).id]

    def prune(self) -> None:
        now = self.clock()
        with self.db.session() as session:
            outbox.prune(session, now)
            state_store.prune_refusals(session, now - timedelta(days=2))

    # -- sending ---------------------------------------------------------------------------------
    def send_due(self) -> int:
        """Send what the outbox holds for this process's channels; returns how many went out."""
        sent = 0
        with self.db.session() as session:
            ids = outbox.due_ids(session, self.clock())
        for delivery_id in ids:
            with self.db.session() as session:
                if not outbox.claim(session, delivery_id, self.clock()):
                    continue
            with self.db.session() as session:
                delivery = outbox.delivery(session, delivery_id)
                channel_name, attempts = delivery.channel, delivery.attempts
                subject, text = delivery.message.subject, delivery.message.text
            channel = self.channels.get(channel_name)
            try:
                if channel is None:
                    raise channel_mod.ChannelError(f"the {channel_name} channel is not configured in this process")
                channel.send(subject, text)
            except Exception as exc:  # noqa: BLE001 - ChannelError, or a bug: retried either way
                error = str(exc) if isinstance(exc, channel_mod.ChannelError) else f"{type(exc).__name__}"
                with self.db.session() as session:
                    status = outbox.mark_failed(session, delivery_id, attempts, error)
                log.warning("alert %s via %s failed (attempt %d%s): %s", delivery_id, channel_name, attempts,
                            ", giving up" if status == DeliveryStatus.FAILED else ", will retry", error)
                continue
            with self.db.session() as session:
                outbox.mark_sent(session, delivery_id)
            sent += 1
        return sent

    def queue_test(self) -> int:
        """Put a test message in the outbox (the console's button); the worker sends it."""
        with self.db.session() as session:
            return outbox.add_message(session, "test", "test", TEST_SUBJECT, _test_text(self.settings),
                                      self.channels).id

    def send_test_now(self) -> list[tuple[str, str | None]]:
        """Send a test message on every channel at once (`bridge alerts test`): [(description, error)]."""
        results = []
        for channel in self.channels.values():
            try:
                channel.send(TEST_SUBJECT, _test_text(self.settings))
                results.append((channel.describe(), None))
            except channel_mod.ChannelError as exc:
                results.append((channel.describe(), str(exc)))
        return results

    def findings(self) -> dict:
        """What each condition finds right now, without recording anything (`bridge alerts status`)."""
        now = self.clock()
        found = {}
        with self.db.session() as session:
            for key, (_title, condition) in self.conditions.items():
                row = state_store.find(session, key)
                found[key] = condition(Context(session, now, self.settings, self.mappings),
                                       row.covered_until if row else None)
        return found


def _digest_text(session, now: datetime, settings) -> tuple[str, str]:
    counts = store.count_by_status(session, now - timedelta(days=1))
    dead = overview.dead_waiting(session)
    active = state_store.open_summaries(session)
    total = sum(counts.values())
    lines = [f"Received in the last 24 hours: {total}"
             + (" (" + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + ")" if counts else "")]
    lines.append(f"Dead events waiting for a replay: {dead}")
    lines.append("Open alerts: " + ("; ".join(filter(None, active)) if active else "none"))
    subject = f"Daily digest: {total} events, {dead} dead waiting"
    return subject, "\n".join([subject] + [f"• {line}" for line in lines]) + f"\nSee {settings.link('/admin/')}"


def _test_text(settings) -> str:
    return (f"{TEST_SUBJECT}.\nIf you can read this, alerts reach you here. Sent at "
            f"{utcnow().strftime('%Y-%m-%d %H:%M UTC')}.\nSee {settings.link('/admin/alerts')}")


class AlertThread(threading.Thread):
    """Started by `bridge worker`: evaluates every ALERT_CHECK_INTERVAL and sends the outbox
    more often (so the console's test button answers within seconds)."""

    def __init__(self, alerts: Alerts):
        super().__init__(name="bridge-alerts", daemon=True)
        self.alerts = alerts
        self.stopped = threading.Event()
        self.send_every = min(5.0, alerts.settings.check_interval)

    def run(self) -> None:
        next_check = next_prune = time.monotonic()
        while not self.stopped.is_set():
            now = time.monotonic()
            if now >= next_check:
                self._quietly(self.alerts.evaluate, "evaluate")
                next_check = now + self.alerts.settings.check_interval
            if now >= next_prune:
                self._quietly(self.alerts.prune, "prune")
                next_prune = now + 3600
            self._quietly(self.alerts.send_due, "send")
            self.stopped.wait(max(0.05, min(self.send_every, next_check - time.monotonic())))

    def _quietly(self, step, name: str) -> None:
        try:
            step()
        except Exception:  # noqa: BLE001 - a database blip must not end the thread
            log.exception("alerts: %s failed; trying again shortly", name)

    def stop(self) -> None:
        self.stopped.set()


def start_alert_thread(runtime) -> AlertThread | None:
    """The worker's one hook into alerts. None when ALERTS_ENABLED=false."""
    settings = runtime.settings.alerts
    if not settings.enabled:
        return None
    thread = AlertThread(Alerts(runtime.db, settings, mappings=runtime.mappings))
    if not thread.alerts.channels:
        log.info("alerts: no channel configured (ALERT_SLACK_WEBHOOK_URL, ALERT_EMAIL_TO); "
                 "conditions are still tracked on the console's Alerts page")
    thread.start()
    return thread
