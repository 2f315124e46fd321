"""Validation of the events Okendo posts to the bridge.

An Okendo webhook body is an *envelope* (``resource``, ``resourceType``, ``topic``,
``sequenceNumber``, ``version``) around a *resource* whose shape depends on
``resourceType`` (field lists: okendo.md in the shared reference docs).
:func:`validate_event` checks both and returns a :class:`ValidatedEvent`.

Failure policy
--------------
* Tolerant about what we don't rely on: unknown keys are kept (``INCLUDE``) at every
  level, every optional field may be missing or ``null`` (a ``delete`` carries a reduced
  resource), enumerations such as ``status`` or ``sentiment`` are not checked (Okendo adds
  values; a new one must not lose an event) and e-mail addresses are not checked for
  format (a shopper's typo must still reach Kustomer).
* Strict about the types the bridge relies on: ids are strings, ``subscriberId`` and
  the resource's own id are required, a review's ``rating`` is an integer from 1 to 5
  (required except on ``delete``), dates are ISO 8601 strings that parse, booleans are
  JSON booleans, nested objects are objects and lists are lists. A payload breaking
  this means Okendo's contract changed: :class:`EventValidationError` is raised, with
  marshmallow's error messages, so the caller can record the event as invalid (and a
  person can replay it once the schema is fixed) instead of relaying nonsense.
* An unknown ``resourceType`` is not an error: only the envelope is validated and the
  event comes back with ``known=False`` (Okendo retries for a day anything that is not
  answered 2xx, so the caller must accept it and mark it skipped).
* Loading never transforms a value (dates stay strings, numbers stay numbers) except
  ``sequenceNumber``, which is normalised to a string. The loaded resource is therefore
  the received resource, checked.
* :func:`validate_event` raises nothing but :class:`EventValidationError`, whatever JSON
  value it is given.
"""

from __future__ import annotations

import json

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.okendo.fastload import compile_loader
from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

__all__ = [
    "EventValidationError",
    "KNOWN_RESOURCE_TYPES",
    "KNOWN_TOPICS",
    "RESOURCE_ID_FIELDS",
    "RESOURCE_SCHEMAS",
    "ValidatedEvent",
    "customer_name_of",
    "email_in",
    "email_of",
    "resource_id_in",
    "sequence_number_text",
    "validate_event",
]

KNOWN_TOPICS = ("create", "update", "delete")


# --------------------------------------------------------------------------- fields


class StrictBoolean(fields.Boolean):
    """A JSON ``true``/``false`` only.

    marshmallow's Boolean turns "yes", "0", 1... into booleans; we keep values as received,
    so anything but a real boolean is a contract change worth reporting.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise self.make_error("invalid")


class JsonNumber(fields.Field):
    """An int or a finite float, returned unchanged (no int/float coercion)."""

    default_error_messages = {"invalid": "Not a valid number."}

    def _deserialize(self, value, attr, data, **kwargs):
        # bool is a subclass of int in Python but not a number in JSON.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            # json.loads accepts NaN/Infinity, but they cannot be re-posted as JSON.
            raise self.make_error("invalid")
        return value


class Scalar(fields.Field):
    """A string, number or boolean (e.g. a reward ``value``: "10" or 10), unchanged."""

    default_error_messages = {"invalid": "Not a string, number or boolean."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (str, bool, int)):
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        raise self.make_error("invalid")


class IsoDateString(fields.String):
    """An ISO 8601 date-time string. Checked by parsing, returned as the original string
    so nothing about the timestamp (precision, offset spelling) changes on the way."""

    default_error_messages = {"invalid_date": "Not a valid ISO 8601 date-time."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            # Python 3.11's fromisoformat accepts the "Z" suffix Okendo uses.
            datetime.fromisoformat(text)
        except ValueError as error:
            raise self.make_error("invalid_date") from error
        return text


_DIGITS = re.compile(r"[0-9]+")


class SequenceNumber(fields.Field):
    """A string of ASCII digits. An int is accepted too and normalised to its string,
    because the value orders events and a sender switching to numbers must not stall us."""

    default_error_messages = {"invalid": "Must be a string of digits."}

    def _deserialize(self, value, attr, data, **kwargs):
        normalized = sequence_number_text(value)
        if normalized is None:
            raise self.make_error("invalid")
        return normalized


def sequence_number_text(value: Any) -> str | None:
    """``sequenceNumber`` as the string of digits it stands for; None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        try:
            return str(value)
        except ValueError:  # more digits than Python will print
            return None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return value
    return None


