"""What raises an alert. Each condition reads the database and returns a `Finding`.

Two kinds:
- *event* conditions (dead events, invalid events): active while such events happened
  within `ALERT_WINDOW`; a message reports the ones not reported yet (`since`), grouped
  by reason;
- *level* conditions (Kustomer refusing the key, a backlog, a burst of refused
  signatures, a mapping that does not load): active while the level holds.

Every finding carries the console path that shows it. A condition only reads; when to
speak is `policy.decide`'s business. Failure policy: a condition that raises is logged
by the evaluator and skipped for that round; the others still run.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.alerts.grouping import attempt_reason, duration, error_reason, plural, summarize
from bridge.alerts.settings import AlertSettings
from bridge.alerts.tables import SignatureRefusal
from bridge.events.models import Attempt, Event, EventStatus
from bridge.logs import mask
from bridge.mapping import MappingError, MappingStore
from bridge.mapping.tables import MappingAudit

AUTH_STATUSES = (401, 403)
ROW_LIMIT = 2000  # events read per condition per round; counts beyond it are approximate


@dataclass
class Finding:
    active: bool
    headline: str = ""                 # the message's first line and the e-mail subject
    lines: list[str] = field(default_factory=list)
    link: str = "/admin/"              # console path that shows it
    cleared: str = ""                  # what to say when it has cleared
    new_count: int = 0                 # event conditions: items not reported yet
    latest: datetime | None = None     # event conditions: newest item reported by this finding
    remind: bool = True                # "Still: ..." every ALERT_REPEAT_INTERVAL while active


@dataclass
class Context:
    session: Session
    now: datetime
    settings: AlertSettings
    mappings: MappingStore | None = None  # the worker's, when there is one

    @property
    def window_start(self) -> datetime:
        return self.now - timedelta(seconds=self.settings.window)


# -- event conditions -----------------------------------------------------------------------------
def dead_events(ctx: Context, since: datetime | None) -> Finding:
    """Events that went dead, except those killed by a 401/403 (`kustomer_auth` reports them).

    Active while events died within the window, and after that until an event is delivered
    again: during a long outage, events die in waves as their schedules run out, and a
    "cleared" between two waves would be wrong."""
    start = _since(ctx, since)
    items = _deaths(ctx, min(start, ctx.window_start))
    latest = items[-1][0] if items else _latest_death(ctx)
    recovered = latest is None or ctx.session.execute(
        # received_at bounds the scan to recent events (the status/received_at index); a retry
        # delivered after the death was received at most a retry schedule (about a day) before.
        select(Event.id).where(Event.status == EventStatus.DELIVERED, Event.received_at > latest - timedelta(days=2),
                               Event.completed_at > latest).limit(1)
    ).first() is not None
    waiting = ctx.session.execute(select(func.count()).select_from(Event)
                                  .where(Event.status == EventStatus.DEAD)).scalar_one()
    finding = _event_finding(ctx, items, start, noun=("event died", "events died"))
    finding.active = finding.active or not recovered
    finding.link = "/admin/events?status=dead"
    finding.lines.append(f"{plural(waiting, 'dead event')} wait for a replay in the console "
                         "(or `bridge replay --status dead --since 1d`) once the cause is fixed.")
    finding.cleared = (f"Events are delivered again and none has died in the last {duration(ctx.settings.window)}. "
                       f"{plural(waiting, 'dead event')} still wait for a replay.")
    return finding


def _deaths(ctx: Context, after: datetime, newest_first: bool = False, limit: int = ROW_LIMIT):
    """(completed_at, reason) of dead events after `after`, oldest first, without 401/403 deaths."""
    order = Event.completed_at.desc() if newest_first else Event.completed_at
    rows = ctx.session.execute(
        select(Event.id, Event.completed_at, Event.last_error)
        .where(Event.status == EventStatus.DEAD, Event.completed_at > after).order_by(order).limit(limit)
    ).all()
    failed = _last_failed_attempts(ctx.session, [r.id for r in rows])
    items = []
    for row in rows:
        attempt = failed.get(row.id)
        if attempt is not None and attempt.status_code in AUTH_STATUSES:
            continue
        reason = (attempt_reason(attempt.action_key, attempt.status_code, attempt.target, attempt.error)
                  if attempt is not None else error_reason(row.last_error))
        items.append((row.completed_at, reason))
    return items


def _latest_death(ctx: Context) -> datetime | None:
    newest = _deaths(ctx, ctx.now - timedelta(days=1), newest_first=True, limit=50)
    return newest[0][0] if newest else None


def invalid_events(ctx: Context, since: datetime | None) -> Finding:
    """Genuine webhooks the schema refused: usually a change on Okendo's side."""
    start = _since(ctx, since)
    rows = ctx.session.execute(
        select(Event.completed_at, Event.received_at, Event.resource_type, Event.topic, Event.errors)
        .where(Event.status == EventStatus.INVALID,
               Event.received_at > min(start, ctx.window_start) - timedelta(days=1),
               func.coalesce(Event.completed_at, Event.received_at) > min(start, ctx.window_start))
        .order_by(Event.id).limit(ROW_LIMIT)
    ).all()
    items = [(r.completed_at or r.received_at, _invalid_reason(r)) for r in rows]
    finding = _event_finding(ctx, items, start, noun=("new event was refused by the schema",
                                                      "new events were refused by the schema"))
    finding.link = "/admin/events?status=invalid"
    finding.lines.append("They are stored: fix the mapping or schema, then replay them from the console.")
    finding.cleared = f"No new invalid event in the last {duration(ctx.settings.window)}."
    return finding


