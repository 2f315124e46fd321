"""`bridgeDeliveryId`: the key a Kustomer workflow can use to skip a repeated hook post.

Delivery is at least once: a crash between Kustomer's 2xx and our commit (or a
`kill -9` of the worker) posts the same hook again. Every hook body therefore carries
an id that is the same for every retry and every replay of one action of one event,
and different for every other: a UUID (version 5) of the event's `webhook-id` (Okendo's
message id, unique per event, stored UNIQUE) and the action key (`hook:<route>`).
Renaming a route changes the key on purpose: the bridge then posts again as well.

Failure policy: pure function, never raises; a body that already has the field (a
route's `extra` naming it) is overwritten, so the key cannot be forged by the mapping.
"""
from __future__ import annotations

import dataclasses
import uuid

FIELD = "bridgeDeliveryId"
# A fixed namespace: the ids stay the same across versions, processes and machines.
NAMESPACE = uuid.UUID("6f1c5a52-8a4e-5c1e-9b0e-0b7d1e2a3c4d")


def delivery_id(webhook_id: str, action_key: str) -> str:
    """The stable id of one action of one event."""
    return str(uuid.uuid5(NAMESPACE, f"{webhook_id}\n{action_key}"))


def stamped(hook, webhook_id: str):
    """A copy of the planned `HookAction` whose body carries its delivery id."""
    body = dict(hook.body)
    body[FIELD] = delivery_id(webhook_id, hook.key)
    return dataclasses.replace(hook, body=body)
