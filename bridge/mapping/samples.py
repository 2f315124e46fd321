"""The sample events a mapping is tried against when it is loaded.

The bundled payloads live in ``bridge/samples/*.json`` (package data: the bridge must not
read anything outside itself at run time). For an event name with no bundled sample,
one is derived so every listed event is still tried:

* another topic of the same type: the type's sample with the topic changed (create and
  update carry the same resource);
* a ``delete`` with no sample, or a type with no sample at all: a *reduced* resource,
  only ``subscriberId`` and the resource's id, because Okendo's deletes may carry no
  more than that and a template or filter must survive it (skipped when the type's
  schema needs more than ids on that topic).

Failure policy: the bundled samples are part of the package; one that does not load or
validate is a packaging bug, raised as RuntimeError on first use, not a config error.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from importlib import resources
from bridge.okendo.schemas import RESOURCE_ID_FIELDS, EventValidationError, validate_event

SAMPLE_SUBSCRIBER_ID = "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21"


@lru_cache(maxsize=1)
def bundled_samples() -> dict:
    """``{"review-create-negative": ValidatedEvent, ...}`` from ``bridge/samples``."""
    folder = resources.files("bridge").joinpath("samples")
    samples = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".json"):
            continue
        try:
            samples[entry.name[:-5]] = validate_event(json.loads(entry.read_text("utf-8")))
        except (ValueError, EventValidationError) as error:
            raise RuntimeError(f"bundled sample bridge/samples/{entry.name} is broken: {error}"
                               ) from error
    return samples


def samples_for(resource_type: str, topic: str) -> list[tuple[str, object]]:
    """(name, ValidatedEvent) pairs to try for events ``resource_type.topic``."""
    samples = bundled_samples()
    exact = [(name, event) for name, event in samples.items()
             if event.resource_type == resource_type and event.topic == topic]
    if exact:
        return exact
    if topic != "delete":
        same_type = [(f"{name} as {resource_type}.{topic}", dataclasses.replace(event, topic=topic))
                     for name, event in samples.items()
                     if event.resource_type == resource_type and event.topic != "delete"]
        if same_type:
            return same_type
    reduced = _reduced(resource_type, topic)
    return [(f"reduced {resource_type}.{topic}", reduced)] if reduced is not None else []


@lru_cache(maxsize=64)
def _reduced(resource_type: str, topic: str):
    """A resource with ids only; None when the type's schema wants more on this topic
    (then there is nothing honest to try, and the event name goes untried)."""
    id_field = RESOURCE_ID_FIELDS.get(resource_type)
    if id_field is None:
        return None
    resource = {"subscriberId": SAMPLE_SUBSCRIBER_ID,
                id_field: "00000000-0000-4000-8000-000000000000"}
    try:
        return validate_event({"resource": resource, "resourceType": resource_type,
                               "topic": topic, "sequenceNumber": "1", "version": "2025-02-01"})
    except EventValidationError:
        return None
