"""Facts about a piece of feedback that both the negative rule and the templates use:
each answer as text, the NPS answer (:mod:`bridge.okendo.nps`, the one the survey hook
body reads too), and the texts worth searching for keywords.

Failure policy: the inputs are resources that passed validation, but optional parts may
be missing, null or (for unknown shapes) anything at all; every function here accepts
that and answers None or an empty list instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.okendo.answers import answer_text as okendo_answer_text
from bridge.okendo.answers import question_answer_text
from bridge.okendo.nps import Nps, category_text, nps_of

__all__ = ["Answer", "Nps", "answer_text", "answers_of", "nps_of", "searchable_texts"]

def answer_text(answer: Any) -> str | None:
    """Any Okendo answer shape as one line of text; booleans as "yes"/"no" (what an
    agent reads in a note)."""
    return okendo_answer_text(answer, true="yes", false="no")


@dataclass(frozen=True)
class Answer:
    """One answered question, flattened for people."""

    id: str | None
    question: str | None
    type: str | None
    answer: str | None
    nps_category: str | None

    def as_dict(self) -> dict:
        return {"id": self.id, "question": self.question, "type": self.type,
                "answer": self.answer, "nps_category": self.nps_category}


def answers_of(resource: dict) -> list[Answer]:
    """The answered questions of a survey or quiz response (empty for other types)."""
    items = resource.get("answeredQuestions")
    if not isinstance(items, list):
        return []
    answers = []
    for item in items:
        if not isinstance(item, dict):
            continue
        answers.append(Answer(
            id=_str_or_none(item.get("id")),
            question=_str_or_none(item.get("text")),
            type=_str_or_none(item.get("type")),
            answer=question_answer_text(item, true="yes", false="no"),
            nps_category=category_text(item.get("answerNpsCategory")),
        ))
    return answers


def searchable_texts(resource: dict) -> list[tuple[str, str]]:
    """(where, text) pairs a keyword rule looks at: a review's title and body, and the
    text of every answer of a survey or quiz response."""
    texts: list[tuple[str, str]] = []
    for field_name in ("title", "body"):
        value = resource.get(field_name)
        if isinstance(value, str) and value:
            texts.append((field_name, value))
    for answer in answers_of(resource):
        if answer.answer:
            where = f"the answer to {answer.question!r}" if answer.question else "an answer"
            texts.append((where, answer.answer))
    return texts


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
