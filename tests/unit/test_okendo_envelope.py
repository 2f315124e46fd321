"""bridge.okendo.envelope: ingest's cheap look at a body agrees with the full validation."""
import copy

import pytest
from hypothesis import given, settings, strategies as st

from bridge.okendo.envelope import as_sent, relayable
from bridge.okendo.schemas import EventValidationError, email_of, validate_event
from tests.helpers import sample
from tests.hypothesis_profiles import examples

SAMPLES = ["review-create-negative.json", "review-create-positive.json", "review-delete.json",
           "review-update-negative.json", "survey_response-create-detractor.json",
           "quiz_response-create.json", "loyalty_adjustment_transaction-create.json"]


def validated_columns(payload) -> dict:
    event = validate_event(payload)
    return {"resource_type": event.resource_type, "topic": event.topic, "subscriber_id": event.subscriber_id,
            "resource_id": event.resource_id, "sequence_number": event.sequence_number, "email": email_of(event)}


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_is_relayable_with_the_columns_validation_gives(name):
    payload = sample(name)
    assert relayable(payload) == validated_columns(payload)


def test_a_numeric_sequence_number_is_normalised_as_validation_does():
    payload = sample("review-create-negative.json")
    payload["sequenceNumber"] = 1001
    assert relayable(payload)["sequence_number"] == "1001" == validate_event(payload).sequence_number


@pytest.mark.parametrize("change", [
    lambda p: p.update(topic="created"),
    lambda p: p.update(sequenceNumber="12a"),
    lambda p: p.update(sequenceNumber=True),
    lambda p: p.update(sequenceNumber=-1),
    lambda p: p.pop("sequenceNumber"),
    lambda p: p.update(version=5),
    lambda p: p.update(resourceType="gift_card"),  # not relayed: validation says skipped
    lambda p: p.update(resource=[]),
    lambda p: p["resource"].pop("subscriberId"),
    lambda p: p["resource"].update(subscriberId=""),
    lambda p: p["resource"].update(reviewId=7),
])
def test_anything_but_a_well_formed_envelope_of_a_relayed_type_is_left_to_full_validation(change):
    payload = sample("review-create-negative.json")
    change(payload)
    assert relayable(payload) is None


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(st.text(max_size=8), children, max_size=3), max_leaves=8)
KEYS = st.sampled_from(["resource", "resourceType", "topic", "sequenceNumber", "version", "subscriberId",
                        "reviewId", "reviewer", "email", "customer", "rating"])


@settings(max_examples=examples(200), deadline=None)
@given(name=st.sampled_from(SAMPLES), path=st.lists(KEYS, min_size=1, max_size=3), value=JSON)
def test_what_it_lets_through_is_either_valid_with_the_same_columns_or_fails_only_the_resource(name, path, value):
    payload = copy.deepcopy(sample(name))
    target = payload
    for key in path[:-1]:
        target = target.get(key) if isinstance(target, dict) else None
    if isinstance(target, dict):
        target[path[-1]] = value
    columns = relayable(payload)
    if columns is None:
        return
    try:
        assert columns == validated_columns(payload)
    except EventValidationError as exc:
        # The worker marks it invalid with these errors; the envelope itself was sound.
        assert set(exc.errors) == {"resource"}, exc.errors


def test_as_sent_reads_the_envelope_unchecked():
    payload = {"resourceType": 7, "topic": "create", "sequenceNumber": [1], "resource": {"subscriberId": "s"}}
    assert as_sent(payload) == {"resource_type": 7, "topic": "create", "subscriber_id": "s", "sequence_number": [1]}
    assert as_sent({"resource": "not an object"}) == dict.fromkeys(
        ("resource_type", "topic", "subscriber_id", "sequence_number"))
    assert as_sent([1, 2]) is None and as_sent(None) is None
