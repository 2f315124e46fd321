"""The mapping as plain frozen dataclasses, and how they are built from the loaded file.

Defaults and per-store overrides are resolved here, once, at load time, so the planner
only looks things up. Merge rule for ``stores.<id>.tickets``: mappings merge key by
key (recursively), anything else (lists, numbers, text, null) replaces the global
value. So ``negative: {rating_at_most: 3}`` keeps the global sentiments, and ``tags:
[vip]`` replaces the global tags.

In the *global* ``tickets.negative``, a clause that is left out is off; with no clause
at all nothing could ever be negative, which is reported as an error.

Failure policy: :func:`build_mapping` raises :class:`MappingError` only for problems
that need the merged view (a store override that leaves the rule empty, a store with
tickets but no global section to inherit events from). Unset ``${NAME}`` values become
``None`` here and are listed in ``Mapping.warnings`` and in the route's or target's
``missing_env``: they are reported, never an error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping as TypingMapping

from bridge.mapping.envsubst import MissingEnv
from bridge.mapping.errors import MappingError, Problem, format_path
from bridge.mapping.events import matches_any, resource_types_of
from bridge.mapping.templates import DEFAULT_NOTE, DEFAULT_SUBJECT
from bridge.okendo.signing_secrets import decode_secret, split_secrets

DEFAULT_PRIORITY = 3  # Kustomer's middle priority when the file names none

_NEGATIVE_OFF = {
    "rating_at_most": None, "sentiments": [], "nps_categories": [],
    "profanity": False, "keywords": [],
}
_CONVERSATION_DEFAULTS = {
    "subject": DEFAULT_SUBJECT, "note": DEFAULT_NOTE, "priority": DEFAULT_PRIORITY,
    "status": "open", "tags": [], "team_ids": [], "queue_id": None, "custom": {},
}
_TICKETS_DEFAULTS = {"enabled": True, "negative": _NEGATIVE_OFF,
                     "conversation": _CONVERSATION_DEFAULTS}


@dataclass(frozen=True)
class Route:
    """One ``routes`` entry: which events go to which hook, in which body shape."""

    name: str
    events: tuple[str, ...]
    url: str | None
    body: str | None  # None for a timeline route
    when: str | None = None
    extra: dict = field(default_factory=dict)
    rename: dict = field(default_factory=dict)
    stores: tuple[str, ...] | None = None  # None: every store
    missing_env: tuple[str, ...] = ()  # why url is None
    action: str = "hook"  # or "timeline": cards on the shopper's Kustomer timeline

    @property
    def key(self) -> str:
        """The action key the worker records; renaming a route makes replays post again."""
        return f"{self.action}:{self.name}"

    @property
    def is_hook(self) -> bool:
        return self.action == "hook"

    def listens_to(self, resource_type: str, topic: str) -> bool:
        return matches_any(self.events, resource_type, topic)

    @property
    def resource_types(self) -> set[str]:
        return resource_types_of(self.events)


@dataclass(frozen=True)
class TicketRule:
    """When feedback is negative: when ANY active clause holds."""

    rating_at_most: int | None = None
    sentiments: tuple[str, ...] = ()
    nps_categories: tuple[str, ...] = ()
    profanity: bool = False
    keywords: tuple[str, ...] = ()

    @property
    def has_clauses(self) -> bool:
        return bool(self.rating_at_most is not None or self.sentiments or self.nps_categories
                    or self.profanity or self.keywords)


@dataclass(frozen=True)
class ConversationSettings:
    """The Kustomer conversation to open; ``subject``, ``note`` and string ``custom``
    values are templates."""

    # Templates are long: left out of repr so a logged settings object stays readable.
    subject: str = field(default=DEFAULT_SUBJECT, repr=False)
    note: str = field(default=DEFAULT_NOTE, repr=False)
    priority: int = DEFAULT_PRIORITY
    status: str = "open"
    tags: tuple[str, ...] = ()
    team_ids: tuple[str, ...] = ()
    queue_id: str | None = None
    custom: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TicketSettings:
    """The tickets section as it applies to one store (overrides merged)."""

    enabled: bool = False
    events: tuple[str, ...] = ()
    negative: TicketRule = field(default_factory=TicketRule)
    conversation: ConversationSettings = field(default_factory=ConversationSettings)
    origin: str = "tickets"  # where in the file these came from, for messages

    def wants(self, resource_type: str, topic: str) -> bool:
        return self.enabled and matches_any(self.events, resource_type, topic)


@dataclass(frozen=True)
class KustomerTarget:
    """Which Kustomer org a store's hooks and tickets go to. The key is left out of
    ``repr`` so it never lands in a log line."""

    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    missing_env: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreSettings:
    """A ``stores.<subscriberId>`` entry, resolved."""

    subscriber_id: str
    name: str | None
    kustomer: KustomerTarget
    tickets: TicketSettings
    # Its own Okendo secrets; None: it names none (the shared ones sign for it).
    webhook_secrets: tuple[str, ...] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Mapping:
    """A loaded, checked mapping file. Treat it as read-only; it is shared by threads."""

    source: str
    version: int
    routes: tuple[Route, ...]
    tickets: TicketSettings  # the global section (enabled=False when there is none)
    stores: dict  # subscriberId -> StoreSettings
    kustomer: KustomerTarget  # the default org, from KUSTOMER_API_KEY / KUSTOMER_API_BASE
    warnings: tuple[Problem, ...] = ()

    def store(self, subscriber_id: str | None) -> StoreSettings | None:
        return self.stores.get(subscriber_id) if subscriber_id else None

    def tickets_for(self, subscriber_id: str | None) -> TicketSettings:
        store = self.store(subscriber_id)
        return store.tickets if store else self.tickets

    def kustomer_for(self, subscriber_id: str | None) -> KustomerTarget:
        store = self.store(subscriber_id)
        return store.kustomer if store else self.kustomer

    def kustomer_orgs(self) -> list[tuple[str | None, KustomerTarget]]:
        """[(store id, or None for the default, target)], each org (key and base) once."""
        targets = [(None, self.kustomer)] + [(sid, store.kustomer) for sid, store in self.stores.items()]
        seen, orgs = set(), []
        for store_id, target in targets:
            if (target.api_key, target.api_base) not in seen:
                seen.add((target.api_key, target.api_base))
                orgs.append((store_id, target))
        return orgs

    def route(self, name: str) -> Route | None:
        return next((route for route in self.routes if route.name == name), None)


# --------------------------------------------------------------------------- building


def deep_merge(base: Any, override: Any) -> Any:
    """``override`` over ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _env_value(value: Any) -> tuple[Any, tuple[str, ...]]:
    if isinstance(value, MissingEnv):
        return None, value.names
    return value, ()


