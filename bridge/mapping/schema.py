"""marshmallow schemas of the mapping file, and the translation of their errors into
``file:line:col`` problems.

Failure policy: the schemas check everything that can be checked without running the
mapping: types, allowed values, unknown keys (a typo must never be silently ignored),
event names, body shapes against the routes' events, filter and template syntax,
custom attribute names, duplicate route names. Running it against sample events is
:mod:`bridge.mapping.checks`' job. Every message names the bad value and what is
allowed. :func:`validate_document` never raises for bad content: it returns problems.

Schemas load into plain dicts; :mod:`bridge.mapping.model` builds the dataclasses and
applies defaults (defaults are not set here, so that a per-store override, loaded
with ``partial=True``, contains only what the admin wrote).
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import TemplateSyntaxError
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from bridge.bodies import BODY_SHAPES, body_shape_applies
from bridge.mapping import templates
from bridge.mapping.envsubst import MissingEnv
from bridge.mapping.errors import Problem
from bridge.okendo.nps import NPS_CATEGORIES
from bridge.mapping.events import (
    FEEDBACK_TYPES,
    did_you_mean,
    parse_pattern,
    resource_types_of,
)
from bridge.timeline.klasses import TIMELINE_TYPES

SENTIMENTS = ("positive", "negative", "neutral", "mixed")
CONVERSATION_STATUSES = ("open", "done")
CUSTOM_SUFFIXES = ("Str", "Txt", "Num", "At", "Bool", "Url")
_CUSTOM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*?(Str|Txt|Num|At|Bool|Url)")
_ROUTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SUBSCRIBER_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_ASSIGNED_TEAMS = 10  # Kustomer's limit for assignedTeams


# ------------------------------------------------------------------------ messages


class KeyMessage(str):
    """A message about a key itself (unknown, misspelt, badly named): it is reported at
    the key's position rather than its value's."""


class TemplateMessage(str):
    """A template syntax error, with the line inside the template it is on."""

    template_line: int | None = None

    @classmethod
    def at(cls, text: str, template_line: int | None) -> "TemplateMessage":
        message = cls(text)
        message.template_line = template_line
        return message


def _template_error(kind: str, error: TemplateSyntaxError) -> TemplateMessage:
    where = f" (template line {error.lineno})" if error.lineno and error.lineno > 1 else ""
    return TemplateMessage.at(f"{kind} syntax error{where}: {error.message}", error.lineno)


# -------------------------------------------------------------------------- fields


class Text(fields.String):
    """A string; ``null`` and the empty string are refused unless allowed."""

    default_error_messages = {"invalid": "must be text", "empty": "must not be empty"}

    def __init__(self, *, allow_empty: bool = False, **kwargs):
        self.allow_empty = allow_empty
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.allow_empty and not text.strip():
            raise self.make_error("empty")
        return text


class EnvText(Text):
    """Text that may come from an unset ``${NAME}``: then it loads as the
    :class:`MissingEnv` marker, which the model turns into ``None`` plus a warning."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, MissingEnv):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class HookUrl(EnvText):
    """An http(s) URL, stored exactly as written (Kustomer's hook URLs must not be
    rebuilt), or an unset ``${NAME}``."""

    default_error_messages = {"not_url": "{value!r} is not an http(s) URL"}

    def _deserialize(self, value, attr, data, **kwargs):
        url = super()._deserialize(value, attr, data, **kwargs)
        if isinstance(url, str) and (not re.match(r"https?://[^/\s]+", url) or " " in url):
            raise self.make_error("not_url", value=url)
        return url


class Flag(fields.Field):
    """``true`` or ``false`` only (YAML 1.2: ``yes``/``on`` are text, and so an error)."""

    default_error_messages = {"invalid": "must be true or false, not {value!r}"}

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise self.make_error("invalid", value=value)


