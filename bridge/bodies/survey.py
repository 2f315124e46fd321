"""The ``survey`` body: a flat, workflow-friendly view of a ``survey_response`` event.

Okendo's native integration never sent surveys, so there is no legacy shape to match.
This one is built for Kustomer workflow conditions: top-level scalars
(``data.npsScore``, ``data.npsCategory``, ``data.customerEmail``) instead of a walk
through ``answeredQuestions``, and each answer flattened to text so it can go straight
into a note or a conversation attribute.

Keys (always all present; null when the event lacks the value):
``event``, ``topic``, ``customerEmail``, ``customerId``, ``orderId`` (the platform's
order id, ``order.remoteOrderId``), ``surveyId``, ``surveyName``, ``surveyResponseId``,
``channel``, ``dateCreated``, ``npsScore``, ``npsCategory``, ``answers`` (list of
``{questionId, question, type, answer, npsCategory}``), ``reward`` (``{type, value,
description}``, values null without a reward) and ``subscriberId``.

NPS: the first question of type ``nps`` (or carrying ``answerNpsCategory``) gives
``npsScore`` (its numeric answer, null when it is not a number) and ``npsCategory``
(Okendo's ``answerNpsCategory``; derived from the score with the standard NPS buckets,
0-6 detractor, 7-8 passive, 9-10 promoter, when Okendo left it out).

Answer text: a list is joined with ", ", an object ``{type, value}`` gives its value, a
boolean gives "true"/"false", no answer gives null; a ``customAnswer`` (the shopper's
"Other: ..." text) is appended after ", ".

Failure policy: only validated ``survey_response`` events come here (see
:func:`bridge.bodies.build_body`); lookups tolerate missing or null parts and answer
flattening accepts any JSON value, so building the body does not fail.
"""

from __future__ import annotations

import math
import re
from typing import Any

from marshmallow import Schema, fields

from bridge.okendo.answers import answer_text
from bridge.okendo.schemas import ValidatedEvent, dig, email_of

_NUMBER = re.compile(r"\s*-?[0-9]+(\.[0-9]+)?\s*")


def flatten_answer(answer: Any) -> str | None:
    """Any answer shape as one line of text (None for no answer)."""
    return answer_text(answer)


def _answer_text(question: dict) -> str | None:
    text = flatten_answer(question.get("answer"))
    custom = question.get("customAnswer")
    if isinstance(custom, str) and custom.strip():
        text = f"{text}, {custom}" if text else custom
    return text


def _numeric_answer(answer: Any) -> int | float | None:
    """The number in an NPS answer: 7, 7.0, "7" or {"type": "number", "value": 7}."""
    if isinstance(answer, dict):
        answer = answer.get("value")
    if isinstance(answer, bool):
        return None
    if isinstance(answer, str) and _NUMBER.fullmatch(answer):
        answer = float(answer)
    if isinstance(answer, float):
        if not math.isfinite(answer):
            return None
        return int(answer) if answer.is_integer() else answer
    if isinstance(answer, int):
        return answer
    return None


def nps_category_for(score: int | float | None) -> str | None:
    """The standard NPS bucket of a 0..10 score (None outside that range)."""
    if score is None or not 0 <= score <= 10:
        return None
    if score <= 6:
        return "detractor"
    if score <= 8:
        return "passive"
    return "promoter"


def _questions(event: ValidatedEvent) -> list[dict]:
    items = event.resource.get("answeredQuestions")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _first_nps_question(event: ValidatedEvent) -> dict | None:
    for question in _questions(event):
        kind = question.get("type")
        if (isinstance(kind, str) and kind.lower() == "nps") or question.get(
            "answerNpsCategory"
        ):
            return question
    return None


def _nps_score(event: ValidatedEvent) -> int | float | None:
    question = _first_nps_question(event)
    return _numeric_answer(question.get("answer")) if question else None


def _nps_category(event: ValidatedEvent) -> str | None:
    question = _first_nps_question(event)
    if question is None:
        return None
    category = question.get("answerNpsCategory")
    if isinstance(category, str) and category:
        return category
    return nps_category_for(_numeric_answer(question.get("answer")))


class SurveyAnswerItem(Schema):
    """One answered question; dumps from the Okendo ``answeredQuestions`` item."""

    questionId = fields.Function(lambda question: question.get("id"))
    question = fields.Function(lambda question: question.get("text"))
    type = fields.Function(lambda question: question.get("type"))
    answer = fields.Function(_answer_text)
    npsCategory = fields.Function(lambda question: question.get("answerNpsCategory"))


class SurveyRewardSection(Schema):
    """Dumps from the survey resource so the section exists even without a reward."""

    type = fields.Function(lambda resource: dig(resource, "reward", "type"))
    value = fields.Function(lambda resource: dig(resource, "reward", "value"))
    description = fields.Function(lambda resource: dig(resource, "reward", "description"))


_REWARD_SECTION = SurveyRewardSection()


def _from_resource(*path: str) -> fields.Function:
    return fields.Function(lambda event: dig(event.resource, *path))


class SurveyBodySchema(Schema):
    """Dumps a :class:`ValidatedEvent` of a survey response."""

    event = fields.Function(lambda event: event.name)
    topic = fields.String()
    customerEmail = fields.Function(email_of)
    customerId = _from_resource("customer", "customerId")
    orderId = _from_resource("order", "remoteOrderId")
    surveyId = _from_resource("surveyId")
    surveyName = _from_resource("surveyName")
    surveyResponseId = _from_resource("surveyResponseId")
    channel = _from_resource("channel")
    dateCreated = _from_resource("dateCreated")
    npsScore = fields.Function(_nps_score)
    npsCategory = fields.Function(_nps_category)
    answers = fields.Method("get_answers")
    reward = fields.Function(lambda event: _REWARD_SECTION.dump(event.resource))
    subscriberId = _from_resource("subscriberId")

    def get_answers(self, event: ValidatedEvent) -> list[dict]:
        return SurveyAnswerItem(many=True).dump(_questions(event))


_SCHEMA = SurveyBodySchema()


def survey_body(event: ValidatedEvent) -> dict:
    """The survey body of a validated ``survey_response`` event."""
    return _SCHEMA.dump(event)
