"""A compiled fast path for loading a marshmallow schema: the same result, a tenth the cost.

marshmallow spends most of a review's validation in its per-field machinery (error
stores, getter closures, validator wrappers), about 65 field calls per review. For a
payload that is valid, all that work returns the input unchanged. :func:`compile_loader`
reads a schema's own declarations once and builds plain closures that check the same
rules and build the same result; the schemas in :mod:`bridge.okendo.schemas` stay the
one place where the rules are written.

Failure policy: the fast path only ever *accepts*. It returns the loaded dict when it is
sure marshmallow would load the payload to that same dict, and ``None`` as soon as
anything is unusual (a wrong type, a null where none is allowed, a validator that
objects, a field kind it does not know). The caller then runs ``schema.load`` itself,
so every rejection, and every error message, is still marshmallow's. A schema using
what the fast path cannot mirror (hooks such as ``@validates_schema``, ``data_key``,
``attribute``, load defaults, ``unknown`` other than INCLUDE, nested ``many``/``only``)
gets no fast path at all: :func:`compile_loader` returns ``None``.

What it mirrors, per field (marshmallow 4's ``Field.deserialize``): a missing key is an
error when ``required`` and otherwise left out; ``None`` is kept when ``allow_none``;
otherwise the value goes through the field's conversion, then its validators.
Conversions: ``String`` takes a ``str`` as is; ``Integer`` an ``int`` (not a bool) as
is; ``Raw`` anything; ``Dict`` (no key/value fields) a dict, shallow-copied; ``List`` a
list, item by item; ``Nested`` a dict, through the nested schema's own compiled loader.
Any other field class (the project's ``StrictBoolean``, ``IsoDateString``...) is called
through its own ``_deserialize``, which is where such a class keeps its whole rule.
Unknown keys are copied after the declared ones (marshmallow's ``INCLUDE``).
"""

from __future__ import annotations

from typing import Any, Callable

from marshmallow import INCLUDE, Schema, ValidationError, fields
from marshmallow.utils import missing

__all__ = ["compile_loader"]

Loader = Callable[[Any], "dict | None"]
_Convert = Callable[[Any], Any]


class _Unsure(Exception):
    """Internal: leave this payload to marshmallow."""


class _Unsupported(Exception):
    """Internal: the schema uses something the fast path does not mirror."""


def compile_loader(schema: Schema) -> Loader | None:
    """A function ``payload -> loaded dict | None`` equivalent to ``schema.load`` on the
    payloads it accepts (``None``: ask marshmallow); ``None`` if ``schema`` cannot have one.
    """
    try:
        load = _compile_schema(schema)
    except _Unsupported:
        return None

    def fast_load(data: Any) -> dict | None:
        try:
            return load(data)
        except (_Unsure, ValidationError):
            return None

    return fast_load


def _compile_schema(schema: Schema) -> _Convert:
    if any(schema._hooks.values()):  # pre/post load, validates(_schema): marshmallow's job
        raise _Unsupported(type(schema).__name__)
    if schema.opts.unknown != INCLUDE or schema.many or schema.partial or schema.dict_class is not dict:
        raise _Unsupported(type(schema).__name__)
    plan: list[tuple[str, bool, _Convert]] = []
    for name, field in schema.load_fields.items():
        if field.data_key is not None or field.attribute is not None:
            raise _Unsupported(name)
        if field.load_default is not missing:
            raise _Unsupported(name)
        plan.append((name, field.required, _compile_field(field)))
    declared = frozenset(name for name, _, _ in plan)
    steps = tuple(plan)

    def load(data: Any) -> dict:
        if type(data) is not dict:
            raise _Unsure
        out: dict = {}
        for name, required, convert in steps:
            value = data.get(name, missing)
            if value is missing:
                if required:
                    raise _Unsure
                continue
            out[name] = convert(value)
        if len(out) != len(data):
            for key, value in data.items():
                if key not in declared:
                    out[key] = value
        return out

    return load


def _compile_field(field: fields.Field) -> _Convert:
    """The value's conversion, ``None`` handling and validators, as one closure."""
    core = _core(field)
    validators = tuple(field.validators)
    allow_none = field.allow_none

    if not validators:
        def convert(value: Any) -> Any:
            if value is None:
                if allow_none:
                    return None
                raise _Unsure
            return core(value)
    else:
        def convert(value: Any) -> Any:
            if value is None:
                if allow_none:
                    return None
                raise _Unsure
            result = core(value)
            for validator in validators:
                if validator(result) is False:  # raising is the usual way; False too
                    raise _Unsure
            return result

    return convert


def _core(field: fields.Field) -> _Convert:
    kind = type(field)
    if kind is fields.String:
        return _string
    if kind is fields.Integer:
        return _integer
    if kind is fields.Raw:
        return _raw
    if kind is fields.Dict:
        if field.key_field is not None or field.value_field is not None:
            raise _Unsupported("Dict with key/value fields")
        return _dict
    if kind is fields.List:
        item = _compile_field(field.inner)

        def convert_list(value: Any) -> list:
            if type(value) is not list:
                raise _Unsure
            return [item(entry) for entry in value]

        return convert_list
    if kind is fields.Nested:
        if field.many or field.only is not None or field.exclude or field.unknown is not None:
            raise _Unsupported("Nested with many/only/exclude/unknown")
        return _compile_schema(field.schema)
    if isinstance(field, (fields.Nested, fields.List, fields.Mapping, fields.Number)):
        # A subclass of a container or a number may change how items load: not mirrored.
        raise _Unsupported(kind.__name__)
    # A field class of its own: its _deserialize holds its whole rule (no I/O, no context).
    deserialize = field._deserialize
    name = field.name

    def convert_custom(value: Any) -> Any:
        return deserialize(value, name, None)

    return convert_custom


def _string(value: Any) -> str:
    if type(value) is str:
        return value
    raise _Unsure  # bytes, str subclasses...: marshmallow decides


def _integer(value: Any) -> int:
    if type(value) is int:  # not bool; strict or not, an int loads as itself
        return value
    raise _Unsure


def _raw(value: Any) -> Any:
    return value


def _dict(value: Any) -> dict:
    if type(value) is dict:
        return dict(value)
    raise _Unsure
