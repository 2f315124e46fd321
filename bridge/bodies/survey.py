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

from bridge.okendo.answers import answer_text, question_answer_text
from bridge.okendo.nps import category_text, nps_of
from bridge.okendo.schemas import ValidatedEvent, dig, email_of


def flatten_answer(answer: Any) -> str | None:
    """Any answer shape as one line of text (None for no answer)."""
    return answer_text(answer)


def _questions(event: ValidatedEvent) -> list[dict]:
    items = event.resource.get("answeredQuestions")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _answer(question: dict) -> dict:
    """One answered question, from the Okendo ``answeredQuestions`` item."""
    return {
        "questionId": question.get("id"),
        "question": question.get("text"),
        "type": question.get("type"),
        "answer": question_answer_text(question),
        "npsCategory": category_text(question.get("answerNpsCategory")),
    }


def survey_body(event: ValidatedEvent) -> dict:
    """The survey body of a validated ``survey_response`` event."""
    resource = event.resource
    nps = nps_of(resource)
    return {
        "event": event.name,
        "topic": event.topic,
        "customerEmail": email_of(event),
        "customerId": dig(resource, "customer", "customerId"),
        "orderId": dig(resource, "order", "remoteOrderId"),
        "surveyId": dig(resource, "surveyId"),
        "surveyName": dig(resource, "surveyName"),
        "surveyResponseId": dig(resource, "surveyResponseId"),
        "channel": dig(resource, "channel"),
        "dateCreated": dig(resource, "dateCreated"),
        "npsScore": nps.score if nps else None,
        "npsCategory": nps.category if nps else None,
        "answers": [_answer(question) for question in _questions(event)],
        # The section exists even without a reward.
        "reward": {
            "type": dig(resource, "reward", "type"),
            "value": dig(resource, "reward", "value"),
            "description": dig(resource, "reward", "description"),
        },
        "subscriberId": dig(resource, "subscriberId"),
    }