class AnswerValue(fields.Field):
    """A survey/quiz answer: a scalar, a list, or an object ``{type, value}``.

    Accepted as received; an object's ``type`` must be a string when present. List items
    are not restricted: answers are flattened to text downstream, never interpreted.
    """

    default_error_messages = {
        "invalid": "Not a valid answer (expected a scalar, a list or an object).",
        "invalid_type": "An answer object's type must be a string.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            answer_type = value.get("type")
            if answer_type is not None and not isinstance(answer_type, str):
                raise self.make_error("invalid_type")
            return value
        if isinstance(value, (str, bool, int, float, list)):
            return value
        raise self.make_error("invalid")


def _optional_str() -> fields.String:
    return fields.String(allow_none=True)


def _required_id() -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, error="Must not be empty."),
    )


def _nested(schema: type[Schema]) -> fields.Nested:
    """An optional nested object: missing and null are both fine."""
    return fields.Nested(schema, allow_none=True)


def _nested_list(schema: type[Schema]) -> fields.List:
    """An optional list of objects; null items are tolerated (and skipped downstream)."""
    return fields.List(fields.Nested(schema, allow_none=True), allow_none=True)


# --------------------------------------------------------------------- nested shapes


class TolerantSchema(Schema):
    """Base of every Okendo schema: keep keys we don't declare instead of failing."""

    class Meta:
        unknown = INCLUDE


class CountrySchema(TolerantSchema):
    code = _optional_str()
    name = _optional_str()


class LocationSchema(TolerantSchema):
    country = _nested(CountrySchema)
    zoneCode = _optional_str()


class AttributeSchema(TolerantSchema):
    """attributesWithRating, productAttributes and reviewer attributes items."""

    title = _optional_str()
    type = _optional_str()
    # A number for ranges, a string for single values, a list for multi-values.
    value = fields.Raw(allow_none=True)
    minLabel = _optional_str()
    midLabel = _optional_str()
    maxLabel = _optional_str()


class ReviewerSchema(TolerantSchema):
    name = _optional_str()
    displayName = _optional_str()
    # Not fields.Email: an odd address must still reach Kustomer.
    email = _optional_str()
    avatarUrl = _optional_str()
    isVerified = StrictBoolean(allow_none=True)
    verifiedStatus = _optional_str()
    socialConnection = fields.Raw(allow_none=True)  # shape undocumented
    location = _nested(LocationSchema)
    attributes = _nested_list(AttributeSchema)


class ReviewOrderSchema(TolerantSchema):
    orderId = _optional_str()
    orderNumber = _optional_str()  # what the shopper sees, e.g. "#1205"


class MediaSchema(TolerantSchema):
    streamId = _optional_str()
    type = _optional_str()  # image | video
    fullSizeUrl = _optional_str()
    largeUrl = _optional_str()
    thumbnailUrl = _optional_str()
    isHidden = StrictBoolean(allow_none=True)


class ReplySchema(TolerantSchema):
    body = _optional_str()
    rawBody = _optional_str()
    dateCreated = IsoDateString(allow_none=True)
    isPrivate = StrictBoolean(allow_none=True)


class RewardSchema(TolerantSchema):
    type = _optional_str()
    value = Scalar(allow_none=True)
    description = _optional_str()


class CustomerSchema(TolerantSchema):
    customerId = _optional_str()
    email = _optional_str()  # format deliberately unchecked


class SurveyOrderSchema(TolerantSchema):
    remoteOrderId = _optional_str()


class AnsweredQuestionSchema(TolerantSchema):
    id = _optional_str()
    type = _optional_str()
    text = _optional_str()
    answer = AnswerValue(allow_none=True)
    answerNpsCategory = _optional_str()  # detractor | passive | promoter
    customAnswer = _optional_str()
    customAnswerOptionText = _optional_str()
    profileQuestionId = _optional_str()
    marketingOptIn = StrictBoolean(allow_none=True)


class BirthdaySchema(TolerantSchema):
    day = fields.Integer(strict=True, allow_none=True)
    month = fields.Integer(strict=True, allow_none=True)


# -------------------------------------------------------------------- resource shapes


