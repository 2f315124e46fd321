"""Which Okendo signing secrets the bridge accepts, and which store each one speaks for.

Two sources today, one place to add more (a secret kept in the database, a mapping kept
in the database: extend :func:`current`, nothing else needs to change):

* ``OKENDO_WEBHOOK_SECRET`` (several during a rotation), or the one stored from the
  console's setup page (``runtime.live``): *shared*, not tied to a store;
* ``stores.<subscriberId>.secret`` in the mapping: that store's own secret(s).

Why tie secrets to stores: with two Okendo stores feeding one bridge, a secret that only
proves "some store sent this" lets store A sign an event that claims store B's
``subscriberId`` and have it relayed into B's Kustomer org. The rule (:meth:`SecretBook.refusal`):

1. a store's own secret signs only events of that store;
2. a store that names its own secret accepts only events signed with it (a shared secret
   no longer speaks for it; a store naming an *unset* secret accepts nothing: closed).

Cost: the signature is checked once, against every secret, before the body is parsed
(HMAC-SHA256 over at most 1 MB per secret, a few ms each); the ownership check after
parsing is two dictionary lookups. Nothing here parses an unverified body.

Failure policy: a mapping that does not load leaves the shared secrets working and
store secrets unknown, so that store's events are refused with 401 (Okendo retries for
about a day) rather than accepted under the wrong rule.
"""
from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Mapping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SecretBook:
    shared: tuple[str, ...] = field(default=(), repr=False)
    # subscriberId -> that store's own secrets; () when it names a secret that is unset.
    stores: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def all_secrets(self) -> list[str]:
        """Every secret a signature may be checked against, each once."""
        seen = dict.fromkeys(self.shared)
        for secrets in self.stores.values():
            seen.update(dict.fromkeys(secrets))
        return list(seen)

    def refusal(self, matched: str, subscriber_id: str | None, *, readable: bool = True) -> str | None:
        """Why an event signed with ``matched`` and naming ``subscriber_id`` must be refused;
        None to accept. ``readable`` False: the body is not JSON, so it names no store and
        will be stored as ``invalid`` (never delivered anywhere): a genuine one is kept."""
        owners = [store for store, secrets in self.stores.items() if matched in secrets]
        if owners and subscriber_id not in owners:
            if subscriber_id is None and not readable:
                return None
            claimed = f"store {subscriber_id}" if subscriber_id else "no store"
            return f"signed with the secret of another store, but the event names {claimed}"
        if subscriber_id is not None and subscriber_id in self.stores and matched not in self.stores[subscriber_id]:
            if not self.stores[subscriber_id]:
                return f"store {subscriber_id} names a secret in the mapping that is not set"
            return f"store {subscriber_id} has a secret of its own, and this event is not signed with it"
        return None


def book_from(shared: tuple[str, ...], mapping) -> SecretBook:
    """A book from the shared secrets and a loaded mapping (None: no mapping loaded)."""
    stores = {}
    for subscriber_id, store in (getattr(mapping, "stores", None) or {}).items():
        secrets = getattr(store, "webhook_secrets", None)
        if secrets is not None:
            stores[subscriber_id] = tuple(secrets)
    return SecretBook(shared=tuple(shared), stores=stores)


# A mapping that never loaded is re-read on every `current()`: a webhook must not pay
# for that each time (nor let a stranger make the bridge pay for it), so a failed load
# is remembered for this long.
FAILED_LOAD_MEMORY_SECONDS = 5.0
_failed_at: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def current(runtime) -> SecretBook:
    """The book for this request: shared secrets from the settings, store secrets from
    the live mapping (see the failure policy)."""
    mappings = runtime.mappings
    mapping = None
    failed_at = _failed_at.get(mappings)
    if failed_at is None or time.monotonic() - failed_at >= FAILED_LOAD_MEMORY_SECONDS:
        try:
            mapping = mappings.current()
            _failed_at.pop(mappings, None)
        except Exception:  # noqa: BLE001 - a broken mapping must not stop the shared secrets
            log.warning("the mapping does not load: only the shared OKENDO_WEBHOOK_SECRET is accepted")
            _failed_at[mappings] = time.monotonic()
    live = getattr(runtime, "live", None)  # the environment, then the console's stored settings
    shared = live.webhook_secrets() if live is not None else runtime.settings.webhook_secrets
    return book_from(shared, mapping)
