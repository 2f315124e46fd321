"""The NPS answer (bridge.okendo.nps): one reading for the survey hook body and the negative rule.

Each row is an NPS question as Okendo might send it and what the bridge makes of it. Every
row is checked three ways: `nps_of` itself, the survey hook body's `npsScore`/`npsCategory`,
and the ticket rule's decision, so the body a Kustomer workflow sees and the ticket the
bridge opens can never disagree about the same response again.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from bridge.bodies import build_body
from bridge.mapping.model import TicketRule
from bridge.mapping.negative import judge
from bridge.okendo.schemas import validate_event
from bridge.okendo.nps import NPS_CATEGORIES, Nps, category_for, nps_of, nps_score
from tests.hypothesis_profiles import examples

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "okendo" / "survey_response-create-detractor.json"
DETRACTORS = TicketRule(nps_categories=("detractor",))

# (the NPS question, its score, its category)
AGREED = [
    ({"type": "nps", "answer": 3, "answerNpsCategory": "detractor"}, 3, "detractor"),
    # Okendo's category is compared lowercase: the mapping's nps_categories are lowercase.
    ({"type": "nps", "answer": 3, "answerNpsCategory": "Detractor"}, 3, "detractor"),
    ({"type": "nps", "answer": 9, "answerNpsCategory": " PROMOTER "}, 9, "promoter"),
    # Okendo's category wins over the score's bucket.
    ({"type": "nps", "answer": 9, "answerNpsCategory": "detractor"}, 9, "detractor"),
    # Without Okendo's category, the standard buckets.
    ({"type": "nps", "answer": 6}, 6, "detractor"),
    ({"type": "NPS", "answer": 7}, 7, "passive"),
    ({"type": "nps", "answer": 10}, 10, "promoter"),
    ({"type": "nps", "answer": 6.5}, 6.5, "passive"),  # above 6: not a detractor
    ({"type": "nps", "answer": 7.0}, 7, "passive"),
    ({"type": "nps", "answer": {"type": "number", "value": 0}}, 0, "detractor"),
    # Digits in a string are a score.
    ({"type": "nps", "answer": "7"}, 7, "passive"),
    ({"type": "nps", "answer": " 8 "}, 8, "passive"),
    ({"type": "nps", "answer": {"type": "number", "value": "2.0"}}, 2, "detractor"),
    # Any other notation is text, not a score (see bridge.okendo.nps on "1e1").
    ({"type": "nps", "answer": "1e1"}, None, None),
    ({"type": "nps", "answer": "6e0"}, None, None),
    ({"type": "nps", "answer": "+7"}, None, None),
    ({"type": "nps", "answer": "1_0"}, None, None),
    ({"type": "nps", "answer": "٣"}, None, None),
    ({"type": "nps", "answer": "nan"}, None, None),
    ({"type": "nps", "answer": "inf"}, None, None),
    ({"type": "nps", "answer": "not sure"}, None, None),
    # ...but Okendo's own category still stands without a score.
    ({"type": "nps", "answer": "1e1", "answerNpsCategory": "promoter"}, None, "promoter"),
    ({"type": "nps", "answer": None, "answerNpsCategory": "passive"}, None, "passive"),
    ({"type": "nps", "answer": True}, None, None),
    ({"type": "nps", "answer": 42}, 42, None),  # outside 0..10: no bucket
    ({"type": "nps", "answer": -1}, -1, None),
    # A question of another type is the NPS question when Okendo gives it a category.
    ({"type": "rating", "answer": 2, "answerNpsCategory": "detractor"}, 2, "detractor"),
]


def survey(*questions: dict) -> dict:
    payload = json.loads(SAMPLE.read_text())
    payload["resource"]["answeredQuestions"] = list(questions)
    return payload


@pytest.mark.parametrize(("question", "score", "category"), AGREED)
def test_the_body_and_the_ticket_rule_read_the_same_nps_answer(question, score, category):
    free_text = {"id": "free", "type": "free-text", "text": "Anything else?", "answer": "5"}
    event = validate_event(survey(free_text, {"id": "n", "text": "Recommend us?", **question}))

    assert nps_of(event.resource) == Nps(score=score, category=category, question="Recommend us?")
    body = build_body("survey", event)
    assert (body["npsScore"], body["npsCategory"]) == (score, category)
    negative, clause = judge(DETRACTORS, "survey_response", event.resource)
    assert negative == (category == "detractor")
    assert (f"NPS category {category!r}" in clause) if category else clause == "not negative: no NPS answer"


def test_the_first_nps_question_counts_and_questions_without_one_have_none():
    first, second = {"type": "nps", "answer": 2}, {"type": "nps", "answer": 10}
    assert nps_of(survey(first, second)["resource"]).score == 2
    assert nps_of(survey({"type": "free-text", "answer": "7"})["resource"]) is None
    assert nps_of({}) is None and nps_of({"answeredQuestions": "nope"}) is None
    # A category that is not a non-empty string does not make a question the NPS one.
    assert nps_of(survey({"type": "rating", "answer": 2, "answerNpsCategory": 1})["resource"]) is None
    assert nps_of(survey({"type": "rating", "answer": 2, "answerNpsCategory": "  "})["resource"]) is None


def test_each_answer_in_the_body_carries_okendos_category_lowercased():
    event = validate_event(survey({"id": "n", "type": "nps", "answer": 1, "answerNpsCategory": "Detractor"}))
    assert [answer["npsCategory"] for answer in build_body("survey", event)["answers"]] == ["detractor"]


def test_buckets_and_categories():
    assert [category_for(score) for score in (0, 6, 6.5, 7, 8, 8.5, 9, 10)] == [
        "detractor", "detractor", "passive", "passive", "passive", "promoter", "promoter", "promoter"]
    assert {category_for(score) for score in (None, -1, 10.5, 11)} == {None}
    assert NPS_CATEGORIES == ("detractor", "passive", "promoter")


json_answers = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.from_regex(r"\s*-?[0-9]{1,3}(\.[0-9]{1,2})?\s*", fullmatch=True),
    lambda children: st.lists(children, max_size=3)
    | st.fixed_dictionaries({"value": children}, optional={"type": st.sampled_from(["number", "text"])}),
    max_leaves=4)


@settings(max_examples=examples(200), deadline=None)
@given(answer=json_answers, category=st.none() | st.sampled_from(["detractor", "Passive", "PROMOTER", ""]))
def test_whatever_the_answer_the_score_is_a_number_or_none_and_body_and_rule_agree(answer, category):
    question = {"type": "nps", "answer": answer}
    if category is not None:
        question["answerNpsCategory"] = category
    score = nps_score(answer)
    assert score is None or (type(score) in (int, float) and score == score)
    nps = nps_of({"answeredQuestions": [question]})
    assert nps.category in NPS_CATEGORIES + (None,)
    event = validate_event(survey(question))
    body = build_body("survey", event)
    assert (body["npsScore"], body["npsCategory"]) == (nps.score, nps.category)
    assert judge(DETRACTORS, "survey_response", event.resource)[0] == (nps.category == "detractor")
