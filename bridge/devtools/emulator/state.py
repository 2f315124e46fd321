"""In-memory state of the Kustomer emulator: records, rate limiters, injected faults.

What it is: a *test double* for the few parts of Kustomer the bridge uses (inbound
hooks, customers, conversations, tags, notes), written from the team's notes on
Kustomer's API (``kustomer.md``). One ``EmulatorState`` is one fake Kustomer org.

What it is not: Kustomer. Nothing is persisted; every record lives in this process's
memory behind one lock, so run it in ONE process (one gunicorn worker with threads, or
werkzeug's threaded server). Two processes would each have their own org. Behaviour
that Kustomer does not document (e.g. the hook response body, the 409 on duplicate
customers, the error ``code`` strings) is a reasonable guess, not a promise.

Every public method takes the lock itself; callers never need to.
"""
from __future__ import annotations

import copy
import itertools
import math
import random
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable

from bridge.kustomer import contract

from .kobjects import KObjectsMixin
from .wire import ApiError, iso

WINDOW_S = 60.0  # Kustomer's budgets are per minute; `rate_window_seconds` shortens it for tests
# The docs say "400 KB" without saying which; the strict reading (400,000 bytes) is the
# contract's, so a bridge that passes here passes Kustomer whichever it means.
HOOK_BODY_LIMIT = contract.HOOK_BODY_LIMIT  # bytes; bigger hook bodies get 413
# From the contract, like the hook limit (the client's truncate_note reads it there too): the
# emulator enforces what Kustomer documents, never a constant of the client it is testing.
NOTE_BODY_MAX = contract.NOTE_BODY_LIMIT  # characters
CUSTOMER_CREATE_LIMIT = 120  # conversations / notes per customer per minute

HOOK_ROLES = ("org.hooks", "org.hook")  # older docs (and Okendo) say org.hook
ALL_ROLES = (
    "org.hooks",
    "org.permission.customer.read",
    "org.permission.customer.create",
    "org.permission.conversation.create",
    "org.permission.conversation.read",
    "org.permission.conversation.update",
    "org.permission.note.create",
    "org.permission.note.read",
    "org.permission.klass.read",
    "org.permission.klass.create",
    "org.permission.metadata.update",
    "org.permission.kobject.read",
    "org.permission.kobject.create",
    "org.permission.kobject.update",
)
CONVERSATION_STATUSES = ("open", "done", "snoozed")

class SlidingWindow:
    """At most ``limit`` events per rolling ``window`` seconds (0 = unlimited).

    Not locked itself: EmulatorState calls it under its lock.
    """

    def __init__(self, limit: int, window: float = WINDOW_S):
        self.limit = int(limit)
        self.window = window
        self._events: deque[float] = deque()

    def _evict(self, now: float) -> None:
        while self._events and self._events[0] <= now - self.window:
            self._events.popleft()

    def try_acquire(self, now: float) -> bool:
        if self.limit <= 0:
            return True
        self._evict(now)
        if len(self._events) >= self.limit:
            return False
        self._events.append(now)
        return True

    def reset_in(self, now: float) -> int:
        """Whole seconds until the oldest event leaves the window (frees a slot)."""
        self._evict(now)
        return math.ceil(self._events[0] + self.window - now) if self._events else 0

    def headers(self, now: float) -> dict[str, str]:
        if self.limit <= 0:
            return {}
        self._evict(now)
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(0, self.limit - len(self._events))),
            "x-ratelimit-reset": str(self.reset_in(now)),
        }