def _event_finding(ctx: Context, items: list[tuple[datetime, str]], start: datetime, noun) -> Finding:
    recent = [t for t, _ in items if t >= ctx.window_start]
    new = [(t, reason) for t, reason in items if t > start]
    finding = Finding(active=bool(recent), new_count=len(new), latest=max((t for t, _ in new), default=None),
                      remind=False)  # new items are reported as updates; no "still" reminders
    if new:
        seconds = (ctx.now - min(t for t, _ in new)).total_seconds()
        span = "minute" if seconds <= 60 else duration(seconds)
        finding.headline = f"{len(new)} {noun[0] if len(new) == 1 else noun[1]} in the last {span}"
        finding.lines = summarize(reason for _, reason in new)
    return finding


def _since(ctx: Context, since: datetime | None) -> datetime:
    """Report from `since` (what was reported already), but never more than a day back."""
    floor = ctx.now - timedelta(days=1)
    return max(since, floor) if since else ctx.window_start


def _last_failed_attempts(session, event_ids: list[int]) -> dict:
    """Each event's last Kustomer call that did not succeed."""
    failed = (Attempt.status_code.is_(None)) | (Attempt.status_code >= 300)
    found: dict = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start:start + 500]
        for attempt in session.execute(
                select(Attempt.id, Attempt.event_id, Attempt.action_key, Attempt.status_code, Attempt.target,
                       Attempt.error, Attempt.started_at)
                .where(Attempt.event_id.in_(chunk), failed).order_by(Attempt.id)):
            found[attempt.event_id] = attempt
    return found


def _invalid_reason(row) -> str:
    name = f"{row.resource_type or '?'}.{row.topic or '?'}"
    path, message = _first_error(row.errors)
    return mask(f"{name}: {path} {message}".strip())[:90]


def _first_error(errors, prefix: str = "") -> tuple[str, str]:
    if isinstance(errors, dict):
        for key, value in errors.items():
            return _first_error(value, f"{prefix}.{key}" if prefix else str(key))
    if isinstance(errors, list) and errors:
        if all(isinstance(e, str) for e in errors):
            return prefix, "— " + errors[0]
        return _first_error(errors[0], prefix)
    return prefix, ""