class ReviewSchema(TolerantSchema):
    """``review`` create/update: the object ``GET /enterprise/reviews`` returns."""

    subscriberId = _required_id()
    reviewId = _required_id()
    productId = _optional_str()  # platform-prefixed, e.g. "shopify-1885452822491"
    productName = _optional_str()
    variantId = _optional_str()
    variantName = _optional_str()
    rating = fields.Integer(
        strict=True,  # "5" and 4.5 are errors, not coerced
        required=True,
        validate=validate.Range(min=1, max=5, error="Must be between {min} and {max}."),
    )
    title = _optional_str()
    body = _optional_str()
    isRecommended = StrictBoolean(allow_none=True)
    sentiment = _optional_str()
    containsProfanity = StrictBoolean(allow_none=True)
    status = _optional_str()  # approved | pending | rejected
    tags = fields.List(fields.String(), allow_none=True)
    isIncentivized = StrictBoolean(allow_none=True)
    dateCreated = IsoDateString(allow_none=True)
    helpfulCount = fields.Integer(strict=True, allow_none=True)
    unhelpfulCount = fields.Integer(strict=True, allow_none=True)
    attributesWithRating = _nested_list(AttributeSchema)
    productAttributes = _nested_list(AttributeSchema)
    media = _nested_list(MediaSchema)
    order = _nested(ReviewOrderSchema)
    reply = _nested(ReplySchema)
    reviewer = _nested(ReviewerSchema)
    reward = _nested(RewardSchema)


class ReviewDeleteSchema(ReviewSchema):
    """``review`` delete: a reduced resource (ids only, in the worst case).

    A rating that is present is still checked, but it may be missing or null.
    """

    rating = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=5, error="Must be between {min} and {max}."),
    )


class SurveyResponseSchema(TolerantSchema):
    subscriberId = _required_id()
    surveyResponseId = _required_id()
    surveyId = _optional_str()
    surveyName = _optional_str()
    dateCreated = IsoDateString(allow_none=True)
    channel = _optional_str()
    channelSurveyId = _optional_str()
    channelSurveyDescription = _optional_str()
    customer = _nested(CustomerSchema)
    order = _nested(SurveyOrderSchema)
    answeredQuestions = _nested_list(AnsweredQuestionSchema)
    reward = _nested(RewardSchema)


class QuizResponseSchema(TolerantSchema):
    """No real payload is known: only ids, customer, date and answers are declared.

    ``order`` and ``productRecommendations`` are kept as received (shape unknown).
    """

    subscriberId = _required_id()
    quizResponseId = _required_id()
    quizId = _optional_str()
    quizName = _optional_str()
    dateCreated = IsoDateString(allow_none=True)
    customer = _nested(CustomerSchema)
    marketingOptIn = StrictBoolean(allow_none=True)
    answeredQuestions = _nested_list(AnsweredQuestionSchema)
    reward = _nested(RewardSchema)


class LoyaltyCustomerSchema(TolerantSchema):
    """Points balance, VIP tier and dates have undocumented names: kept, unchecked."""

    subscriberId = _required_id()
    loyaltyCustomerId = _required_id()
    customer = _nested(CustomerSchema)
    birthday = _nested(BirthdaySchema)
    status = _optional_str()  # pending | enrolled | blocked


class LoyaltyTransactionSchema(TolerantSchema):
    """Core shared by the three loyalty transaction types (documented for adjustments;
    earning/redemption add undocumented action/reward fields, kept as received).
    ``customer`` is absent on delete."""

    subscriberId = _required_id()
    loyaltyTransactionId = _required_id()
    loyaltyCustomerId = _optional_str()
    amount = JsonNumber(allow_none=True)
    customer = _nested(CustomerSchema)
    date = IsoDateString(allow_none=True)
    status = _optional_str()


class LoyaltyEarningTransactionSchema(LoyaltyTransactionSchema):
    pass


class LoyaltyRedemptionTransactionSchema(LoyaltyTransactionSchema):
    pass


class LoyaltyAdjustmentTransactionSchema(LoyaltyTransactionSchema):
    internalReason = _optional_str()
    notificationText = _optional_str()


class ReferralSchema(TolerantSchema):
    """Shape inferred, not documented: the id may be ``referralId`` or ``id``."""

    subscriberId = _required_id()
    referralId = _optional_str()
    id = _optional_str()
    customer = _nested(CustomerSchema)
    dateCreated = IsoDateString(allow_none=True)

    @validates_schema
    def _has_an_id(self, data, **kwargs):
        if not (data.get("referralId") or data.get("id")):
            raise ValidationError(
                "Missing data for required field (referralId or id).",
                field_name="referralId",
            )


