"""When to speak: the timing rules that keep alerts few (no database, no clock of its own).

For one condition, given what the team was last told (`State`) and what holds now
(`Finding`), `decide` returns the state to record and the message to send, if any.
The rules (Alertmanager's, which on-call people already know):

- a condition that starts is reported after `group_wait`, so that what follows it
  (the other events dying in the same outage) is in the same message;
- at most one message per condition every `group_interval` (the rate limit); event
  conditions report what happened since the last message in the next one;
- while a level condition holds, a reminder every `repeat_interval` (event conditions
  report new items instead);
- when it stops holding, one "cleared" message, only if something was said about it.
  An episode that ends before anyone was told ends silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.alerts.grouping import duration


@dataclass
class State:
    active: bool = False
    notified: bool = False
    started_at: datetime | None = None
    last_sent_at: datetime | None = None
    covered_until: datetime | None = None
    episode_count: int = 0
    summary: str | None = None


@dataclass
class Message:
    kind: str  # firing | update | reminder | cleared
    subject: str
    text: str


@dataclass
class Decision:
    state: State
    message: Message | None = None


def decide(state: State, finding, now: datetime, settings, title: str) -> Decision | None:
    """The new state and message for one condition, or None when nothing changes."""
    new = State(**vars(state))
    gap_ok = state.last_sent_at is None or (now - state.last_sent_at).total_seconds() >= settings.group_interval
    if finding.active:
        if not new.active:
            new.active, new.notified, new.started_at, new.episode_count = True, False, now, 0
        if not new.notified:
            waited = (now - new.started_at).total_seconds() >= settings.group_wait
            if waited and gap_ok and finding.headline:
                return Decision(_reported(new, finding, now), _message("firing", finding.headline, finding, settings))
        elif finding.new_count and gap_ok and finding.headline:
            return Decision(_reported(new, finding, now), _message("update", finding.headline, finding, settings))
        elif finding.remind and (now - state.last_sent_at).total_seconds() >= settings.repeat_interval:
            headline = f"Still: {finding.headline or new.summary}"
            new.last_sent_at = now
            return Decision(new, _message("reminder", headline, finding, settings))
        return Decision(new) if new != state else None
    if not state.active:
        return None
    if not state.notified:
        new.active = False
        return Decision(new)
    if not gap_ok:
        return None  # say "cleared" once the rate limit allows; if it comes back meanwhile, it never cleared
    lasted = duration((now - state.started_at).total_seconds()) if state.started_at else "a while"
    text = (f"{finding.cleared}\n"
            f"It began {lasted} ago" + (f"; {state.episode_count} reported in all." if state.episode_count else "."))
    new.active, new.notified, new.last_sent_at = False, False, now
    return Decision(new, Message("cleared", f"Cleared: {title}", _with_link(text, finding, settings)))


def _reported(new: State, finding, now: datetime) -> State:
    new.notified, new.last_sent_at, new.summary = True, now, finding.headline
    if finding.latest is not None:
        new.covered_until = finding.latest
    new.episode_count += finding.new_count
    return new


def _message(kind: str, headline: str, finding, settings) -> Message:
    body = "\n".join([headline] + [f"• {line}" for line in finding.lines])
    return Message(kind, headline, _with_link(body, finding, settings))


def _with_link(text: str, finding, settings) -> str:
    return f"{text}\nSee {settings.link(finding.link)}"