@dataclass
class Faults:
    """Injected faults. ``fail_next`` is consumed one status per hook/API request."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    fail_next: list[int] = field(default_factory=list)
    outage: bool = False
    outage_until: float | None = None
    retry_after: int = 1  # Retry-After seconds on injected 429/503
    seed: int | None = None

    def updated(self, changes: dict) -> Faults:
        """A copy with ``changes`` applied; ValueError on unknown fields or bad values."""
        if not isinstance(changes, dict):
            raise ValueError("faults must be a JSON object")
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault fields {unknown}; known: {sorted(known)}")
        new = replace(self, **{"fail_next": list(self.fail_next), **changes})
        if not _is_number(new.latency_ms) or new.latency_ms < 0:
            raise ValueError("latency_ms must be a number >= 0")
        if not _is_number(new.error_rate) or not 0 <= new.error_rate <= 1:
            raise ValueError("error_rate must be a number between 0 and 1")
        if not isinstance(new.fail_next, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and 400 <= s <= 599
                for s in new.fail_next):
            raise ValueError("fail_next must be a list of HTTP status codes 400..599")
        new.fail_next = list(new.fail_next)
        if not isinstance(new.outage, bool):
            raise ValueError("outage must be true or false")
        if new.outage_until is not None and not _is_number(new.outage_until):
            raise ValueError("outage_until must be epoch seconds or null")
        if not isinstance(new.retry_after, int) or isinstance(new.retry_after, bool) \
                or new.retry_after < 0:
            raise ValueError("retry_after must be an integer >= 0")
        if new.seed is not None and (not isinstance(new.seed, int) or isinstance(new.seed, bool)):
            raise ValueError("seed must be an integer or null")
        return new


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class EmulatorState(KObjectsMixin):
    """One fake Kustomer org: config, records, limiters and faults, behind one lock."""

    def __init__(self, *, api_key: str = "emulator-key", org_id: str | None = None,
                 roles: list[str] | None = None, hooks: list[str] | None = None,
                 rate_limit_per_minute: int = 0, hook_limit_per_minute: int = 0,
                 customer_create_limit_per_minute: int = CUSTOMER_CREATE_LIMIT,
                 faults: dict | None = None, clock: Callable[[], float] | None = None):
        self.lock = threading.RLock()
        self.clock = clock or time.time
        self.org_id = org_id or secrets.token_hex(12)
        self.org_name = "emulator"
        self.token_id = secrets.token_hex(12)
        self._id_prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._initial = dict(
            rate_window_seconds=WINDOW_S,
            api_key=api_key, roles=list(ALL_ROLES if roles is None else roles),
            hooks=None if hooks is None else list(hooks),
            rate_limit_per_minute=rate_limit_per_minute,
            hook_limit_per_minute=hook_limit_per_minute,
            customer_create_limit_per_minute=customer_create_limit_per_minute)
        self._initial_faults = faults or {}
        self.reset(faults=self._initial_faults)

    # ---- configuration, faults, reset -------------------------------------------

    def reset(self, faults: dict | None = None) -> None:
        """Forget every record and counter; restore creation-time config; set faults."""
        with self.lock:
            self.hooks: list[dict] = []
            self.customers: dict[str, dict] = {}
            self.conversations: dict[str, dict] = {}
            self.notes: list[dict] = []
            self.tags: dict[str, str] = {}  # name -> id
            self._conv_notes: dict[str, list[dict]] = {}
            self._customer_index: dict[tuple[str, str], str] = {}
            self._conv_by_ext: dict[str, list[str]] = {}
            self._hook_ids: dict[tuple[str, str], str] = {}
            self._create_windows: dict[tuple[str, str], SlidingWindow] = {}
            self._reset_kobjects()
            self.requests = 0
            self.throttled = 0
            self.configure(**self._initial)
            self.faults = Faults()
            self._rng = random.Random()
            self.set_faults(faults or {})

    def configure(self, **changes: Any) -> dict:
        """Change api_key, roles, hooks (None = accept any hash), limits, or the length of
        the limits' rolling window (all or none).

        A limit counts per ``rate_window_seconds`` (60, Kustomer's minute, unless a test
        shortens it so that a rate-limit test waits seconds, not minutes). A changed limit
        or window starts with an empty window."""
        for name, value in changes.items():
            _check_setting(name, value)
        with self.lock:
            for name, value in changes.items():
                if name == "roles":
                    value = list(value)
                elif name == "hooks":
                    name, value = "registered_hooks", None if value is None else set(value)
                setattr(self, name, value)
            # After the loop, so a window and a limit changed together agree in any order.
            new_window = "rate_window_seconds" in changes
            if new_window or "rate_limit_per_minute" in changes:
                self.api_window = SlidingWindow(self.rate_limit_per_minute, self.rate_window_seconds)
            if new_window or "hook_limit_per_minute" in changes:
                self.hook_window = SlidingWindow(self.hook_limit_per_minute, self.rate_window_seconds)
            if new_window or "customer_create_limit_per_minute" in changes:
                self._create_windows.clear()
            return self.config()

    def config(self) -> dict:
        with self.lock:
            return {
                "api_key": self.api_key, "org_id": self.org_id, "roles": list(self.roles),
                "hooks": None if self.registered_hooks is None else sorted(self.registered_hooks),
                "rate_limit_per_minute": self.rate_limit_per_minute,
                "hook_limit_per_minute": self.hook_limit_per_minute,
                "customer_create_limit_per_minute": self.customer_create_limit_per_minute,
                "rate_window_seconds": self.rate_window_seconds,
            }

    def set_faults(self, changes: dict) -> dict:
        with self.lock:
            self.faults = self.faults.updated(changes)
            if "seed" in changes:
                self._rng = random.Random(self.faults.seed)
            return self.faults_dict()

    def faults_dict(self) -> dict:
        with self.lock:
            return {f.name: copy.copy(getattr(self.faults, f.name)) for f in fields(self.faults)}

    # ---- per-request gate: counting, faults, auth, budgets ----------------------

    def begin_request(self) -> float:
        """Count one hook/API request; return the injected latency in seconds."""
        with self.lock:
            self.requests += 1
            return self.faults.latency_ms / 1000.0

    def check_faults(self) -> None:
        """Raise the ApiError an injected fault calls for, if any."""
        with self.lock:
            now, f = self.clock(), self.faults
            if f.outage or (f.outage_until is not None and now < f.outage_until):
                wait = f.retry_after if f.outage else max(1, math.ceil(f.outage_until - now))
                raise ApiError(503, "emulated outage", headers={"Retry-After": str(wait)})
            if f.fail_next:
                status = f.fail_next.pop(0)
                headers = {"Retry-After": str(f.retry_after)} if status in (429, 503) else {}
                raise ApiError(status, "injected fault (fail_next)", headers=headers)
            if f.error_rate and self._rng.random() < f.error_rate:
                raise ApiError(503, "injected fault (error_rate)",
                               headers={"Retry-After": str(f.retry_after)})

    def key_matches(self, token: str) -> bool:
        with self.lock:
            return secrets.compare_digest(token.encode(), self.api_key.encode())

    def has_role(self, *any_of: str) -> bool:
        with self.lock:
            return any(role in self.roles for role in any_of)

    def take_budget(self, kind: str) -> None:
        """Spend one slot of the org's api or hook budget, or raise 429."""
        with self.lock:
            window, now = self._window(kind), self.clock()
            if not window.try_acquire(now):
                raise ApiError(429, f"{kind} rate limit of {window.limit}/min exceeded",
                               headers={"Retry-After": str(max(1, window.reset_in(now)))})

    def ratelimit_headers(self, kind: str) -> dict[str, str]:
        with self.lock:
            return self._window(kind).headers(self.clock())

    def note_throttled(self) -> None:
        with self.lock:
            self.throttled += 1

    def _window(self, kind: str) -> SlidingWindow:
        return self.hook_window if kind == "hook" else self.api_window

    def _new_id(self) -> str:
        return f"{int(self.clock()) & 0xFFFFFFFF:08x}{self._id_prefix}{next(self._ids):08x}"

    # ---- hooks ------------------------------------------------------------------

    def record_hook(self, hook_hash: str, data: Any, *, kind: str = "web",
                    org: str | None = None) -> dict:
        """Store a hook body wrapped as the transaction a Kustomer workflow sees."""
        with self.lock:
            if self.registered_hooks is not None and hook_hash not in self.registered_hooks:
                raise ApiError(404, f"no {kind} hook with hash {hook_hash!r}")
            now = self.clock()
            hook_id = self._hook_ids.setdefault((kind, hook_hash), self._new_id())
            transaction = {
                "id": self._new_id(),
                "type": "transaction",
                "attributes": {"createdAt": iso(now), "data": data},
                "relationships": {
                    "org": {"data": {"type": "org", "id": self.org_id},
                            "links": {"self": f"/v1/org/{self.org_id}"}},
                    "hook": {"data": {"type": f"{kind}_hook", "id": hook_id},
                             "links": {"self": f"/v1/hooks/{kind}/{hook_id}"}},
                },
            }
            record = {"hash": hook_hash, "kind": kind, "org": org, "received_at": now,
                      "transaction": transaction}
            self.hooks.append(record)
            return copy.deepcopy(record)

    # ---- customers --------------------------------------------------------------

    def find_customer(self, by: str, value: str) -> dict:
        with self.lock:
            if by == "id":
                customer_id = value if value in self.customers else None
            else:
                customer_id = self._customer_index.get((by, _norm(by, value)))
            if customer_id is None:
                raise ApiError(404, f"customer not found by {by}")
            return copy.deepcopy(self.customers[customer_id])

    def create_customer(self, payload: dict) -> dict:
        keys = _customer_keys(payload)
        with self.lock:
            for key in keys:
                if key in self._customer_index:
                    raise ApiError(409, f"a customer with this {key[0]} already exists",
                                   pointer=f"/{'emails' if key[0] == 'email' else key[0]}")
            now, customer_id = self.clock(), self._new_id()
            attributes = {
                "name": payload.get("name"),
                "displayName": payload.get("name") or next(
                    (v for k, v in keys if k == "email"), None),
                "externalId": payload.get("externalId"),
                "emails": payload.get("emails") or [],
                "phones": payload.get("phones") or [],
                "tags": payload.get("tags") or [],
                "custom": payload.get("custom") or {},
                "createdAt": iso(now), "updatedAt": iso(now),
            }
            extra = {k: v for k, v in payload.items() if k not in attributes}
            customer = {"type": "customer", "id": customer_id,
                        "attributes": copy.deepcopy({**extra, **attributes}),
                        "links": {"self": f"/v1/customers/{customer_id}"}}
            self.customers[customer_id] = customer
            for key in keys:
                self._customer_index[key] = customer_id
            return copy.deepcopy(customer)

    # ---- conversations, tags, notes ---------------------------------------------

    def create_conversation(self, customer_id: Any, payload: dict) -> dict:
        if not isinstance(customer_id, str) or not customer_id:
            raise ApiError(400, "customer (id) is required", pointer="/customer")
        with self.lock:
            if customer_id not in self.customers:
                raise ApiError(404, f"customer {customer_id} not found", pointer="/customer")
            attributes = {"name": None, "status": "open", "priority": 3, "direction": "in",
                          "externalId": None, "tags": [], "custom": {},
                          "assignedTeams": [], "assignedUsers": []}
            attributes.update(self._conversation_changes(payload))
            self._spend_create("conversation", customer_id)
            now, conversation_id = self.clock(), self._new_id()
            attributes.update(noteCount=0, createdAt=iso(now), updatedAt=iso(now))
            conversation = {
                "type": "conversation", "id": conversation_id, "attributes": attributes,
                "relationships": {"customer": {"data": {"type": "customer", "id": customer_id}}},
                "links": {"self": f"/v1/conversations/{conversation_id}"},
            }
            self.conversations[conversation_id] = conversation
            self._conv_notes[conversation_id] = []
            self._index_external_id(conversation_id, None, attributes["externalId"])
            return copy.deepcopy(conversation)

    def find_conversation(self, by: str, value: str) -> dict:
        """By ``id`` or ``externalId`` (the oldest match: ids are not unique here)."""
        with self.lock:
            if by == "id":
                conversation_id = value if value in self.conversations else None
            else:
                conversation_id = next(iter(self._conv_by_ext.get(value, [])), None)
            if conversation_id is None:
                raise ApiError(404, f"conversation not found by {by}")
            return copy.deepcopy(self.conversations[conversation_id])

    def update_conversation(self, conversation_id: str, payload: dict) -> dict:
        with self.lock:
            conversation = self._conversation(conversation_id)
            attributes = conversation["attributes"]
            changes = self._conversation_changes(payload)
            if "custom" in changes:
                changes["custom"] = {**attributes["custom"], **changes["custom"]}
            if "externalId" in changes:
                self._index_external_id(conversation_id, attributes["externalId"],
                                        changes["externalId"])
            attributes.update(changes, updatedAt=iso(self.clock()))
            return copy.deepcopy(conversation)

    def add_tags(self, conversation_id: str, names: Any) -> dict:
        """``names``: the request body, a bare array of tag names or ids (AppendTagsToConversation)."""
        if not isinstance(names, list) or not names or not all(
                isinstance(n, str) and n.strip() for n in names):
            raise ApiError(400, "the body must be a non-empty JSON array of tag names", pointer="/")
        with self.lock:
            conversation = self._conversation(conversation_id)
            tag_ids = conversation["attributes"]["tags"]
            known_ids = set(self.tags.values())
            for name in names:
                tag_id = name if name in known_ids else self.tags.setdefault(name, self._new_id())
                if tag_id not in tag_ids:
                    tag_ids.append(tag_id)
            conversation["attributes"]["updatedAt"] = iso(self.clock())
            return copy.deepcopy(conversation)

    def add_note(self, conversation_id: str, payload: dict) -> dict:
        body, external_id = payload.get("body"), payload.get("externalId")
        with self.lock:
            conversation = self._conversation(conversation_id)
            if not isinstance(body, str) or not 1 <= len(body) <= NOTE_BODY_MAX:
                raise ApiError(400, f"body must be a string of 1..{NOTE_BODY_MAX} characters",
                               pointer="/body")
            if external_id is not None and not isinstance(external_id, str):
                raise ApiError(400, "externalId must be a string", pointer="/externalId")
            customer_id = conversation["relationships"]["customer"]["data"]["id"]
            self._spend_create("note", customer_id)
            now = self.clock()
            note = {
                "type": "note", "id": self._new_id(),
                "attributes": {"body": body, "externalId": external_id,
                               "createdAt": iso(now), "updatedAt": iso(now)},
                "relationships": {
                    "conversation": {"data": {"type": "conversation", "id": conversation_id}},
                    "customer": {"data": {"type": "customer", "id": customer_id}},
                },
            }
            self.notes.append(note)
            self._conv_notes[conversation_id].append(note)
            conversation["attributes"]["noteCount"] += 1
            return copy.deepcopy(note)

    def list_notes(self, conversation_id: str, page: int = 1, page_size: int = 100) -> dict:
        """GetNotesByConversation: oldest first, paged; ``meta`` says how many pages there are."""
        with self.lock:
            self._conversation(conversation_id)
            notes = self._conv_notes[conversation_id]
            start = (page - 1) * page_size
            pages = max(1, math.ceil(len(notes) / page_size))
            return {"meta": {"page": page, "pageSize": page_size, "totalPages": pages,
                             "total": len(notes)},
                    "data": copy.deepcopy(notes[start:start + page_size])}

    def _conversation(self, conversation_id: str) -> dict:
        if conversation_id not in self.conversations:
            raise ApiError(404, f"conversation {conversation_id} not found")
        return self.conversations[conversation_id]

    def _conversation_changes(self, payload: dict) -> dict:
        """Validate the conversation fields the bridge may send; keep others as given."""
        changes = {k: copy.deepcopy(v) for k, v in payload.items() if k != "customer"}
        for key in ("name", "externalId", "defaultLang"):
            if changes.get(key) is not None and not isinstance(changes[key], str):
                raise ApiError(400, f"{key} must be a string", pointer=f"/{key}")
        if "status" in changes and changes["status"] not in CONVERSATION_STATUSES:
            raise ApiError(400, f"status must be one of {CONVERSATION_STATUSES}", pointer="/status")
        if "priority" in changes:
            p = changes["priority"]
            if not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= 5:
                raise ApiError(400, "priority must be an integer 1..5", pointer="/priority")
        if "custom" in changes and not isinstance(changes["custom"], dict):
            raise ApiError(400, "custom must be an object", pointer="/custom")
        for key in ("assignedTeams", "assignedUsers"):
            if key in changes and (not isinstance(changes[key], list) or len(changes[key]) > 10):
                raise ApiError(400, f"{key} must be a list of at most 10 ids", pointer=f"/{key}")
        if "tags" in changes:
            tags, known = changes["tags"], set(self.tags.values())
            if not isinstance(tags, list) or not all(t in known for t in tags):
                raise ApiError(400, "tags must be a list of existing tag ids (not names)",
                               pointer="/tags")
        return changes

    def _index_external_id(self, conversation_id: str, old: str | None, new: str | None) -> None:
        if old is not None:
            self._conv_by_ext[old].remove(conversation_id)
            if not self._conv_by_ext[old]:
                del self._conv_by_ext[old]
        if new is not None:
            self._conv_by_ext.setdefault(new, []).append(conversation_id)

    def _spend_create(self, kind: str, customer_id: str) -> None:
        key = (kind, customer_id)
        window = self._create_windows.setdefault(
            key, SlidingWindow(self.customer_create_limit_per_minute, self.rate_window_seconds))
        now = self.clock()
        if not window.try_acquire(now):
            raise ApiError(429, f"{kind} create limit of {window.limit}/min for this customer "
                           "exceeded", headers={"Retry-After": str(max(1, window.reset_in(now)))})

    # ---- inspection -------------------------------------------------------------

    def snapshot(self) -> dict:
        """Everything received, for GET /__emulator/received."""
        with self.lock:
            tag_names = {tag_id: name for name, tag_id in self.tags.items()}
            conversations = []
            for conversation_id, conversation in self.conversations.items():
                item = copy.deepcopy(conversation)
                item["tags"] = [tag_names.get(t, t) for t in conversation["attributes"]["tags"]]
                item["notes"] = copy.deepcopy(self._conv_notes[conversation_id])
                conversations.append(item)
            return {
                "hooks": copy.deepcopy(self.hooks),
                "customers": copy.deepcopy(list(self.customers.values())),
                "conversations": conversations,
                "notes": copy.deepcopy(self.notes),
                "tags": dict(self.tags),
                "conversation_external_ids": {k: len(v) for k, v in self._conv_by_ext.items()},
                "klasses": copy.deepcopy(list(self.klasses.values())),
                "cards": self.cards_by_customer(),  # customer id -> its timeline cards
                "requests": self.requests,
                "throttled": self.throttled,
            }

    def stats(self) -> dict:
        """Cheap counts (no copying), for polling during benchmarks."""
        with self.lock:
            return {"hooks": len(self.hooks), "customers": len(self.customers),
                    "conversations": len(self.conversations), "notes": len(self.notes),
                    "cards": len(self.kobjects),
                    "requests": self.requests, "throttled": self.throttled}


