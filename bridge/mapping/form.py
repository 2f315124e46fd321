"""The console's form for common settings, read from and written into the mapping's YAML.

The form covers what admins change most: the negative rule (rating threshold,
sentiments, NPS categories, keywords) and the conversation's priority, tags, team and
queue, all in the global ``tickets`` section. Writing goes through ruamel's round-trip
mode, so every comment, key order and the template blocks stay exactly as they were;
only the values the form changed are rewritten.

Failure policy: :func:`apply_settings` raises :class:`FormError` (naming the field) for
a value that is not even the right kind (a rating that is not a whole number); whether
the result is a *valid mapping* is the loader's job, which reports it with line and
column like any other edit. A text that is not YAML, or has no ``tickets`` mapping,
raises :class:`FormError` saying to fix it in the editor first.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bridge.okendo.nps import NPS_CATEGORIES

SENTIMENTS = ("positive", "negative", "neutral", "mixed")
DEFAULT_TICKET_EVENTS = ("review.create", "review.update", "review.delete", "survey_response.create")


class FormError(ValueError):
    """A form value that cannot be written, or a text the form cannot edit."""


@dataclass
class CommonSettings:
    rating_at_most: int | None = None
    sentiments: list[str] = field(default_factory=list)
    nps_categories: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    priority: int | None = None
    tags: list[str] = field(default_factory=list)
    team_ids: list[str] = field(default_factory=list)
    queue_id: str | None = None
    # Timeline cards (a route with action: timeline): True adds the standard route when
    # there is none, False removes every timeline route, None leaves the routes alone.
    timeline: bool | None = None


TIMELINE_ROUTE = {"name": "timeline", "action": "timeline", "events": ["review.*", "survey_response.*"]}


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap an admin's long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _load(text: str) -> CommentedMap:
    try:
        root = _yaml().load(text)
    except Exception as error:  # noqa: BLE001 - any YAML failure means "fix it in the editor"
        raise FormError(f"the draft is not valid YAML, fix it in the editor first ({type(error).__name__})") \
            from None
    if not isinstance(root, CommentedMap):
        raise FormError("the draft's top level is not a mapping; fix it in the editor first")
    return root


def read_settings(text: str) -> CommonSettings:
    """The form's values as the text has them (missing keys -> empty fields)."""
    root = _load(text)
    tickets = root.get("tickets") if isinstance(root.get("tickets"), dict) else {}
    negative = tickets.get("negative") if isinstance(tickets.get("negative"), dict) else {}
    conversation = tickets.get("conversation") if isinstance(tickets.get("conversation"), dict) else {}

    def strings(value) -> list[str]:
        return [str(item) for item in value] if isinstance(value, list) else []

    routes = root.get("routes") if isinstance(root.get("routes"), list) else []
    rating = negative.get("rating_at_most")
    priority = conversation.get("priority")
    queue = conversation.get("queue_id")
    return CommonSettings(
        rating_at_most=rating if isinstance(rating, int) and not isinstance(rating, bool) else None,
        sentiments=strings(negative.get("sentiments")),
        nps_categories=strings(negative.get("nps_categories")),
        keywords=strings(negative.get("keywords")),
        priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
        tags=strings(conversation.get("tags")),
        team_ids=strings(conversation.get("team_ids")),
        queue_id=str(queue) if queue not in (None, "") else None,
        timeline=any(isinstance(r, dict) and r.get("action") == "timeline" for r in routes),
    )


def settings_from_form(form) -> CommonSettings:
    """Parse the submitted form (a MultiDict); FormError names the bad field."""
    def whole(name: str, label: str) -> int | None:
        raw = (form.get(name) or "").strip()
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            raise FormError(f"{label}: {raw!r} is not a whole number") from None

    def words(name: str) -> list[str]:
        # one per line or separated by commas; keywords may hold spaces ("not happy")
        return [part.strip() for part in re.split(r"[\n,]", form.get(name) or "") if part.strip()]

    return CommonSettings(
        rating_at_most=whole("rating_at_most", "Rating at most"),
        sentiments=[value for value in form.getlist("sentiments") if value in SENTIMENTS],
        nps_categories=[value for value in form.getlist("nps_categories") if value in NPS_CATEGORIES],
        keywords=words("keywords"),
        priority=whole("priority", "Priority"),
        tags=words("tags"),
        team_ids=words("team_ids"),
        queue_id=(form.get("queue_id") or "").strip() or None,
        # An unticked box is simply absent: the hidden field says the box was on the form.
        timeline=(form.get("timeline") == "on") if form.get("timeline_shown") else None,
    )


def apply_settings(text: str, settings: CommonSettings) -> str:
    """``text`` with the form's values written into ``tickets``; comments kept."""
    root = _load(text)
    tickets = _section(root, "tickets")
    if "events" not in tickets:  # a mapping that had no tickets: the shipped file's events
        tickets.insert(0, "events", _flow(list(DEFAULT_TICKET_EVENTS)))
    negative = _section(tickets, "negative")
    conversation = _section(tickets, "conversation")
    _set(negative, "rating_at_most", settings.rating_at_most, remove_when_none=True)
    _set_list(negative, "sentiments", settings.sentiments)
    _set_list(negative, "nps_categories", settings.nps_categories)
    _set_list(negative, "keywords", settings.keywords)
    if settings.priority is not None:
        _set(conversation, "priority", settings.priority)
    _set_list(conversation, "tags", settings.tags)
    _set_list(conversation, "team_ids", settings.team_ids)
    _set(conversation, "queue_id", settings.queue_id)
    if settings.timeline is not None:
        _set_timeline(root, settings.timeline)
    out = io.StringIO()
    _yaml().dump(root, out)
    return out.getvalue()


def _section(parent: CommentedMap, key: str) -> CommentedMap:
    value = parent.get(key)
    if value is None or value is True:
        value = CommentedMap()
        parent[key] = value
    if not isinstance(value, CommentedMap):
        raise FormError(f"`{key}` is not a section of keys in the draft; fix it in the editor first")
    return value


def _set(section: CommentedMap, key: str, value, remove_when_none: bool = False) -> None:
    if value is None and remove_when_none:
        section.pop(key, None)
    elif section.get(key) != value or key not in section:
        section[key] = value


def _set_list(section: CommentedMap, key: str, values: list[str]) -> None:
    current = section.get(key)
    if isinstance(current, list) and [str(item) for item in current] == values:
        return  # unchanged: keep its style and comments
    section[key] = _flow(values)


def _flow(values: list[str]) -> CommentedSeq:
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()  # [a, b] on one line, as the shipped file writes lists
    return seq


def _set_timeline(root: CommentedMap, on: bool) -> None:
    routes = root.get("routes")
    if routes is None:
        routes = root["routes"] = CommentedSeq()
    if not isinstance(routes, list):
        raise FormError("`routes` is not a list in the draft; fix it in the editor first")
    present = [i for i, r in enumerate(routes) if isinstance(r, dict) and r.get("action") == "timeline"]
    if on and not present:
        route = CommentedMap(TIMELINE_ROUTE)
        route["events"] = _flow(list(TIMELINE_ROUTE["events"]))
        routes.append(route)
    elif not on:
        for index in reversed(present):
            del routes[index]
