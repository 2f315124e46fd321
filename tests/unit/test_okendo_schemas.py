"""Okendo event validation: envelope, every resource type, tolerance and strictness."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.bodies import BODY_SHAPES, body_shape_applies, build_body
from bridge.okendo.schemas import (
    KNOWN_RESOURCE_TYPES,
    KNOWN_TOPICS,
    RESOURCE_ID_FIELDS,
    EventValidationError,
    ValidatedEvent,
    customer_name_of,
    email_of,
    validate_event,
)
from tests.hypothesis_profiles import examples

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples" / "okendo"
SAMPLE_PATHS = sorted(SAMPLES_DIR.glob("*.json"))


def load_sample(name: str) -> dict:
    return json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))


def errors_of(payload) -> dict:
    with pytest.raises(EventValidationError) as caught:
        validate_event(payload)
    assert isinstance(caught.value.errors, dict) and caught.value.errors
    return caught.value.errors


def review(**changes) -> dict:
    """review-create-negative.json with resource keys changed (None value = key removed)."""
    payload = load_sample("review-create-negative.json")
    for key, value in changes.items():
        if value is None:
            payload["resource"].pop(key, None)
        else:
            payload["resource"][key] = value
    return payload


def envelope(resource_type: str, resource: dict, topic: str = "create") -> dict:
    return {
        "resource": resource,
        "resourceType": resource_type,
        "topic": topic,
        "sequenceNumber": "1",
        "version": "2025-02-01",
    }


SUBSCRIBER = "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21"

# The smallest resource each known type accepts on create.
MINIMAL_RESOURCES = {
    "review": {"subscriberId": SUBSCRIBER, "reviewId": "r-1", "rating": 3},
    "survey_response": {"subscriberId": SUBSCRIBER, "surveyResponseId": "s-1"},
    "quiz_response": {"subscriberId": SUBSCRIBER, "quizResponseId": "q-1"},
    "loyalty_customer": {"subscriberId": SUBSCRIBER, "loyaltyCustomerId": "lc-1"},
    "loyalty_earning_transaction": {"subscriberId": SUBSCRIBER, "loyaltyTransactionId": "t-1"},
    "loyalty_redemption_transaction": {
        "subscriberId": SUBSCRIBER,
        "loyaltyTransactionId": "t-2",
    },
    "loyalty_adjustment_transaction": {
        "subscriberId": SUBSCRIBER,
        "loyaltyTransactionId": "t-3",
    },
    "referral": {"subscriberId": SUBSCRIBER, "referralId": "ref-1"},
}


# ------------------------------------------------------------------------- samples


def test_samples_are_present():
    assert len(SAMPLE_PATHS) >= 7


@pytest.mark.parametrize("path", SAMPLE_PATHS, ids=lambda path: path.name)
def test_every_sample_validates(path):
    payload = json.loads(path.read_text(encoding="utf-8"))
    event = validate_event(payload)
    assert isinstance(event, ValidatedEvent)
    assert event.known
    assert event.resource_type == payload["resourceType"]
    assert event.topic == payload["topic"]
    assert event.sequence_number == payload["sequenceNumber"]
    assert event.subscriber_id == payload["resource"]["subscriberId"]
    assert event.resource_id == payload["resource"][RESOURCE_ID_FIELDS[event.resource_type]]
    # Loading checks, it does not transform: the loaded resource is the received one.
    assert event.resource == payload["resource"]
    assert event.envelope == payload
    assert event.name == f"{payload['resourceType']}.{payload['topic']}"


def test_validated_event_is_frozen():
    event = validate_event(load_sample("review-create-negative.json"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.topic = "delete"  # type: ignore[misc]


def test_known_types_and_id_fields():
    assert isinstance(KNOWN_RESOURCE_TYPES, frozenset)
    assert KNOWN_RESOURCE_TYPES == {
        "review",
        "survey_response",
        "quiz_response",
        "loyalty_customer",
        "loyalty_earning_transaction",
        "loyalty_redemption_transaction",
        "loyalty_adjustment_transaction",
        "referral",
    }
    assert set(RESOURCE_ID_FIELDS) == KNOWN_RESOURCE_TYPES
    assert RESOURCE_ID_FIELDS["review"] == "reviewId"
    assert RESOURCE_ID_FIELDS["loyalty_customer"] == "loyaltyCustomerId"
    assert RESOURCE_ID_FIELDS["loyalty_earning_transaction"] == "loyaltyTransactionId"


# ------------------------------------------------------------------------ envelope


@pytest.mark.parametrize("payload", [None, [], [1, 2], "review", "", 0, 1.5, True])
def test_non_object_payload(payload):
    assert errors_of(payload) == {"_schema": ["Expected a JSON object"]}


def test_empty_object_lists_every_required_envelope_key():
    errors = errors_of({})
    assert set(errors) == {"resource", "resourceType", "topic", "sequenceNumber"}


@pytest.mark.parametrize("key", ["resource", "resourceType", "topic", "sequenceNumber"])
def test_required_envelope_keys(key):
    payload = load_sample("review-create-negative.json")
    del payload[key]
    assert errors_of(payload)[key] == ["Missing data for required field."]


def test_version_is_optional():
    payload = load_sample("review-create-negative.json")
    del payload["version"]
    assert validate_event(payload).envelope.get("version") is None
    payload["version"] = None
    assert validate_event(payload).envelope["version"] is None
    payload["version"] = 20250201
    assert "version" in errors_of(payload)


def test_unknown_top_level_keys_are_kept():
    payload = load_sample("review-create-negative.json")
    payload["attempt"] = 3
    payload["meta"] = {"x": [1]}
    event = validate_event(payload)
    assert event.envelope["attempt"] == 3
    assert event.envelope["meta"] == {"x": [1]}


@pytest.mark.parametrize("value", ["1001", "0", "007", "123123412"])
def test_sequence_number_digit_strings(value):
    payload = load_sample("review-create-negative.json")
    payload["sequenceNumber"] = value
    assert validate_event(payload).sequence_number == value


def test_sequence_number_int_is_normalised_to_str():
    payload = load_sample("review-create-negative.json")
    payload["sequenceNumber"] = 123123412
    event = validate_event(payload)
    assert event.sequence_number == "123123412"
    assert event.envelope["sequenceNumber"] == "123123412"


@pytest.mark.parametrize(
    "value", ["", "12a", " 12", "-1", "1.5", "١٢٣", -1, 1.5, True, False, None, [], {}]
)
def test_sequence_number_must_be_digits(value):
    payload = load_sample("review-create-negative.json")
    payload["sequenceNumber"] = value
    assert "sequenceNumber" in errors_of(payload)


@pytest.mark.parametrize("topic", ["Create", "created", "", "review.create", 1, None])
def test_topic_must_be_known(topic):
    payload = load_sample("review-create-negative.json")
    payload["topic"] = topic
    assert "topic" in errors_of(payload)


@pytest.mark.parametrize("resource_type", ["", 7, None, ["review"]])
def test_resource_type_must_be_a_non_empty_string(resource_type):
    payload = load_sample("review-create-negative.json")
    payload["resourceType"] = resource_type
    assert "resourceType" in errors_of(payload)


@pytest.mark.parametrize("resource", [None, [], "x", 3])
def test_resource_must_be_an_object(resource):
    payload = load_sample("review-create-negative.json")
    payload["resource"] = resource
    assert "resource" in errors_of(payload)


def test_envelope_and_resource_errors_are_reported_together():
    payload = review(rating=9)
    payload["topic"] = "upsert"
    errors = errors_of(payload)
    assert errors["topic"] == ["Must be one of: create, update, delete."]
    assert errors["resource"] == {"rating": ["Must be between 1 and 5."]}


# ---------------------------------------------------------------- unknown resource types


def test_unknown_resource_type_is_not_an_error():
    payload = envelope("subscription_box", {"subscriberId": SUBSCRIBER, "anything": [1, {}]})
    event = validate_event(payload)
    assert event.known is False
    assert event.resource_type == "subscription_box"
    assert event.subscriber_id == SUBSCRIBER
    assert event.resource_id is None
    assert event.resource == payload["resource"]


@pytest.mark.parametrize("subscriber_id", [None, 12, "", ["x"]])
def test_unknown_resource_type_without_usable_subscriber(subscriber_id):
    event = validate_event(envelope("Review", {"subscriberId": subscriber_id}))
    assert event.known is False  # resource types are case-sensitive
    assert event.subscriber_id is None


def test_unknown_resource_type_still_needs_a_valid_envelope():
    payload = envelope("subscription_box", {})
    payload["sequenceNumber"] = "abc"
    assert "sequenceNumber" in errors_of(payload)


# -------------------------------------------------------------------- every known type


@pytest.mark.parametrize("resource_type", sorted(MINIMAL_RESOURCES))
def test_minimal_resource_of_each_type(resource_type):
    resource = MINIMAL_RESOURCES[resource_type]
    event = validate_event(envelope(resource_type, dict(resource)))
    assert event.known
    assert event.subscriber_id == SUBSCRIBER
    assert event.resource_id == resource[RESOURCE_ID_FIELDS[resource_type]]


@pytest.mark.parametrize("resource_type", sorted(MINIMAL_RESOURCES))
@pytest.mark.parametrize("topic", KNOWN_TOPICS)
def test_subscriber_id_is_required_for_every_type(resource_type, topic):
    resource = dict(MINIMAL_RESOURCES[resource_type])
    del resource["subscriberId"]
    errors = errors_of(envelope(resource_type, resource, topic))
    assert errors["resource"]["subscriberId"] == ["Missing data for required field."]


@pytest.mark.parametrize("resource_type", sorted(set(MINIMAL_RESOURCES) - {"referral"}))
def test_own_id_is_required_for_every_type(resource_type):
    resource = dict(MINIMAL_RESOURCES[resource_type])
    id_field = RESOURCE_ID_FIELDS[resource_type]
    del resource[id_field]
    assert id_field in errors_of(envelope(resource_type, resource))["resource"]


@pytest.mark.parametrize("resource_type", sorted(MINIMAL_RESOURCES))
@pytest.mark.parametrize("bad_id", [12345, "", None, ["a"], {"id": "a"}])
def test_ids_must_be_non_empty_strings(resource_type, bad_id):
    resource = dict(MINIMAL_RESOURCES[resource_type])
    resource["subscriberId"] = bad_id
    assert "subscriberId" in errors_of(envelope(resource_type, resource))["resource"]


def test_referral_accepts_referral_id_or_id():
    by_referral_id = validate_event(
        envelope("referral", {"subscriberId": SUBSCRIBER, "referralId": "ref-9"})
    )
    assert by_referral_id.resource_id == "ref-9"
    by_id = validate_event(envelope("referral", {"subscriberId": SUBSCRIBER, "id": "ref-8"}))
    assert by_id.resource_id == "ref-8"
    errors = errors_of(envelope("referral", {"subscriberId": SUBSCRIBER}))
    assert "referralId" in errors["resource"]
    errors = errors_of(envelope("referral", {"subscriberId": SUBSCRIBER, "id": 8}))
    assert errors["resource"] == {"id": ["Not a valid string."]}


# --------------------------------------------------------------------------- reviews


@pytest.mark.parametrize(
    ("rating", "message"),
    [
        (0, "Must be between 1 and 5."),
        (6, "Must be between 1 and 5."),
        (-1, "Must be between 1 and 5."),
        ("5", "Not a valid integer."),
        (4.5, "Not a valid integer."),
        (5.0, "Not a valid integer."),
        (True, "Not a valid integer."),
        ([5], "Not a valid integer."),
        (float("nan"), "Not a valid integer."),
    ],
)
def test_bad_ratings_are_rejected(rating, message):
    assert errors_of(review(rating=rating)) == {"resource": {"rating": [message]}}


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
def test_good_ratings(rating):
    assert validate_event(review(rating=rating)).resource["rating"] == rating


@pytest.mark.parametrize("topic", ["create", "update"])
def test_rating_is_required_for_create_and_update(topic):
    payload = review(rating=None)
    payload["topic"] = topic
    assert errors_of(payload) == {"resource": {"rating": ["Missing data for required field."]}}
    payload["resource"]["rating"] = None
    assert errors_of(payload) == {"resource": {"rating": ["Field may not be null."]}}


def test_review_delete_with_reduced_resource():
    payload = load_sample("review-delete.json")
    event = validate_event(payload)
    assert event.topic == "delete"
    assert event.resource_id == payload["resource"]["reviewId"]
    assert email_of(event) is None
    assert customer_name_of(event) is None
    # Ids only is enough.
    ids_only = {key: payload["resource"][key] for key in ("subscriberId", "reviewId")}
    minimal = validate_event(envelope("review", ids_only, topic="delete"))
    assert (minimal.topic, minimal.resource_id, minimal.resource) == ("delete", ids_only["reviewId"], ids_only)
    # A rating that is there is still checked; null is fine on a delete.
    assert validate_event(envelope("review", {**ids_only, "rating": None}, topic="delete")).resource["rating"] is None
    errors = errors_of(envelope("review", {**ids_only, "rating": 0}, topic="delete"))
    assert errors == {"resource": {"rating": ["Must be between 1 and 5."]}}
    # Ids stay required.
    assert "reviewId" in errors_of(envelope("review", {"subscriberId": SUBSCRIBER}, "delete"))[
        "resource"
    ]


@pytest.mark.parametrize("key", ["reviewer", "reward", "order", "reply", "media", "location"])
def test_optional_objects_may_be_missing_or_null(key):
    for value in ("missing", None):
        payload = load_sample("review-update-negative.json")
        container = payload["resource"]
        if key == "location":
            container = container["reviewer"]
        if value == "missing":
            del container[key]
        else:
            container[key] = None
        event = validate_event(payload)
        kept = event.resource["reviewer"] if key == "location" else event.resource
        if value == "missing":
            assert key not in kept
        else:
            assert kept[key] is None
        assert event.resource_id == payload["resource"]["reviewId"]


def test_missing_reviewer():
    event = validate_event(review(reviewer=None))
    assert email_of(event) is None
    assert customer_name_of(event) is None


def test_empty_media_and_null_list_items_are_tolerated():
    assert validate_event(review(media=[])).resource["media"] == []
    event = validate_event(review(media=[None], attributesWithRating=[None], productAttributes=[]))
    assert event.resource["media"] == [None]
    assert event.resource["attributesWithRating"] == [None]
    assert event.resource["productAttributes"] == []


def test_unicode_text_is_kept_exactly():
    title = "Zíp 💥 broke — ¡otra vez! 🧥👎🏽"
    body = "الجودة سيئة جدا. הרוכסן נשבר ביום השישי. 拉链坏了"
    name = "שרה כהן‏"  # RTL with a right-to-left mark
    payload = review(title=title, body=body)
    payload["resource"]["reviewer"]["name"] = name
    event = validate_event(payload)
    assert event.resource["title"] == title
    assert event.resource["body"] == body
    assert customer_name_of(event) == name.strip()


def test_odd_emails_are_kept():
    for odd in ("priya.raman@@example", "not an email", "PRIYA@EXAMPLE.COM ", "é@例え.jp"):
        payload = review()
        payload["resource"]["reviewer"]["email"] = odd
        event = validate_event(payload)
        assert event.resource["reviewer"]["email"] == odd
        assert email_of(event) == odd.strip()


def test_email_must_be_a_string():
    payload = review()
    payload["resource"]["reviewer"]["email"] = 42
    errors = errors_of(payload)
    assert errors == {"resource": {"reviewer": {"email": ["Not a valid string."]}}}


def test_unknown_keys_are_kept_at_every_level():
    payload = review(languageCode="en")
    payload["resource"]["reviewer"]["pronouns"] = "she/her"
    payload["resource"]["reviewer"]["location"]["country"]["flag"] = "🇬🇧"
    payload["resource"]["media"][0]["width"] = 800
    event = validate_event(payload)
    assert event.resource["languageCode"] == "en"
    assert event.resource["reviewer"]["pronouns"] == "she/her"
    assert event.resource["reviewer"]["location"]["country"]["flag"] == "🇬🇧"
    assert event.resource["media"][0]["width"] == 800


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda r: r["reviewer"]["location"]["country"].update(code=44),
            {"reviewer": {"location": {"country": {"code": ["Not a valid string."]}}}},
        ),
        (lambda r: r.update(reviewer="Priya"), {"reviewer": {"_schema": ["Invalid input type."]}}),
        (lambda r: r.update(media={"type": "image"}), {"media": ["Not a valid list."]}),
        (
            lambda r: r["media"][0].update(isHidden="false"),
            {"media": {0: {"isHidden": ["Not a valid boolean."]}}},
        ),
        (lambda r: r.update(isRecommended="true"), {"isRecommended": ["Not a valid boolean."]}),
        (
            lambda r: r.update(order={"orderNumber": 4417}),
            {"order": {"orderNumber": ["Not a valid string."]}},
        ),
        (lambda r: r.update(productId=7301924511805), {"productId": ["Not a valid string."]}),
        (lambda r: r.update(tags="vip"), {"tags": ["Not a valid list."]}),
        (lambda r: r.update(helpfulCount="3"), {"helpfulCount": ["Not a valid integer."]}),
        (
            lambda r: r["attributesWithRating"].append("Fit"),
            {"attributesWithRating": {1: {"_schema": ["Invalid input type."]}}},
        ),
    ],
)
def test_types_that_matter_are_strict(change, expected):
    payload = review()
    change(payload["resource"])
    assert errors_of(payload) == {"resource": expected}


@pytest.mark.parametrize(
    "value", ["2026-11-02T09:14:03.221Z", "2026-11-02T09:14:03+01:00", "2026-11-02"]
)
def test_dates_are_checked_and_kept_as_strings(value):
    event = validate_event(review(dateCreated=value))
    assert event.resource["dateCreated"] == value


@pytest.mark.parametrize("value", ["yesterday", "2026-13-02T00:00:00Z", "", 1762074843])
def test_bad_dates_are_rejected(value):
    errors = errors_of(review(dateCreated=value))
    assert list(errors["resource"]) == ["dateCreated"]


def test_reply_date_is_checked():
    payload = load_sample("review-update-negative.json")
    payload["resource"]["reply"]["dateCreated"] = "soon"
    errors = errors_of(payload)
    assert errors == {"resource": {"reply": {"dateCreated": ["Not a valid ISO 8601 date-time."]}}}


# ------------------------------------------------------------------- surveys & quizzes


@pytest.mark.parametrize(
    "answer",
    [
        "Delivery was slow",
        7,
        7.5,
        True,
        None,
        [],
        ["Instagram", "A friend"],
        [1, {"type": "text", "value": "x"}],
        {"type": "number", "value": 3},
        {"type": "text", "value": "مرحبا 👋"},
        {"value": ["a", "b"]},
    ],
)
def test_answer_shapes(answer):
    payload = load_sample("survey_response-create-detractor.json")
    payload["resource"]["answeredQuestions"][1]["answer"] = answer
    event = validate_event(payload)
    assert event.resource["answeredQuestions"][1]["answer"] == answer


def test_answer_object_type_must_be_a_string():
    payload = load_sample("survey_response-create-detractor.json")
    payload["resource"]["answeredQuestions"][0]["answer"] = {"type": 3, "value": 3}
    errors = errors_of(payload)
    assert list(errors["resource"]["answeredQuestions"][0]) == ["answer"]


def test_survey_without_optional_objects():
    payload = load_sample("survey_response-create-detractor.json")
    for key in ("customer", "order", "reward", "answeredQuestions"):
        payload["resource"][key] = None
    event = validate_event(payload)
    assert email_of(event) is None


def test_quiz_sample_keeps_unknown_shapes():
    payload = load_sample("quiz_response-create.json")
    payload["resource"]["order"] = "5521337891901"  # shape undocumented: kept as is
    event = validate_event(payload)
    assert event.resource["productRecommendations"] == payload["resource"]["productRecommendations"]
    assert event.resource["order"] == "5521337891901"
    assert email_of(event) == "ana@example.com"


# --------------------------------------------------------------------------- loyalty


def test_loyalty_delete_without_customer():
    payload = load_sample("loyalty_adjustment_transaction-create.json")
    payload["topic"] = "delete"
    del payload["resource"]["customer"]
    event = validate_event(payload)
    assert event.resource_id == payload["resource"]["loyaltyTransactionId"]
    assert email_of(event) is None
    assert customer_name_of(event) is None


@pytest.mark.parametrize("amount", ["250", True, float("inf"), float("nan"), [250]])
def test_loyalty_amount_must_be_a_number(amount):
    payload = load_sample("loyalty_adjustment_transaction-create.json")
    payload["resource"]["amount"] = amount
    assert errors_of(payload) == {"resource": {"amount": ["Not a valid number."]}}


@pytest.mark.parametrize("amount", [0, -50, 12.5, None])
def test_loyalty_amounts(amount):
    payload = load_sample("loyalty_adjustment_transaction-create.json")
    payload["resource"]["amount"] = amount
    assert validate_event(payload).resource["amount"] == amount


def test_loyalty_customer():
    resource = {
        "subscriberId": SUBSCRIBER,
        "loyaltyCustomerId": "lc-1",
        "customer": {"customerId": "7012", "email": "kim@example.com", "name": "Kim Park"},
        "birthday": {"day": 29, "month": 2},
        "status": "enrolled",
        "pointsBalance": 1200,
    }
    event = validate_event(envelope("loyalty_customer", resource, topic="update"))
    assert event.resource_id == "lc-1"
    assert event.resource["pointsBalance"] == 1200
    assert email_of(event) == "kim@example.com"
    assert customer_name_of(event) == "Kim Park"
    resource["birthday"] = {"day": "29", "month": 2}
    assert "birthday" in errors_of(envelope("loyalty_customer", resource))["resource"]


# -------------------------------------------------------------------------- helpers


def test_email_and_name_of_each_sample():
    expected = {
        "review-create-negative.json": ("priya.raman@example.com", "Priya Raman"),
        "review-create-positive.json": ("tomas@example.com", "Tomás Ortega"),
        "survey_response-create-detractor.json": ("sam.lee@example.com", None),
        "quiz_response-create.json": ("ana@example.com", None),
        "loyalty_adjustment_transaction-create.json": ("priya.raman@example.com", None),
    }
    for name, (email, customer_name) in expected.items():
        event = validate_event(load_sample(name))
        assert email_of(event) == email, name
        assert customer_name_of(event) == customer_name, name


def test_customer_name_fallbacks():
    payload = review()
    payload["resource"]["reviewer"]["name"] = "  "
    assert customer_name_of(validate_event(payload)) == "Priya R."
    survey = load_sample("survey_response-create-detractor.json")
    survey["resource"]["customer"].update(firstName="Sam", lastName="Lee")
    assert customer_name_of(validate_event(survey)) == "Sam Lee"
    survey["resource"]["customer"]["email"] = "   "
    assert email_of(validate_event(survey)) is None


def test_helpers_on_unknown_types_are_defensive():
    event = validate_event(envelope("mystery", {"customer": "not an object", "reviewer": 3}))
    assert email_of(event) is None
    assert customer_name_of(event) is None
    event = validate_event(envelope("mystery", {"customer": {"email": "x@y.z", "name": 5}}))
    assert email_of(event) == "x@y.z"
    assert customer_name_of(event) is None


# --------------------------------------------------------------------------- fuzzing

SAMPLES = [json.loads(path.read_text(encoding="utf-8")) for path in SAMPLE_PATHS]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: json.loads accepts them
    | st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates too
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

# Envelope-shaped objects whose values are often right and sometimes anything, so both
# valid events (known and unknown types) and every kind of error are reached.
envelope_like = st.fixed_dictionaries(
    {
        "resource": st.sampled_from(SAMPLES).map(lambda sample: copy.deepcopy(sample["resource"]))
        | json_values,
        "resourceType": st.sampled_from(sorted(KNOWN_RESOURCE_TYPES))
        | st.text(min_size=1, max_size=12)
        | json_values,
        "topic": st.sampled_from(KNOWN_TOPICS) | json_values,
        "sequenceNumber": st.from_regex(r"[0-9]{1,12}", fullmatch=True)
        | st.integers()
        | json_values,
    },
    optional={"version": st.just("2025-02-01") | json_values, "extra": json_values},
)


def _slots(node, slots):
    """Every (container, key) pair inside a JSON value."""
    if isinstance(node, dict):
        for key in node:
            slots.append((node, key))
            _slots(node[key], slots)
    elif isinstance(node, list):
        for index in range(len(node)):
            slots.append((node, index))
            _slots(node[index], slots)
    return slots


@st.composite
def mutated_samples(draw):
    """A sample with 1-3 values replaced by arbitrary JSON or removed."""
    payload = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(payload, [])
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if draw(st.booleans()):
            container[key] = draw(json_values)
        elif isinstance(container, dict):
            del container[key]
        else:
            container.pop(key)
    return payload


def _check_outcome(payload):
    try:
        event = validate_event(payload)
    except EventValidationError as error:
        assert isinstance(error.errors, dict) and error.errors
        return None
    assert isinstance(event, ValidatedEvent)
    assert event.topic in KNOWN_TOPICS
    assert event.sequence_number.isascii() and event.sequence_number.isdigit()
    assert event.known == (event.resource_type in KNOWN_RESOURCE_TYPES)
    if event.known:
        assert isinstance(event.subscriber_id, str) and event.subscriber_id
        assert isinstance(event.resource_id, str) and event.resource_id
        if event.resource_type == "review" and event.topic != "delete":
            rating = event.resource["rating"]
            assert type(rating) is int and 1 <= rating <= 5
    for value in (email_of(event), customer_name_of(event)):
        assert value is None or isinstance(value, str)
    # Whatever passed validation can be turned into every body that applies to it.
    for shape in BODY_SHAPES:
        if body_shape_applies(shape, event.resource_type):
            assert isinstance(build_body(shape, event), dict)
    return event


FUZZ = settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(json_values | envelope_like)
def test_fuzz_arbitrary_json(payload):
    _check_outcome(payload)


@FUZZ
@given(mutated_samples())
def test_fuzz_mutated_samples(payload):
    _check_outcome(payload)


def test_fuzz_helpers_produce_valid_and_invalid_events():
    # Sanity check on the strategies' reach, without hypothesis: the untouched samples
    # validate, a mutated one can fail.
    assert all(_check_outcome(copy.deepcopy(sample)) for sample in SAMPLES)
    broken = copy.deepcopy(SAMPLES[0])
    broken["resource"]["subscriberId"] = math.pi
    assert _check_outcome(broken) is None