def _check_setting(name: str, value: Any) -> None:
    if name == "api_key":
        ok = isinstance(value, str) and bool(value)
    elif name == "roles":
        ok = isinstance(value, list) and all(isinstance(r, str) for r in value)
    elif name == "hooks":
        ok = value is None or (isinstance(value, list) and all(isinstance(h, str) and h for h in value))
    elif name in ("rate_limit_per_minute", "hook_limit_per_minute",
                  "customer_create_limit_per_minute"):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    elif name == "rate_window_seconds":
        ok = _is_number(value) and 0 < value <= 3600
    else:
        raise ValueError(f"unknown setting {name!r}")
    if not ok:
        raise ValueError(f"bad value for {name}: {value!r}")


def _norm(by: str, value: str) -> str:
    return value.strip().lower() if by == "email" else value


def _customer_keys(payload: dict) -> list[tuple[str, str]]:
    """Validate a customer create body; return its unique keys (kind, normalised value)."""
    keys: list[tuple[str, str]] = []
    for list_name, key in (("emails", "email"), ("phones", "phone")):
        entries = payload.get(list_name)
        if entries is None:
            continue
        if not isinstance(entries, list) or not all(
                isinstance(e, dict) and isinstance(e.get(key), str) and e[key].strip()
                for e in entries):
            raise ApiError(400, f"{list_name} must be a list of objects with a {key!r} string",
                           pointer=f"/{list_name}")
        keys.extend((key, _norm(key, e[key])) for e in entries)
    external_id = payload.get("externalId")
    if external_id is not None:
        if not isinstance(external_id, str) or not external_id:
            raise ApiError(400, "externalId must be a non-empty string", pointer="/externalId")
        keys.append(("externalId", external_id))
    if payload.get("name") is not None and not isinstance(payload["name"], str):
        raise ApiError(400, "name must be a string", pointer="/name")
    return list(dict.fromkeys(keys))