# -- level conditions ------------------------------------------------------------------------------
def kustomer_auth(ctx: Context, since: datetime | None = None) -> Finding:
    """Kustomer answering 401/403, until a later call to the same host succeeds."""
    # A 401/403 makes its event dead at once, so the refused calls are found through the
    # day's dead events (few, indexed) rather than by scanning every attempt.
    refused = ctx.session.execute(
        select(Attempt.id, Attempt.event_id, Attempt.status_code, Attempt.target, Attempt.started_at)
        .join(Event, Event.id == Attempt.event_id)
        .where(Event.status == EventStatus.DEAD, Event.completed_at >= ctx.now - timedelta(days=1),
               Attempt.status_code.in_(AUTH_STATUSES))
        .order_by(Attempt.id.desc()).limit(ROW_LIMIT)
    ).all()
    by_host: dict[str, list] = {}
    for row in refused:
        by_host.setdefault(_origin(row.target), []).append(row)
    failing = {host: rows for host, rows in by_host.items() if not _succeeded_after(ctx.session, host, rows[0].id)}
    finding = Finding(active=bool(failing), link="/admin/events?status=dead")
    if not failing:
        finding.cleared = "Kustomer accepts the API key again: a call succeeded after the refusals."
        return finding
    rows = [row for host_rows in failing.values() for row in host_rows]
    statuses = Counter(row.status_code for row in rows)
    if statuses[401]:
        finding.headline = ("Kustomer refuses the API key (401): KUSTOMER_API_KEY was revoked or is wrong, "
                            "or belongs to another region")
    else:
        finding.headline = "Kustomer refuses requests (403): the API key in KUSTOMER_API_KEY lacks a role"
    first = min(row.started_at for row in rows)
    finding.lines = [f"{plural(len(rows), 'call')} refused since {_clock(first)} "
                     f"({', '.join(f'{n} × {code}' for code, n in sorted(statuses.items()))}) "
                     f"on {', '.join(sorted(failing))}."]
    finding.lines.append(f"{plural(len({row.event_id for row in rows}), 'event')} died because of it. Fix the key (its roles: "
                         "`bridge kustomer check`), then replay them: `bridge replay --status dead --since 1d`.")
    return finding


def _origin(target: str | None) -> str:
    parts = urlsplit(target or "")
    return parts.netloc or "?"


def _succeeded_after(session, host: str, attempt_id: int) -> bool:
    return session.execute(
        select(Attempt.id).where(Attempt.id > attempt_id, Attempt.status_code.between(200, 299),
                                 Attempt.target.like(f"%://{host}/%")).limit(1)
    ).first() is not None


def backlog(ctx: Context, since: datetime | None = None) -> Finding:
    """The oldest unfinished event is older than ALERT_BACKLOG_AGE."""
    oldest = ctx.session.execute(
        select(Event.id, Event.status, Event.received_at, Event.last_error)
        .where(Event.status.in_(EventStatus.UNFINISHED)).order_by(Event.received_at).limit(1)
    ).first()
    age = (ctx.now - oldest.received_at).total_seconds() if oldest else 0.0
    finding = Finding(active=age > ctx.settings.backlog_age, link="/admin/events?status=retrying")
    finding.cleared = ("The backlog is moving again: "
                       + (f"the oldest unfinished event has waited {duration(age)}." if oldest else "nothing waits."))
    if finding.active:
        waiting = ctx.session.execute(select(func.count()).select_from(Event)
                                      .where(Event.status.in_(EventStatus.UNFINISHED))).scalar_one()
        finding.headline = f"Events are not moving: the oldest unfinished event has waited {duration(age)}"
        finding.lines = [f"{plural(waiting, 'event')} wait (pending, processing or retrying).",
                         f"The oldest is event {oldest.id} ({oldest.status})"
                         + (f": {mask(oldest.last_error)[:200]}" if oldest.last_error else "; is a worker running?"),
                         f"It is at {ctx.settings.link(f'/admin/events/{oldest.id}')}"]
    return finding


