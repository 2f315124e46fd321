"""Okendo webhook events: validation of the envelope and of each resource type.

See :mod:`bridge.okendo.schemas` for the failure policy.
"""

from bridge.okendo.schemas import (
    KNOWN_RESOURCE_TYPES,
    KNOWN_TOPICS,
    RESOURCE_ID_FIELDS,
    RESOURCE_SCHEMAS,
    EnvelopeSchema,
    EventValidationError,
    ValidatedEvent,
    customer_name_of,
    email_of,
    validate_event,
)

__all__ = [
    "EnvelopeSchema",
    "EventValidationError",
    "KNOWN_RESOURCE_TYPES",
    "KNOWN_TOPICS",
    "RESOURCE_ID_FIELDS",
    "RESOURCE_SCHEMAS",
    "ValidatedEvent",
    "customer_name_of",
    "email_of",
    "validate_event",
]
