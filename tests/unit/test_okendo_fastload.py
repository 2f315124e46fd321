"""The compiled fast path of the Okendo schemas (bridge.okendo.fastload).

Its promise: whatever it accepts, marshmallow accepts and loads to the same dict; what it
is unsure of, it leaves to marshmallow. So validate_event answers exactly as with
marshmallow alone, errors included, and the shipped samples take the fast path (else
the speed-up has silently gone).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from marshmallow import INCLUDE, Schema, ValidationError, fields, validates_schema

from bridge.okendo import schemas
from bridge.okendo.fastload import compile_loader
from tests.hypothesis_profiles import examples

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "samples" / "okendo").glob("*.json"))
ALL_SCHEMAS = [schemas._ENVELOPE, *schemas._SCHEMA_INSTANCES.values()]

# Values of every JSON kind, and the edges the schemas care about.
ODD_VALUES = [None, "", "x", " ", "5", "2026-11-02T09:14:03Z", "2026-13-40", "12345", 0, 1, 5, 6,
              -1, 4.5, 3.0, float("nan"), True, False, [], [None], ["a", 1], [{}], {}, {"a": 1},
              {"type": 3, "value": 1}, {"type": "text", "value": "v"}, {"code": 44}]


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _load_or_errors(schema: Schema, data):
    try:
        return "loaded", schema.load(data)
    except ValidationError as error:
        return "errors", error.normalized_messages()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.name)
def test_samples_take_the_fast_path_and_load_the_same(sample):
    payload = json.loads(sample.read_text())
    envelope_fast = schemas._FAST_LOADERS[schemas._ENVELOPE](payload)
    assert envelope_fast is not None
    assert envelope_fast == schemas._ENVELOPE.load(payload)
    resource_type = payload["resourceType"]
    if resource_type not in schemas.RESOURCE_SCHEMAS:
        return
    schema = schemas._resource_schema(resource_type, payload["topic"])
    fast = schemas._FAST_LOADERS[schema](payload["resource"])
    assert fast is not None
    slow = schema.load(payload["resource"])
    assert fast == slow
    # Declared keys come in the schema's order, as marshmallow's do.
    declared = [key for key in slow if key in schema.load_fields]
    assert [key for key in fast if key in schema.load_fields] == declared
    assert fast is not payload["resource"]


@settings(max_examples=examples(300))
@given(data=st.data())
def test_the_fast_path_accepts_only_what_marshmallow_loads_the_same(data):
    sample = data.draw(st.sampled_from(SAMPLES), label="sample")
    payload = json.loads(sample.read_text())
    for _ in range(data.draw(st.integers(0, 3), label="changes")):
        paths = list(_paths(payload))
        path = data.draw(st.sampled_from(paths), label="path")
        target = payload
        for key in path[:-1]:
            target = target[key]
        if data.draw(st.booleans(), label="delete") and isinstance(target, dict):
            del target[path[-1]]
        else:
            target[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(ODD_VALUES), label="value"))
    for schema in ALL_SCHEMAS:
        if schemas._FAST_LOADERS[schema] is None:
            continue  # the referral's @validates_schema: marshmallow only
        for part in (payload, payload.get("resource") if isinstance(payload, dict) else None):
            fast = schemas._FAST_LOADERS[schema](part)
            if fast is None:
                continue
            outcome, slow = _load_or_errors(schema, part)
            assert outcome == "loaded", (type(schema).__name__, slow)
            assert fast == slow
            # Declared keys in the schema's order (marshmallow adds unknown ones in set order).
            assert [key for key in fast if key in schema.load_fields] == \
                [key for key in slow if key in schema.load_fields]


def test_validate_event_reports_marshmallow_errors_through_the_fast_path():
    payload = json.loads(SAMPLES[0].parent.joinpath("review-create-positive.json").read_text())
    payload["resource"]["reviewer"]["location"]["country"]["code"] = 44
    with pytest.raises(schemas.EventValidationError) as caught:
        schemas.validate_event(payload)
    assert caught.value.errors == {
        "resource": {"reviewer": {"location": {"country": {"code": ["Not a valid string."]}}}}}


class Tolerant(Schema):
    class Meta:
        unknown = INCLUDE


def test_a_plain_schema_gets_one():
    class Plain(Tolerant):
        name = fields.String(required=True)

    load = compile_loader(Plain())
    assert load({"name": "x", "extra": 1}) == {"name": "x", "extra": 1}
    assert load({"extra": 1}) is None  # required and missing: marshmallow's error to give
    assert load({"name": b"x"}) is None  # bytes: marshmallow decides


def test_a_schema_with_hooks_gets_no_fast_path():
    class Hooked(Tolerant):
        name = fields.String()

        @validates_schema
        def _check(self, data, **kwargs):
            pass

    assert compile_loader(Hooked()) is None
    assert schemas._FAST_LOADERS[schemas._SCHEMA_INSTANCES[schemas.ReferralSchema]] is None


def test_data_key_and_load_default_get_no_fast_path():
    class Renamed(Tolerant):
        name = fields.String(data_key="Name")

    class Defaulted(Tolerant):
        name = fields.String(load_default="x")

    assert compile_loader(Renamed()) is None
    assert compile_loader(Defaulted()) is None
