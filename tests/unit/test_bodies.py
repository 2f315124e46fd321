"""Body shapes posted to Kustomer hooks: native-review, survey, passthrough."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bridge.bodies import BODY_SHAPES, body_shape_applies, build_body
from bridge.bodies.native_review import strip_platform_prefix
from bridge.bodies.survey import flatten_answer
from bridge.okendo.nps import category_for as nps_category_for
from bridge.okendo.schemas import (
    KNOWN_RESOURCE_TYPES,
    RESOURCE_ID_FIELDS,
    EventValidationError,
    validate_event,
)
from tests.hypothesis_profiles import examples

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples" / "okendo"


def load_sample(name: str) -> dict:
    return json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))


def event_of(payload: dict):
    return validate_event(payload)


# The keys of Okendo's native Kustomer body (kustomer.md) and the documented additions.
NATIVE_KEYS = {
    "reviewerEmail",
    "orderId",
    "review",
    "reviewer",
    "reward",
    "media",
    "attributes",
    "product",
}
NATIVE_ADDED_KEYS = {"event", "topic"}
NATIVE_REVIEW_KEYS = {
    "rating",
    "title",
    "body",
    "isRecommended",
    "sentiment",
    "languageCode",
    "source",
    "dateCreated",
    "reviewId",
}
NATIVE_REVIEW_ADDED_KEYS = {"status"}
NATIVE_REVIEWER_KEYS = {"displayName", "name", "countryCode"}
NATIVE_REWARD_KEYS = {"type", "description"}
NATIVE_MEDIA_KEYS = {"imageUrls", "videoUrls", "imageCount", "videoCount"}
NATIVE_ATTRIBUTE_KEYS = {"title", "value"}
NATIVE_PRODUCT_KEYS = {"productId", "productName", "variantId", "variantName", "sku"}

SURVEY_KEYS = {
    "event",
    "topic",
    "customerEmail",
    "customerId",
    "orderId",
    "surveyId",
    "surveyName",
    "surveyResponseId",
    "channel",
    "dateCreated",
    "npsScore",
    "npsCategory",
    "answers",
    "reward",
    "subscriberId",
}
SURVEY_ANSWER_KEYS = {"questionId", "question", "type", "answer", "npsCategory"}
SURVEY_REWARD_KEYS = {"type", "value", "description"}
PASSTHROUGH_KEYS = {"event", "resourceType", "topic", "sequenceNumber", "subscriberId", "resource"}


def assert_native_key_set(body: dict) -> None:
    """Exactly the native keys (+ documented additions) at every level."""
    assert set(body) == NATIVE_KEYS | NATIVE_ADDED_KEYS
    assert set(body["review"]) == NATIVE_REVIEW_KEYS | NATIVE_REVIEW_ADDED_KEYS
    assert set(body["reviewer"]) == NATIVE_REVIEWER_KEYS
    assert set(body["reward"]) == NATIVE_REWARD_KEYS
    assert set(body["media"]) == NATIVE_MEDIA_KEYS
    assert isinstance(body["attributes"], list)
    for attribute in body["attributes"]:
        assert set(attribute) == NATIVE_ATTRIBUTE_KEYS
    assert set(body["product"]) == NATIVE_PRODUCT_KEYS
    assert body["media"]["imageCount"] == len(body["media"]["imageUrls"])
    assert body["media"]["videoCount"] == len(body["media"]["videoUrls"])
    assert body["review"]["languageCode"] is None
    assert body["review"]["source"] is None
    assert body["product"]["sku"] is None


def assert_survey_key_set(body: dict) -> None:
    assert set(body) == SURVEY_KEYS
    assert set(body["reward"]) == SURVEY_REWARD_KEYS
    for answer in body["answers"]:
        assert set(answer) == SURVEY_ANSWER_KEYS
        assert answer["answer"] is None or isinstance(answer["answer"], str)


# ------------------------------------------------------------------- shape registry


def test_shape_names():
    assert set(BODY_SHAPES) == {"native-review", "survey", "passthrough"}
    assert all(callable(build) for build in BODY_SHAPES.values())


@pytest.mark.parametrize(
    ("shape", "resource_type", "applies"),
    [
        ("native-review", "review", True),
        ("native-review", "survey_response", False),
        ("native-review", "loyalty_customer", False),
        ("survey", "survey_response", True),
        ("survey", "review", False),
        ("survey", "quiz_response", False),
        ("passthrough", "review", True),
        ("passthrough", "survey_response", True),
        ("passthrough", "referral", True),
        ("passthrough", "some_future_type", True),
    ],
)
def test_body_shape_applies(shape, resource_type, applies):
    assert body_shape_applies(shape, resource_type) is applies


@pytest.mark.parametrize("shape", ["native", "Native-Review", "", None, ["survey"], {"a": 1}])
def test_unknown_shape_is_a_value_error_naming_the_known_ones(shape):
    event = event_of(load_sample("review-create-negative.json"))
    for call in (lambda: build_body(shape, event), lambda: body_shape_applies(shape, "review")):
        with pytest.raises(ValueError) as caught:
            call()
        message = str(caught.value)
        assert "native-review" in message and "survey" in message and "passthrough" in message


def test_shape_used_on_the_wrong_resource_type_is_a_value_error():
    survey = event_of(load_sample("survey_response-create-detractor.json"))
    with pytest.raises(ValueError, match="native-review.*survey_response"):
        build_body("native-review", survey)
    review = event_of(load_sample("review-create-negative.json"))
    with pytest.raises(ValueError, match="survey.*review"):
        build_body("survey", review)


# ---------------------------------------------------------------------- native-review


def test_native_review_golden():
    body = build_body("native-review", event_of(load_sample("review-create-negative.json")))
    assert_native_key_set(body)
    assert body == {
        "event": "review.create",
        "topic": "create",
        "reviewerEmail": "priya.raman@example.com",
        "orderId": "#4417",
        "review": {
            "rating": 1,
            "title": "Zip broke in a week",
            "body": "The main zip split on day six. I've asked for a replacement twice "
            "and heard nothing.",
            "isRecommended": False,
            "sentiment": "negative",
            "languageCode": None,
            "source": None,
            "dateCreated": "2026-11-02T09:14:03.221Z",
            "reviewId": "0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10",
            "status": "approved",
        },
        "reviewer": {"displayName": "Priya R.", "name": "Priya Raman", "countryCode": "GB"},
        "reward": {"type": "coupon", "description": "10% off your next order"},
        "media": {
            "imageUrls": ["https://cdn.example.com/r/zip-full.jpg"],
            "videoUrls": [],
            "imageCount": 1,
            "videoCount": 0,
        },
        "attributes": [
            {"title": "Fit", "value": 0},
            {"title": "Used for", "value": ["Hiking", "Commuting"]},
        ],
        "product": {
            "productId": "7301924511805",
            "productName": "Trail Runner 2 Jacket",
            "variantId": "41877245722685",
            "variantName": "Olive / M",
            "sku": None,
        },
    }
    # The body is plain JSON.
    assert json.loads(json.dumps(body)) == body


def test_native_review_positive_without_reward_or_media():
    body = build_body("native-review", event_of(load_sample("review-create-positive.json")))
    assert_native_key_set(body)
    assert body["reward"] == {"type": None, "description": None}
    assert body["media"] == {"imageUrls": [], "videoUrls": [], "imageCount": 0, "videoCount": 0}
    assert body["reviewer"] == {
        "displayName": "Tomás O.",
        "name": "Tomás Ortega",
        "countryCode": "ES",
    }
    assert body["review"]["rating"] == 5


def test_native_review_update_is_told_apart():
    body = build_body("native-review", event_of(load_sample("review-update-negative.json")))
    assert_native_key_set(body)
    assert body["event"] == "review.update"
    assert body["topic"] == "update"
    assert "reply" not in body  # no additions beyond the documented ones


def test_native_review_delete_keeps_every_key():
    body = build_body("native-review", event_of(load_sample("review-delete.json")))
    assert_native_key_set(body)
    assert body["event"] == "review.delete"
    assert body["reviewerEmail"] is None
    assert body["orderId"] is None
    assert body["review"]["reviewId"] == "0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10"
    assert body["review"]["rating"] is None
    assert body["review"]["status"] is None
    assert body["reviewer"] == {"displayName": None, "name": None, "countryCode": None}
    assert body["reward"] == {"type": None, "description": None}
    assert body["media"] == {"imageUrls": [], "videoUrls": [], "imageCount": 0, "videoCount": 0}
    assert body["attributes"] == []
    assert body["product"]["productId"] == "7301924511805"


def test_native_review_ids_only_delete():
    payload = {
        "resource": {"subscriberId": "s", "reviewId": "r"},
        "resourceType": "review",
        "topic": "delete",
        "sequenceNumber": "9",
    }
    body = build_body("native-review", event_of(payload))
    assert_native_key_set(body)
    assert body["product"]["productId"] is None


def test_native_review_missing_reviewer_and_null_objects():
    payload = load_sample("review-create-negative.json")
    resource = payload["resource"]
    del resource["reviewer"]
    resource["order"] = None
    resource["reward"] = None
    resource["attributesWithRating"] = None
    body = build_body("native-review", event_of(payload))
    assert_native_key_set(body)
    assert body["reviewerEmail"] is None
    assert body["orderId"] is None
    assert body["reviewer"] == {"displayName": None, "name": None, "countryCode": None}
    assert body["attributes"] == [{"title": "Used for", "value": ["Hiking", "Commuting"]}]


@pytest.mark.parametrize(
    ("location", "country_code"),
    [
        ({"country": {"code": "au", "name": "Australia"}}, "AU"),
        ({"country": {"code": "Nz"}}, "NZ"),
        ({"country": {"code": ""}}, None),
        ({"country": None}, None),
        (None, None),
    ],
)
def test_native_country_code(location, country_code):
    payload = load_sample("review-create-negative.json")
    payload["resource"]["reviewer"]["location"] = location
    body = build_body("native-review", event_of(payload))
    assert body["reviewer"]["countryCode"] == country_code


@pytest.mark.parametrize(
    ("product_id", "expected"),
    [
        ("shopify-1885452822491", "1885452822491"),
        ("1885452822491", "1885452822491"),
        ("bigcommerce-77", "bigcommerce-77"),  # unknown prefix: left alone
        ("shopify-", "shopify-"),
        (None, None),
    ],
)
def test_strip_platform_prefix(product_id, expected):
    assert strip_platform_prefix(product_id) == expected


def test_native_media_split():
    payload = load_sample("review-create-negative.json")
    payload["resource"]["media"] = [
        {"type": "image", "fullSizeUrl": "https://x/1-full.jpg", "largeUrl": "https://x/1-l.jpg"},
        {"type": "image", "fullSizeUrl": None, "largeUrl": "https://x/2-large.jpg"},
        {"type": "image", "fullSizeUrl": "https://x/hidden.jpg", "isHidden": True},
        {"type": "video", "fullSizeUrl": "https://x/v.mp4", "isHidden": False},
        {"type": "VIDEO", "largeUrl": "https://x/v2.mp4"},
        {"type": "image"},  # no URL at all
        {"type": "3d-model", "fullSizeUrl": "https://x/m.glb"},
        None,
    ]
    body = build_body("native-review", event_of(payload))
    assert body["media"] == {
        "imageUrls": ["https://x/1-full.jpg", "https://x/2-large.jpg"],
        "videoUrls": ["https://x/v.mp4", "https://x/v2.mp4"],
        "imageCount": 2,
        "videoCount": 2,
    }


def test_native_review_unicode_passes_through():
    payload = load_sample("review-create-negative.json")
    payload["resource"]["title"] = "سيئ جدا 👎"
    payload["resource"]["reviewer"]["displayName"] = "שרה כ."
    body = build_body("native-review", event_of(payload))
    assert body["review"]["title"] == "سيئ جدا 👎"
    assert body["reviewer"]["displayName"] == "שרה כ."
    assert "سيئ جدا 👎" in json.dumps(body, ensure_ascii=False)


# ----------------------------------------------------------------------------- survey


def test_survey_body_from_detractor_sample():
    body = build_body("survey", event_of(load_sample("survey_response-create-detractor.json")))
    assert_survey_key_set(body)
    assert body == {
        "event": "survey_response.create",
        "topic": "create",
        "customerEmail": "sam.lee@example.com",
        "customerId": "7012345678901",
        "orderId": "5521338888888",
        "surveyId": "a1b2c3d4-0000-4000-8000-000000000001",
        "surveyName": "Post-purchase",
        "surveyResponseId": "e2d1c0b9-a8f7-4e6d-9c5b-4a3b2c1d0e9f",
        "channel": "post-purchase",
        "dateCreated": "2026-11-04T18:22:10.000Z",
        "npsScore": 3,
        "npsCategory": "detractor",
        "answers": [
            {
                "questionId": "q1",
                "question": "How likely are you to recommend us to a friend?",
                "type": "nps",
                "answer": "3",
                "npsCategory": "detractor",
            },
            {
                "questionId": "q2",
                "question": "What could we do better?",
                "type": "free-text",
                "answer": "Delivery took 12 days and the box was crushed.",
                "npsCategory": None,
            },
            {
                "questionId": "q3",
                "question": "Where did you hear about us?",
                "type": "multi-choice",
                "answer": "Instagram, A friend",
                "npsCategory": None,
            },
        ],
        "reward": {"type": "coupon", "value": "5", "description": "$5 off"},
        "subscriberId": "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21",
    }


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ("Slow delivery", "Slow delivery"),
        ("", ""),
        (7, "7"),
        (7.5, "7.5"),
        (True, "true"),
        (False, "false"),
        (None, None),
        ([], ""),
        (["Instagram", "A friend"], "Instagram, A friend"),
        (["a", None, "", 2], "a, 2"),
        ({"type": "number", "value": 3}, "3"),
        ({"type": "text", "value": "مرحبا 👋"}, "مرحبا 👋"),
        ({"type": "multi", "value": ["x", "y"]}, "x, y"),
        ([{"type": "text", "value": "a"}, {"value": "b"}], "a, b"),
        ({"type": "rating"}, '{"type": "rating"}'),  # unknown object: content kept
    ],
)
def test_flatten_answer(answer, text):
    assert flatten_answer(answer) == text


def test_flatten_answer_deep_nesting_is_cut_short():
    deep: list = ["x"]
    for _ in range(200):
        deep = [deep]
    assert flatten_answer(deep) == "…"


def _survey_with_questions(questions, **resource_changes):
    payload = load_sample("survey_response-create-detractor.json")
    payload["resource"]["answeredQuestions"] = questions
    payload["resource"].update(resource_changes)
    return build_body("survey", event_of(payload))


def test_custom_answer_is_appended():
    body = _survey_with_questions(
        [
            {"id": "a", "type": "multi-choice", "text": "Where?", "answer": ["Instagram", "Other"],
             "customAnswer": "A podcast", "customAnswerOptionText": "Other"},
            {"id": "b", "type": "single-choice", "text": "Why?", "answer": None,
             "customAnswer": "Gift"},
            {"id": "c", "type": "single-choice", "text": "Why?", "answer": "Price",
             "customAnswer": "  "},
        ]
    )
    assert [answer["answer"] for answer in body["answers"]] == [
        "Instagram, Other, A podcast",
        "Gift",
        "Price",
    ]


@pytest.mark.parametrize(
    ("question", "score", "category"),
    [
        (
            {"type": "nps", "answer": {"type": "number", "value": 10}, "answerNpsCategory": "promoter"},
            10,
            "promoter",
        ),
        ({"type": "nps", "answer": 9}, 9, "promoter"),  # category derived
        ({"type": "NPS", "answer": "7"}, 7, "passive"),
        ({"type": "nps", "answer": 6.0}, 6, "detractor"),
        ({"type": "nps", "answer": "not sure"}, None, None),
        ({"type": "nps", "answer": None, "answerNpsCategory": "passive"}, None, "passive"),
        ({"type": "rating", "answer": 2, "answerNpsCategory": "detractor"}, 2, "detractor"),
        ({"type": "nps", "answer": True}, None, None),
        ({"type": "nps", "answer": 42}, 42, None),  # out of NPS range: no bucket
    ],
)
def test_nps_fields(question, score, category):
    body = _survey_with_questions(
        [{"id": "free", "type": "free-text", "text": "Hi", "answer": "5"}, {"id": "n", **question}]
    )
    assert body["npsScore"] == score
    assert body["npsCategory"] == category


def test_first_nps_question_wins():
    body = _survey_with_questions(
        [
            {"id": "1", "type": "nps", "answer": 2},
            {"id": "2", "type": "nps", "answer": 10, "answerNpsCategory": "promoter"},
        ]
    )
    assert (body["npsScore"], body["npsCategory"]) == (2, "detractor")


def test_survey_without_nps_or_optional_parts():
    body = _survey_with_questions(None, customer=None, order=None, reward=None, channel=None)
    assert_survey_key_set(body)
    assert body["npsScore"] is None and body["npsCategory"] is None
    assert body["answers"] == []
    assert body["customerEmail"] is None and body["customerId"] is None
    assert body["orderId"] is None
    assert body["reward"] == {"type": None, "value": None, "description": None}


def test_nps_category_for():
    assert [nps_category_for(score) for score in (0, 6, 7, 8, 9, 10)] == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter",
    ]
    assert nps_category_for(None) is None
    assert nps_category_for(-1) is None
    assert nps_category_for(11) is None


# ------------------------------------------------------------------------ passthrough


@pytest.mark.parametrize(
    "name",
    [
        "quiz_response-create.json",
        "loyalty_adjustment_transaction-create.json",
        "review-delete.json",
        "survey_response-create-detractor.json",
    ],
)
def test_passthrough(name):
    payload = load_sample(name)
    body = build_body("passthrough", event_of(payload))
    assert body == {
        "event": f"{payload['resourceType']}.{payload['topic']}",
        "resourceType": payload["resourceType"],
        "topic": payload["topic"],
        "sequenceNumber": payload["sequenceNumber"],
        "subscriberId": payload["resource"]["subscriberId"],
        "resource": payload["resource"],
    }


def test_passthrough_of_an_unknown_type():
    payload = {
        "resource": {"whatever": [1, {"a": None}], "subscriberId": 7},
        "resourceType": "subscription_box",
        "topic": "update",
        "sequenceNumber": 55,
    }
    body = build_body("passthrough", event_of(payload))
    assert body == {
        "event": "subscription_box.update",
        "resourceType": "subscription_box",
        "topic": "update",
        "sequenceNumber": "55",
        "subscriberId": None,
        "resource": {"whatever": [1, {"a": None}], "subscriberId": 7},
    }


# --------------------------------------------------------------------------- fuzzing

SAMPLES = {path.name: load_sample(path.name) for path in sorted(SAMPLES_DIR.glob("*.json"))}
ALWAYS_KEPT = {"subscriberId", *RESOURCE_ID_FIELDS.values()}

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)


@st.composite
def loosened(draw, node, depth=0):
    """A variant of a valid JSON node that stays valid: optional keys dropped or nulled,
    text replaced by arbitrary unicode, lists emptied or given null items, unknown keys
    added. (Validity is still checked afterwards; a few variants are filtered out.)"""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if depth == 0 and key in ALWAYS_KEPT:
                result[key] = value
                continue
            if depth == 0 and key == "rating":
                result[key] = draw(st.integers(1, 5))
                continue
            action = draw(st.sampled_from(["keep", "loosen", "drop", "null"]))
            if action == "keep":
                result[key] = value
            elif action == "loosen":
                result[key] = draw(loosened(value, depth + 1))
            elif action == "null":
                result[key] = None
        if draw(st.booleans()):
            result[draw(text)] = draw(any_json)
        return result
    if isinstance(node, list):
        items = [draw(loosened(item, depth + 1)) for item in node]
        extra = draw(st.sampled_from(["none", "empty", "null-item"]))
        if extra == "empty":
            return []
        if extra == "null-item":
            return [*items, None]
        return items
    if isinstance(node, str) and not node[:4].isdigit():  # dates stay parseable
        return draw(st.just(node) | text)
    if isinstance(node, bool):
        return draw(st.booleans())
    return node


@st.composite
def valid_events(draw):
    payload = copy.deepcopy(draw(st.sampled_from(sorted(SAMPLES.values(), key=json.dumps))))
    payload["topic"] = draw(st.sampled_from(["create", "update", "delete"]))
    payload["resource"] = draw(loosened(payload["resource"]))
    if payload["topic"] == "delete" and payload["resourceType"] == "review":
        if draw(st.booleans()):
            payload["resource"].pop("rating", None)
    try:
        event = validate_event(payload)
    except EventValidationError:
        assume(False)
    return event


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(valid_events())
def test_fuzz_build_body_never_fails_for_valid_events(event):
    assert event.known and event.resource_type in KNOWN_RESOURCE_TYPES
    for shape in BODY_SHAPES:
        if not body_shape_applies(shape, event.resource_type):
            continue
        body = build_body(shape, event)
        json.dumps(body)  # postable as JSON
        if shape == "native-review":
            assert_native_key_set(body)
        elif shape == "survey":
            assert_survey_key_set(body)
        else:
            assert set(body) == PASSTHROUGH_KEYS
