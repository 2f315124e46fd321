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

NPS: ``npsScore`` and ``npsCategory`` are :func:`bridge.okendo.nps.nps_of`'s, the same
answer the mapping's negative rule reads: the first question of type ``nps`` (or carrying
``answerNpsCategory``), its numeric answer (null when it is not a number) and Okendo's
category, lowercased (derived from the score with the standard NPS buckets, 0-6
detractor, 7-8 passive, 9-10 promoter, when Okendo left it out).

Answer text: a list is joined with ", ", an object ``{type, value}`` gives its value, a
boolean gives "true"/"false", no answer gives null; a ``customAnswer`` (the shopper's
"Other: ..." text) is appended after ", ".

Failure policy: only validated ``survey_response`` events come here (see
:func:`bridge.bodies.build_body`); lookups tolerate missing or null parts and answer
flattening accepts any JSON value, so building the body does not fail.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from bridge.okendo.answers import answer_text, question_answer_text
from bridge.okendo.nps import category_text, nps_of
from bridge.okendo.schemas import ValidatedEvent, dig, email_of


def flatten_answer(answer: Any) -> str | None:
    """Any answer shape as one line of text (None for no answer)."""
    return answer_text(answer)


def _questions(event: ValidatedEvent) -> list[dict]:
    items = event.resource.get("answeredQuestions")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _nps_score(event: ValidatedEvent) -> int | float | None:
    nps = nps_of(event.resource)
    return nps.score if nps else None


def _nps_category(event: ValidatedEvent) -> str | None:
    nps = nps_of(event.resource)
    return nps.category if nps else None


class SurveyAnswerItem(Schema):
    """One answered question; dumps from the Okendo ``answeredQuestions`` item."""

    questionId = fields.Function(lambda question: question.get("id"))
    question = fields.Function(lambda question: question.get("text"))
    type = fields.Function(lambda question: question.get("type"))
    answer = fields.Function(question_answer_text)
    npsCategory = fields.Function(lambda question: category_text(question.get("answerNpsCategory")))


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