def signature_refusals(ctx: Context, since: datetime | None = None) -> Finding:
    """A burst of webhooks refused for their signature (counted by the web processes)."""
    rows = ctx.session.execute(select(SignatureRefusal.count, SignatureRefusal.reasons)
                               .where(SignatureRefusal.recorded_at >= ctx.window_start)).all()
    total = sum(r.count for r in rows)
    finding = Finding(active=total >= ctx.settings.signature_refusals, link="/admin/alerts")
    finding.cleared = (f"Webhook signature refusals are back to normal: {total} in the last "
                       f"{duration(ctx.settings.window)}.")
    if finding.active:
        reasons: Counter = Counter()
        for row in rows:
            reasons.update(row.reasons or {})
        finding.headline = (f"{total} webhooks were refused for their signature in the last "
                            f"{duration(ctx.settings.window)}")
        finding.lines = [f"{n} × {mask(reason)}" for reason, n in reasons.most_common(5)]
        finding.lines.append("If the Okendo secret was rotated, set both secrets in OKENDO_WEBHOOK_SECRET "
                             "(new first, comma-separated). Okendo retries refused deliveries for a while.")
    return finding


def mapping(ctx: Context, since: datetime | None = None) -> Finding:
    """The live mapping does not load in this worker, or the mapping console's audit list has a
    refused publish or a version some process could not load within the window."""
    problems: list[str] = []
    headline = ""
    if ctx.mappings is not None:
        try:
            ctx.mappings.current()
            if getattr(ctx.mappings, "last_error", None):
                headline = "The mapping file has errors; the last good mapping is still in use"
                problems = [str(p) for p in ctx.mappings.last_error]
        except MappingError as error:
            headline = "The mapping does not load: events cannot be processed"
            problems = [str(p) for p in error.problems]
        except Exception as error:  # noqa: BLE001 - report it rather than hide it
            headline = "The mapping does not load: events cannot be processed"
            problems = [f"{type(error).__name__}: {error}"]
    audit = refused_publishes(ctx.session, ctx.window_start)
    if audit and not headline:
        headline = f"Mapping problems in the last {duration(ctx.settings.window)}: {plural(len(audit), 'entry', 'entries')} in the audit list"
    finding = Finding(active=bool(headline), headline=headline, link="/admin/mapping")
    finding.lines = [mask(p)[:200] for p in (problems + audit)[:5]]
    finding.cleared = (f"The mapping loads, and no publish was refused nor version failed to load in the last "
                       f"{duration(ctx.settings.window)}.")
    return finding


def refused_publishes(session, since: datetime) -> list[str]:
    """Refused publishes and versions a process could not load, from the mapping console's
    audit list (`mapping_audit`, issue 14), one line each, newest first."""
    rows = session.execute(
        select(MappingAudit).where(MappingAudit.action.in_(("refused", "load_failed")), MappingAudit.at >= since)
        .order_by(MappingAudit.id.desc()).limit(5)
    ).scalars()
    lines = []
    for row in rows:
        what = "publish refused" if row.action == "refused" else "could not load"
        version = f" v{row.version_id}" if row.version_id else ""
        problems = "; ".join(str(p) for p in (row.problems or [])[:2])
        lines.append(f"{what}{version} ({row.actor}): {row.message or problems}"[:200])
    return lines


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M UTC")


# The evaluator runs these, in this order: key (stored in alert_state: do not rename) ->
# (what the "cleared" message calls it, the condition).
CONDITIONS = {
    "kustomer_auth": ("Kustomer refusing the API key", kustomer_auth),
    "dead": ("events dying", dead_events),
    "invalid": ("invalid events", invalid_events),
    "backlog": ("events not moving", backlog),
    "signatures": ("webhook signature refusals", signature_refusals),
    "mapping": ("mapping errors", mapping),
}