class WholeNumber(fields.Field):
    """An integer (digits from a ``${NAME}`` too); booleans and 2.5 are refused."""

    default_error_messages = {"invalid": "must be a whole number, not {value!r}"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.make_error("invalid", value=value)


class EventPattern(Text):
    """``resourceType.topic``; ``*`` for either part."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            parse_pattern(text)
        except ValueError as error:
            raise ValidationError(str(error)) from None
        return text


class BodyShape(Text):
    def _deserialize(self, value, attr, data, **kwargs):
        shape = super()._deserialize(value, attr, data, **kwargs)
        if shape not in BODY_SHAPES:
            raise ValidationError(
                f"{shape!r} is not a body shape; use one of {', '.join(sorted(BODY_SHAPES))}")
        return shape


class FilterExpression(Text):
    """A Jinja2 expression (no ``{{ }}``), e.g. ``rating <= 3``."""

    def _deserialize(self, value, attr, data, **kwargs):
        source = super()._deserialize(value, attr, data, **kwargs)
        if "{{" in source or "{%" in source:
            raise ValidationError("write the filter as a bare expression, without {{ }} or {% %},"
                                  " e.g. rating <= 3")
        try:
            templates.compile_when(source)
        except TemplateSyntaxError as error:
            raise ValidationError(f"filter syntax error: {error.message}") from None
        return source


class TemplateText(Text):
    """A Jinja2 template: syntax and the top-level names it reads are checked."""

    def _deserialize(self, value, attr, data, **kwargs):
        source = super()._deserialize(value, attr, data, **kwargs)
        _check_template(source)
        return source


def _check_template(source: str) -> None:
    try:
        templates.compile_template(source)
        unknown = templates.unknown_names(source, templates.TEMPLATE_NAMES)
    except TemplateSyntaxError as error:
        raise ValidationError([_template_error("template", error)]) from None
    if unknown:
        raise ValidationError(_unknown_names_message(unknown, templates.TEMPLATE_NAMES))


def _unknown_names_message(unknown: list[str], known) -> str:
    hints = "".join(did_you_mean(name, known) for name in unknown[:1])
    return (f"unknown name{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            f"{hints}; available: {', '.join(sorted(known))}")


class _KeyedField(fields.Field):
    """A mapping whose keys the admin chooses; errors are reported per key, with
    problems in a key's *name* marked as :class:`KeyMessage`."""

    default_error_messages = {"invalid": "must be a mapping of key: value lines"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        result, errors = {}, {}
        for key, item in value.items():
            key_problem = self.check_key(key)
            if key_problem:
                errors[key] = {"_schema": [KeyMessage(key_problem)]}
                continue
            try:
                result[key] = self.load_value(key, item, **kwargs)
            except ValidationError as error:
                errors[key] = error.messages
        if errors:
            raise ValidationError(errors)
        return result

    def check_key(self, key: str) -> str | None:
        return None

    def load_value(self, key: str, value: Any, **kwargs) -> Any:
        return value


class StaticFields(_KeyedField):
    """``extra``: static values merged into a body; they must be plain JSON values."""

    def load_value(self, key, value, **kwargs):
        _refuse_missing_env(value)
        return value


def _refuse_missing_env(value: Any) -> None:
    """Raise, keyed by where it sits, for an unset ${NAME} anywhere inside ``value``."""
    if isinstance(value, MissingEnv):
        raise ValidationError(f"{value.describe()}; give a default with ${{NAME:-default}}")
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    errors = {}
    for key, item in items:
        try:
            _refuse_missing_env(item)
        except ValidationError as error:
            errors[key] = error.messages
    if errors:
        raise ValidationError(errors)


class Renames(_KeyedField):
    """``rename: {oldKey: newKey}`` at the top level of a body."""

    def load_value(self, key, value, **kwargs):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"must be the new key name (text), not {value!r}")
        if value == key:
            raise ValidationError(f"renames {key!r} to itself")
        return value

    def _deserialize(self, value, attr, data, **kwargs):
        renames = super()._deserialize(value, attr, data, **kwargs)
        seen: dict[str, str] = {}
        for old, new in renames.items():
            if new in seen:
                raise ValidationError({old: [f"{seen[new]!r} is renamed to {new!r} too"]})
            seen[new] = old
        return renames


class CustomAttributes(_KeyedField):
    """Kustomer conversation custom attributes: ``name<Suffix>: value-or-template``.

    ``null`` is allowed as a value: in a per-store override it removes an attribute the
    global settings set.
    """

    def check_key(self, key):
        if not _CUSTOM_NAME.fullmatch(key):
            suffix_hint = key[0].lower() + key[1:] + "Str" if key and key[0].isalpha() else "okendoRatingNum"
            return (f"custom attribute {key!r} needs a Kustomer type suffix"
                    f" ({', '.join(CUSTOM_SUFFIXES)}), e.g. {suffix_hint!r};"
                    " and only letters and digits")
        return None

    def load_value(self, key, value, **kwargs):
        suffix = _CUSTOM_NAME.fullmatch(key).group(1)
        if value is None:
            return None
        if isinstance(value, MissingEnv):
            raise ValidationError(f"{value.describe()}; give a default with ${{NAME:-default}}")
        if isinstance(value, str):
            _check_template(value)
            return value
        if suffix == "Num" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if suffix == "Bool" and isinstance(value, bool):
            return value
        wanted = {"Num": "a number", "Bool": "true or false"}.get(suffix, "text")
        raise ValidationError(f"a {suffix} attribute needs {wanted} (or a template), not {value!r}")


class KeyedNested(_KeyedField):
    """A mapping of admin-chosen keys to objects of one schema (``stores``)."""

    def __init__(self, schema: Schema, key_check=None, **kwargs):
        self._item_schema = schema
        self._key_check = key_check
        super().__init__(**kwargs)

    def check_key(self, key):
        return self._key_check(key) if self._key_check else None

    def load_value(self, key, value, **kwargs):
        return self._item_schema.load(value)


def _subscriber_id_problem(key: str) -> str | None:
    if _SUBSCRIBER_ID.fullmatch(key):
        return None
    return (f"{key!r} is not an Okendo subscriberId (a UUID such as"
            " 5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21; it is in every event's resource)")


def _list(item: fields.Field, **kwargs) -> fields.List:
    return fields.List(item, error_messages={"invalid": "must be a list, e.g. [a, b]"}, **kwargs)


# ------------------------------------------------------------------------- schemas


class StrictSchema(Schema):
    """Unknown keys are errors, reported at the key with the allowed ones listed.

    marshmallow's own ``RAISE`` says only "Unknown field."; we exclude them from the
    load and report them ourselves.
    """

    class Meta:
        unknown = EXCLUDE

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _refuse_unknown_keys(self, data, original_data, **kwargs):
        if not isinstance(original_data, dict):
            return
        allowed = [field.data_key or name for name, field in self.load_fields.items()]
        errors = {
            key: [KeyMessage(f"unknown key {key!r}{did_you_mean(str(key), allowed)};"
                             f" allowed here: {', '.join(allowed)}")]
            for key in original_data if key not in allowed
        }
        if errors:
            raise ValidationError(errors)


ROUTE_ACTIONS = ("hook", "timeline")
# What a timeline route cannot have: it writes cards through the API, not a hook body.
_HOOK_ONLY_KEYS = ("url", "body", "extra", "rename")


class RouteSchema(StrictSchema):
    name = Text(required=True, validate=validate.Regexp(
        _ROUTE_NAME, error="{input!r} is not a route name: use letters, digits, '-', '_' or '.'"))
    events = _list(EventPattern(), required=True,
                   validate=validate.Length(min=1, error="list at least one event"))
    # hook (the default): post a body to a hook URL; timeline: a card per review or
    # survey response on the shopper's Kustomer timeline (see bridge.timeline).
    action = Text(validate=validate.OneOf(
        ROUTE_ACTIONS, error="{input!r} is not a route action; use one of {choices}"))
    url = HookUrl()
    body = BodyShape()
    when = FilterExpression(allow_none=True)
    extra = StaticFields()
    rename = Renames()
    stores = _list(Text(validate=lambda value: _refuse(_subscriber_id_problem(value))),
                   allow_none=True)

    @validates_schema(skip_on_field_errors=True)
    def _fields_fit_action(self, data, **kwargs):
        if data.get("action", "hook") == "hook":
            missing = {key: ["Missing data for required field."]  # worded by _problem
                       for key in ("url", "body") if key not in data}
            if missing:
                raise ValidationError(missing)
            return

        errors: dict = {key: [KeyMessage(f"a timeline route takes no {key!r}: it writes cards"
                                         " through Kustomer's API, not a hook body")]
                        for key in _HOOK_ONLY_KEYS if key in data}
        misfits = [p for p in data["events"] if p.partition(".")[0] not in TIMELINE_TYPES | {"*"}]
        if misfits:
            errors["events"] = [f"timeline cards are only written for {', '.join(sorted(TIMELINE_TYPES))}"
                                f" events, not {', '.join(misfits)}"]
        if errors:
            raise ValidationError(errors)

    @validates_schema(skip_on_field_errors=True)
    def _body_fits_events(self, data, **kwargs):
        if "body" not in data:
            return
        shape = data["body"]
        misfits = sorted(
            pattern for pattern in data["events"]
            if not all(body_shape_applies(shape, resource_type)
                       for resource_type in resource_types_of([pattern]))
        )
        if misfits:
            fitting = sorted(t for t in resource_types_of(["*.*"]) if body_shape_applies(shape, t))
            raise ValidationError({"body": [
                f"body shape {shape!r} does not apply to {', '.join(misfits)}"
                f" (it describes {', '.join(fitting)} only); use passthrough, or split the route"
            ]})

    @validates_schema(skip_on_field_errors=True)
    def _filter_names_exist(self, data, **kwargs):
        source = data.get("when")
        if not source:
            return
        types = resource_types_of(data["events"])
        known = templates.resource_field_names(types) | templates.WHEN_NAMES
        unknown = templates.unknown_names(source, known, expression=True)
        if unknown:
            raise ValidationError({"when": [
                f"unknown name{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
                f"{did_you_mean(unknown[0], known)}; a filter reads the fields of"
                f" {', '.join(sorted(types))} events, plus event and resource"
            ]})


def _refuse(problem: str | None) -> bool:
    if problem:
        raise ValidationError(problem)
    return True


class NegativeSchema(StrictSchema):
    rating_at_most = WholeNumber(allow_none=True, validate=validate.Range(
        1, 5, error="must be from {min} to {max} (or null to ignore ratings)"))
    sentiments = _list(Text(validate=validate.OneOf(
        SENTIMENTS, error="{input!r} is not a sentiment; use one of {choices}")))
    nps_categories = _list(Text(validate=validate.OneOf(
        NPS_CATEGORIES, error="{input!r} is not an NPS category; use one of {choices}")))
    profanity = Flag()
    keywords = _list(Text())


class ConversationSchema(StrictSchema):
    subject = TemplateText()
    priority = WholeNumber(validate=validate.Range(
        1, 5, error="must be from {min} (lowest) to {max} (highest)"))
    status = Text(validate=validate.OneOf(
        CONVERSATION_STATUSES, error="{input!r} is not a conversation status; use one of {choices}"))
    tags = _list(Text())
    team_ids = _list(Text(), validate=validate.Length(
        max=MAX_ASSIGNED_TEAMS, error="Kustomer assigns at most {max} teams"))
    queue_id = EnvText(allow_none=True)
    custom = CustomAttributes()
    note = TemplateText()


class TicketsSchema(StrictSchema):
    enabled = Flag()
    events = _list(EventPattern(), required=True,
                   validate=validate.Length(min=1, error="list at least one event"))
    negative = fields.Nested(NegativeSchema, required=True)
    conversation = fields.Nested(ConversationSchema)

    @validates_schema(skip_on_field_errors=False)
    def _events_are_feedback(self, data, **kwargs):
        errors = {}
        for index, pattern in enumerate(data.get("events") or ()):
            resource_type = pattern.partition(".")[0]
            if resource_type != "*" and resource_type not in FEEDBACK_TYPES:
                errors[index] = [f"tickets are only opened for feedback:"
                                 f" {', '.join(sorted(FEEDBACK_TYPES))} events"
                                 f" ({resource_type} carries no rating or answers to judge)"]
        if errors:
            raise ValidationError({"events": errors})


class KustomerSchema(StrictSchema):
    api_key = EnvText()
    api_base = HookUrl()


class StoreSchema(StrictSchema):
    name = Text()
    # This store's Okendo signing secret(s), `${NAME}` (see bridge.web.webhook_secrets).
    secret = EnvText()
    kustomer = fields.Nested(KustomerSchema)
    # partial: an override names only what differs from the global tickets section.
    tickets = fields.Nested(TicketsSchema(partial=True))


class MappingSchema(StrictSchema):
    version = WholeNumber(required=True, validate=validate.Equal(
        1, error="version {input!r} is not supported; this bridge reads version 1"))
    routes = _list(fields.Nested(RouteSchema))
    tickets = fields.Nested(TicketsSchema, allow_none=True)
    stores = KeyedNested(StoreSchema(), key_check=_subscriber_id_problem, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _route_names_unique(self, data, **kwargs):
        first_index: dict[str, int] = {}
        errors = {}
        for index, route in enumerate(data.get("routes") or ()):
            name = route.get("name") if isinstance(route, dict) else None
            if name is None:
                continue
            if name in first_index:
                errors[index] = {"name": [f"duplicate route name {name!r}"
                                          f" (routes[{first_index[name]}] has it already)"]}
            else:
                first_index[name] = index
        if errors:
            raise ValidationError({"routes": errors})


# ------------------------------------------------------------------ error translation

_GENERIC = {
    "Invalid input type.": "must be a mapping of key: value lines",
    "Field may not be null.": "must not be null",
    "Not a valid list.": "must be a list",
    "Not a valid string.": "must be text",
}


def flatten_errors(messages: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """marshmallow's nested error dict as (path, message) pairs."""
    pairs: list[tuple[tuple, Any]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            pairs += flatten_errors(value, path if key == "_schema" else path + (key,))
    elif isinstance(messages, list):
        for item in messages:
            pairs += flatten_errors(item, path)
    else:
        pairs.append((path, messages))
    return pairs


def validate_document(document) -> tuple[dict | None, list[tuple[Problem, tuple]]]:
    """Load ``document.data`` with :class:`MappingSchema`: ``(data, [])``, or
    ``(None, [(problem, path in the document), ...])``."""
    try:
        return MappingSchema().load(document.data), []
    except ValidationError as error:
        return None, [(_problem(document, path, message), path)
                      for path, message in flatten_errors(error.messages)]


def _problem(document, path: tuple, message: Any) -> Problem:
    if message == "Missing data for required field." and path:
        return document.problem(path[:-1], f"{path[-1]!r} is required")
    text = _GENERIC.get(str(message), str(message))
    if path in document.missing_env:
        # The value was an unset ${NAME}, and this field cannot do without it.
        text = (f"{MissingEnv(document.missing_env[path]).describe()}, and this value cannot"
                " be left unset; set it or give a default with ${NAME:-default}")
    return document.problem(
        path, text,
        at_key=isinstance(message, KeyMessage),
        template_line=getattr(message, "template_line", None),
    )
