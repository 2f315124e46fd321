"""The look at an Okendo body that ingest affords on every webhook: plain dictionary checks.

Ingest stores the columns that search and per-resource ordering read (type, topic, store,
resource id, sequence number, shopper email) and answers with the event's status. Full
validation (`bridge.okendo.schemas`, marshmallow) costs 0.2-0.3 ms for a review, more than
the rest of the request, and the worker runs it anyway before mapping. So ingest checks the
*envelope* here, in microseconds, with the same rules as `schemas.EnvelopeSchema`, plus
the ids the resource schema requires; the resource's other fields are checked by the
worker, which marks a broken event `invalid` with the schema's errors
(`bridge.delivery.processor`).

Failure policy: never raises, for any JSON value. :func:`relayable` returns None whenever
the payload is not plainly a well-formed event of a relayed type (broken, or of a type the
bridge does not relay); the caller then runs the full validation at once, which decides
between `invalid` (with every error) and `skipped`, as ingest always did. Those are rare.
:func:`as_sent` is the fallback reader for such payloads (and for the preview of one that may
not validate): the envelope's fields as they came, whatever their type, None when absent.
"""
from __future__ import annotations

from typing import Any

from bridge.okendo.schemas import (
    KNOWN_RESOURCE_TYPES,
    KNOWN_TOPICS,
    email_in,
    resource_id_in,
    sequence_number_text,
)


def relayable(payload: Any) -> dict | None:
    """The stored columns of an event whose envelope is valid and whose type is relayed,
    as {resource_type, topic, subscriber_id, resource_id, sequence_number, email};
    None for anything else (see the failure policy)."""
    if not isinstance(payload, dict):
        return None
    resource, resource_type, topic = payload.get("resource"), payload.get("resourceType"), payload.get("topic")
    if not (isinstance(resource, dict) and isinstance(resource_type, str) and resource_type in KNOWN_RESOURCE_TYPES
            and isinstance(topic, str) and topic in KNOWN_TOPICS):
        return None
    version = payload.get("version")
    if version is not None and not isinstance(version, str):
        return None
    sequence_number = sequence_number_text(payload.get("sequenceNumber"))
    subscriber_id = resource.get("subscriberId")
    resource_id = resource_id_in(resource_type, resource)
    if sequence_number is None or not (isinstance(subscriber_id, str) and subscriber_id) or resource_id is None:
        return None
    return {"resource_type": resource_type, "topic": topic, "subscriber_id": subscriber_id,
            "resource_id": resource_id, "sequence_number": sequence_number,
            "email": email_in(resource_type, resource)}


def as_sent(payload: Any) -> dict | None:
    """The envelope's fields as sent, unchecked: {resource_type, topic, subscriber_id,
    sequence_number}, each None when absent (any JSON value otherwise); None when the payload
    is not an object. For what must be said of a payload that may not validate."""
    if not isinstance(payload, dict):
        return None
    resource = payload.get("resource")
    return {"resource_type": payload.get("resourceType"), "topic": payload.get("topic"),
            "subscriber_id": resource.get("subscriberId") if isinstance(resource, dict) else None,
            "sequence_number": payload.get("sequenceNumber")}