def build_mapping(loaded: dict, document, env: TypingMapping[str, str]) -> Mapping:
    """The :class:`Mapping` of a file that passed the schema."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    source = document.source

    routes = []
    for index, raw in enumerate(loaded.get("routes") or ()):
        url, missing = _env_value(raw.get("url"))
        if missing:
            warnings.append(document.problem(("routes", index, "url"), (
                f"{MissingEnv(missing).describe()}; events for route {raw['name']!r}"
                " will be marked dead with that message until it is set")))
        routes.append(Route(
            name=raw["name"], events=tuple(raw["events"]), url=url, body=raw.get("body"),
            action=raw.get("action", "hook"),
            when=raw.get("when"), extra=dict(raw.get("extra") or {}),
            rename=dict(raw.get("rename") or {}),
            stores=tuple(raw["stores"]) if raw.get("stores") is not None else None,
            missing_env=missing,
        ))

    global_raw = loaded.get("tickets")
    merged_global = deep_merge(_TICKETS_DEFAULTS, global_raw) if global_raw else None
    if merged_global is not None:
        problems += _rule_problems(merged_global, ("tickets",), document)
        warnings += _queue_warnings(merged_global, ("tickets",), global_raw, document)
    global_tickets = (_ticket_settings(merged_global, "tickets") if merged_global
                      else TicketSettings(enabled=False))

    default_target = default_kustomer_target(env)
    stores = {}
    for subscriber_id, raw in (loaded.get("stores") or {}).items():
        path = ("stores", subscriber_id)
        tickets = global_tickets
        override = raw.get("tickets")
        if override is not None:
            if merged_global is None:
                missing = [key for key in ("events", "negative") if key not in override]
                for required in missing:
                    problems.append(document.problem(path + ("tickets",), (
                        f"{required!r} is required: there is no global tickets"
                        " section for this store to inherit it from")))
                merged = deep_merge(_TICKETS_DEFAULTS, override)
            else:
                missing = []
                merged = deep_merge(merged_global, override)
            if not missing:
                problems += _rule_problems(merged, path + ("tickets",), document)
            warnings += _queue_warnings(merged, path + ("tickets",), override, document)
            tickets = _ticket_settings(merged, format_path(path + ("tickets",)))
        target = default_target
        if raw.get("kustomer") is not None:
            target, target_warnings = _store_target(raw["kustomer"], default_target,
                                                    path + ("kustomer",), document)
            warnings += target_warnings
        secrets = None
        if "secret" in raw:
            secrets, secret_problems, secret_warnings = _store_secrets(raw["secret"], path + ("secret",), document)
            problems += secret_problems
            warnings += secret_warnings
        stores[subscriber_id] = StoreSettings(subscriber_id=subscriber_id, name=raw.get("name"),
                                              kustomer=target, tickets=tickets, webhook_secrets=secrets)

    if problems:
        raise MappingError(problems)
    if default_target.missing_env and (routes or global_tickets.enabled):
        # Not an error: a developer previews and checks files without Kustomer access.
        warnings.append(Problem(source, 0, 0, (
            f"{MissingEnv(default_target.missing_env).describe()} in the environment"
            " (stores without their own kustomer settings need the key for hook posts and"
            " tickets, and the base URL for tickets)")))
    # In file order; the positionless ones (about the environment) last.
    warnings.sort(key=lambda problem: (problem.line <= 0, problem.line, problem.col))
    return Mapping(source=source, version=loaded["version"], routes=tuple(routes),
                   tickets=global_tickets, stores=stores, kustomer=default_target,
                   warnings=tuple(warnings))


def _rule_problems(merged: dict, path: tuple, document) -> list[Problem]:
    rule = merged["negative"]
    if merged.get("enabled", True) and not _rule(rule).has_clauses:
        return [document.problem(path + ("negative",), (
            "names no clause, so nothing would ever count as negative; set rating_at_most,"
            " sentiments, nps_categories, profanity or keywords (or enabled: false)"))]
    return []


def _queue_warnings(merged: dict, path: tuple, raw: dict, document) -> list[Problem]:
    queue_id = merged["conversation"].get("queue_id")
    written_here = "queue_id" in ((raw or {}).get("conversation") or {})
    if isinstance(queue_id, MissingEnv) and written_here:
        return [document.problem(path + ("conversation", "queue_id"),
                                 f"{queue_id.describe()}; conversations get no queue")]
    return []


def _rule(raw: dict) -> TicketRule:
    return TicketRule(
        rating_at_most=raw.get("rating_at_most"),
        sentiments=tuple(raw.get("sentiments") or ()),
        nps_categories=tuple(raw.get("nps_categories") or ()),
        profanity=bool(raw.get("profanity")),
        keywords=tuple(raw.get("keywords") or ()),
    )


def _ticket_settings(merged: dict, origin: str) -> TicketSettings:
    conversation = merged["conversation"]
    queue_id, _ = _env_value(conversation.get("queue_id"))
    return TicketSettings(
        enabled=bool(merged.get("enabled", True)),
        events=tuple(merged.get("events") or ()),
        negative=_rule(merged["negative"]),
        conversation=ConversationSettings(
            subject=conversation["subject"],
            note=conversation["note"],
            priority=conversation["priority"],
            status=conversation["status"],
            tags=tuple(conversation["tags"] or ()),
            team_ids=tuple(conversation["team_ids"] or ()),
            queue_id=queue_id,
            # null removes an attribute a broader section set
            custom={name: value for name, value in (conversation["custom"] or {}).items()
                    if value is not None},
        ),
        origin=origin,
    )


def default_kustomer_target(env: TypingMapping[str, str]) -> KustomerTarget:
    """The default org's credentials. `env` is the process's live settings (the environment,
    then what the console stored), so this is the one place the key and the base URL are
    read: the mapping's default target, the console's links and its setup check use it."""
    api_key = env.get("KUSTOMER_API_KEY") or None
    api_base = (env.get("KUSTOMER_API_BASE") or "").rstrip("/") or None
    missing = tuple(name for name, value in
                    (("KUSTOMER_API_KEY", api_key), ("KUSTOMER_API_BASE", api_base)) if not value)
    return KustomerTarget(api_key=api_key, api_base=api_base, missing_env=missing)


def _store_target(raw: dict, default: KustomerTarget, path: tuple, document
                  ) -> tuple[KustomerTarget, list[Problem]]:
    """A store's own Kustomer org. A field the store leaves out falls back to the
    default; a field it names but whose ${NAME} is unset stays None. Falling back then
    would send this store's data to another company's Kustomer."""
    warnings = []
    values: dict[str, Any] = {}
    missing: list[str] = []
    for name, fallback in (("api_key", default.api_key), ("api_base", default.api_base)):
        if name not in raw:
            values[name] = fallback
            if fallback is None:
                missing += [env for env in default.missing_env
                            if env == f"KUSTOMER_{name.upper()}"]
            continue
        value, unset = _env_value(raw[name])
        values[name] = value.rstrip("/") if name == "api_base" and value else value
        if unset:
            missing += unset
            warnings.append(document.problem(path + (name,), (
                f"{MissingEnv(unset).describe()}; this store's hooks and tickets will be"
                " marked dead with that message until it is set")))
    return KustomerTarget(api_key=values["api_key"], api_base=values["api_base"],
                          missing_env=tuple(missing)), warnings



def _store_secrets(raw, path: tuple, document) -> tuple[tuple[str, ...], list[Problem], list[Problem]]:
    """A store's ``secret``: one or several (a rotation) ``whsec_`` values. Unset stays an
    empty tuple, so the store accepts nothing (closed) rather than the shared secret."""
    value, unset = _env_value(raw)
    if unset:
        return (), [], [document.problem(path, (
            f"{MissingEnv(unset).describe()}; events of this store are refused (401) until it is set"))]
    secrets = split_secrets(value)
    problems = []
    for secret in secrets:
        try:
            decode_secret(secret)
        except ValueError as error:
            problems.append(document.problem(path, f"{error} (expected whsec_ and base64, as Okendo shows it)"))
    return secrets, problems, []
