"""Body shapes the bridge posts to Kustomer hooks, one per way a workflow consumes events.

* ``native-review`` (:mod:`.native_review`): Okendo's own Kustomer integration body, so
  existing workflows keep working; reviews only.
* ``survey`` (:mod:`.survey`): flat survey-response body with NPS score and category at
  the top; survey responses only.
* ``passthrough`` (:mod:`.passthrough`): the resource as received; any resource type.

Each shape is one function whose dict literal declares its key set, in order, in one place
(plain Python, not a marshmallow dump: a tenth of the cost, docs/design-notes.md).

Failure policy: a shape is chosen by configuration, so a wrong name or a shape used on a
resource type it does not describe is a configuration error: :func:`build_body` and
:func:`body_shape_applies` raise ``ValueError`` naming what is allowed (never KeyError).
For a validated event of a type the shape applies to, :func:`build_body` does not fail.
"""

from __future__ import annotations

from typing import Callable

from bridge.bodies.native_review import native_review_body
from bridge.bodies.passthrough import passthrough_body
from bridge.bodies.survey import survey_body
from bridge.okendo.schemas import ValidatedEvent

__all__ = [
    "BODY_SHAPES",
    "BODY_SHAPE_RESOURCE_TYPES",
    "body_shape_applies",
    "build_body",
]

BODY_SHAPES: dict[str, Callable[[ValidatedEvent], dict]] = {
    "native-review": native_review_body,
    "survey": survey_body,
    "passthrough": passthrough_body,
}

# The resource types each shape describes; None means any type, unknown ones included.
BODY_SHAPE_RESOURCE_TYPES: dict[str, frozenset[str] | None] = {
    "native-review": frozenset({"review"}),
    "survey": frozenset({"survey_response"}),
    "passthrough": None,
}


def _check_shape(shape: str) -> None:
    # `in` on a dict hashes the key: a non-string (even unhashable) name must still
    # produce the ValueError, not a TypeError.
    if not isinstance(shape, str) or shape not in BODY_SHAPES:
        known = ", ".join(sorted(BODY_SHAPES))
        raise ValueError(f"unknown body shape {shape!r}; known shapes: {known}")


def body_shape_applies(shape: str, resource_type: str) -> bool:
    """Whether ``shape`` can describe events of ``resource_type`` (for the mapping
    validator: a route sending surveys through native-review is rejected).

    Raises ValueError for an unknown shape name.
    """
    _check_shape(shape)
    allowed = BODY_SHAPE_RESOURCE_TYPES[shape]
    return allowed is None or resource_type in allowed


def build_body(shape: str, event: ValidatedEvent) -> dict:
    """The body of ``event`` in ``shape``.

    Raises ValueError for an unknown shape, or a shape that does not apply to the
    event's resource type.
    """
    _check_shape(shape)
    if not body_shape_applies(shape, event.resource_type):
        allowed = ", ".join(sorted(BODY_SHAPE_RESOURCE_TYPES[shape] or ()))
        raise ValueError(
            f"body shape {shape!r} does not apply to resource type "
            f"{event.resource_type!r} (only: {allowed})"
        )
    return BODY_SHAPES[shape](event)