class EnvelopeSchema(TolerantSchema):
    """The part every event shares. Unknown top-level keys are kept, never an error."""

    resource = fields.Dict(required=True)
    resourceType = fields.String(
        required=True, validate=validate.Length(min=1, error="Must not be empty.")
    )
    topic = fields.String(required=True, validate=validate.OneOf(KNOWN_TOPICS))
    sequenceNumber = SequenceNumber(required=True)
    version = fields.String(allow_none=True)


RESOURCE_SCHEMAS: dict[str, type[Schema]] = {
    "review": ReviewSchema,
    "survey_response": SurveyResponseSchema,
    "quiz_response": QuizResponseSchema,
    "loyalty_customer": LoyaltyCustomerSchema,
    "loyalty_earning_transaction": LoyaltyEarningTransactionSchema,
    "loyalty_redemption_transaction": LoyaltyRedemptionTransactionSchema,
    "loyalty_adjustment_transaction": LoyaltyAdjustmentTransactionSchema,
    "referral": ReferralSchema,
}

# Types whose delete carries less than a create does, and what checks them then.
_DELETE_SCHEMAS: dict[str, type[Schema]] = {"review": ReviewDeleteSchema}

KNOWN_RESOURCE_TYPES: frozenset[str] = frozenset(RESOURCE_SCHEMAS)

# The resource's own id per type. A referral may carry it as "id" instead (see
# _ALTERNATE_ID_FIELDS).
RESOURCE_ID_FIELDS: dict[str, str] = {
    "review": "reviewId",
    "survey_response": "surveyResponseId",
    "quiz_response": "quizResponseId",
    "loyalty_customer": "loyaltyCustomerId",
    "loyalty_earning_transaction": "loyaltyTransactionId",
    "loyalty_redemption_transaction": "loyaltyTransactionId",
    "loyalty_adjustment_transaction": "loyaltyTransactionId",
    "referral": "referralId",
}
_ALTERNATE_ID_FIELDS: dict[str, tuple[str, ...]] = {"referral": ("id",)}

# Schemas hold no per-call state when loading, so one instance per class is enough.
_ENVELOPE = EnvelopeSchema()
_SCHEMA_INSTANCES: dict[type[Schema], Schema] = {
    cls: cls() for cls in [*RESOURCE_SCHEMAS.values(), *_DELETE_SCHEMAS.values()]
}
# Each schema's compiled fast path (bridge.okendo.fastload), None where it has none.
_FAST_LOADERS: dict[Schema, Any] = {
    schema: compile_loader(schema) for schema in [_ENVELOPE, *_SCHEMA_INSTANCES.values()]
}


def _load(schema: Schema, data: Any) -> dict:
    """``schema.load(data)``, through the compiled fast path when it is sure of the
    result; marshmallow itself otherwise, so every error is marshmallow's."""
    fast = _FAST_LOADERS.get(schema)
    if fast is not None:
        loaded = fast(data)
        if loaded is not None:
            return loaded
    return schema.load(data)


# ------------------------------------------------------------------------ public API


class EventValidationError(Exception):
    """The payload is not a well-formed Okendo event.

    ``errors`` is marshmallow's messages dict, e.g.
    ``{"resource": {"rating": ["Must be between 1 and 5."]}}``.
    """

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__(f"invalid Okendo event: {errors!r}")

    def as_json(self) -> dict:
        """The errors with string keys only (marshmallow keys list positions by int)."""
        return json.loads(json.dumps(self.errors, default=str))


@dataclass(frozen=True)
class ValidatedEvent:
    """An Okendo event that passed :func:`validate_event`.

    ``resource`` is the loaded resource (the received one, checked, when ``known``; the
    received one unchecked otherwise); ``envelope`` is the whole loaded body, its
    ``resource`` the resource exactly as received. Treat both as read-only: bodies built
    from the event share nested objects with it.
    """

    resource_type: str
    topic: str
    sequence_number: str
    subscriber_id: str | None
    resource_id: str | None
    resource: dict
    envelope: dict
    known: bool

    @property
    def name(self) -> str:
        """The event name as Okendo's docs write it, e.g. ``review.create``."""
        return f"{self.resource_type}.{self.topic}"

    def summary(self) -> dict:
        """The event's identity as plain data (for templates, previews, logs)."""
        return {"name": self.name, "resource_type": self.resource_type, "topic": self.topic,
                "sequence_number": self.sequence_number, "subscriber_id": self.subscriber_id,
                "resource_id": self.resource_id}


