"""The ``passthrough`` body: the Okendo resource as received, with its envelope facts.

For any resource type, including ones the bridge does not know (quizzes, loyalty,
referrals, future types): nothing is reshaped, so a Kustomer workflow sees exactly what
Okendo sent, under ``resource``, plus the event's name and ordering facts at the top:
``{"event": "quiz_response.create", "resourceType", "topic", "sequenceNumber",
"subscriberId", "resource"}``. ``subscriberId`` is null when an unknown type's resource
has no usable one.

Failure policy: every value comes from the validated envelope, so building the body does
not fail. The resource is the received object itself, not a copy: don't mutate it.
"""

from __future__ import annotations

from bridge.okendo.schemas import ValidatedEvent


def passthrough_body(event: ValidatedEvent) -> dict:
    """The passthrough body of any validated event."""
    return {
        "event": event.name,
        "resourceType": event.resource_type,
        "topic": event.topic,
        "sequenceNumber": event.sequence_number,
        "subscriberId": event.subscriber_id,
        # The envelope keeps the resource as received (for a known type, event.resource
        # is the loaded copy; same content, but "as received" is the promise here).
        "resource": event.envelope["resource"],
    }