def validate_event(payload: Any) -> ValidatedEvent:
    """Check an Okendo webhook body (any decoded JSON value) and return the event.

    Raises :class:`EventValidationError` (and nothing else) when the envelope is invalid
    or the resource of a known type breaks its schema. Unknown resource types pass with
    ``known=False``.
    """
    if not isinstance(payload, dict):
        raise EventValidationError({"_schema": ["Expected a JSON object"]})

    errors: dict[str, Any] = {}
    try:
        envelope = _load(_ENVELOPE, payload)
    except ValidationError as error:
        envelope = None
        errors.update(error.normalized_messages())

    resource_type = payload.get("resourceType")
    raw_resource = payload.get("resource")
    known = isinstance(resource_type, str) and resource_type in RESOURCE_SCHEMAS
    loaded_resource: dict | None = None
    # Check the resource even when the envelope failed, so one report lists every problem.
    if known and isinstance(raw_resource, dict):
        schema = _resource_schema(resource_type, payload.get("topic"))
        try:
            loaded_resource = _load(schema, raw_resource)
        except ValidationError as error:
            errors["resource"] = error.normalized_messages()

    if errors or envelope is None:
        raise EventValidationError(errors)

    if known:
        assert loaded_resource is not None  # the envelope guarantees a dict resource
        resource = loaded_resource
        subscriber_id = resource["subscriberId"]
        resource_id = _resource_id(resource_type, resource)
    else:
        # Nothing is checked inside an unknown resource: pick the store id only if it
        # looks like one, so the caller can still attribute the skipped event.
        resource = envelope["resource"]
        candidate = resource.get("subscriberId")
        subscriber_id = candidate if isinstance(candidate, str) and candidate else None
        resource_id = None

    return ValidatedEvent(
        resource_type=envelope["resourceType"],
        topic=envelope["topic"],
        sequence_number=envelope["sequenceNumber"],
        subscriber_id=subscriber_id,
        resource_id=resource_id,
        resource=resource,
        envelope=envelope,
        known=known,
    )


def _resource_schema(resource_type: str, topic: Any) -> Schema:
    cls = RESOURCE_SCHEMAS[resource_type]
    if topic == "delete":
        cls = _DELETE_SCHEMAS.get(resource_type, cls)
    return _SCHEMA_INSTANCES[cls]


def _resource_id(resource_type: str, resource: dict) -> str | None:
    """The resource's own id (a non-empty string) for a known type; None when absent."""
    for field_name in (
        RESOURCE_ID_FIELDS[resource_type],
        *_ALTERNATE_ID_FIELDS.get(resource_type, ()),
    ):
        value = resource.get(field_name)
        if isinstance(value, str) and value:
            return value
    return None


resource_id_in = _resource_id  # public name, for a resource not validated yet (bridge.okendo.envelope)


def dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]...`` or None as soon as a step is not an object.

    Used on resources that may be reduced (delete) or unchecked (unknown type).
    """
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str | None:
    """A non-blank string, stripped; None otherwise."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _person(event: ValidatedEvent) -> Any:
    """The object describing the shopper: the reviewer of a review, else the customer."""
    return _person_in(event.resource_type, event.resource)


def _person_in(resource_type: str, resource: Any) -> Any:
    if resource_type == "review":
        return dig(resource, "reviewer")
    return dig(resource, "customer")


def email_of(event: ValidatedEvent) -> str | None:
    """The shopper's e-mail: ``reviewer.email`` for reviews, ``customer.email`` for the
    other types (survey, quiz, loyalty; tried for any type). Surrounding whitespace is
    stripped, the format is not checked; None when absent or blank."""
    return email_in(event.resource_type, event.resource)


def email_in(resource_type: str, resource: Any) -> str | None:
    """:func:`email_of` for a resource that has not been validated (any JSON value)."""
    return _text(dig(_person_in(resource_type, resource), "email"))


def customer_name_of(event: ValidatedEvent) -> str | None:
    """The shopper's name: ``reviewer.name`` (else ``displayName``) for reviews;
    ``customer.name`` (else ``firstName lastName``) otherwise; None when unknown."""
    person = _person(event)
    name = _text(dig(person, "name"))
    if name:
        return name
    if event.resource_type == "review":
        return _text(dig(person, "displayName"))
    parts = [_text(dig(person, "firstName")), _text(dig(person, "lastName"))]
    return " ".join(part for part in parts if part) or None
