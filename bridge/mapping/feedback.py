"""Facts about a piece of feedback that both the negative rule and the templates use:
each answer as text, the NPS answer, and the texts worth searching for keywords.

Failure policy: the inputs are resources that passed validation, but optional parts may
be missing, null or (for unknown shapes) anything at all; every function here accepts
that and answers None or an empty list instead of raising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bridge.okendo.answers import answer_text as okendo_answer_text

# Deeper than this an answer is cut short rather than risking deep recursion.


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
        text = answer_text(item.get("answer"))
        custom = item.get("customAnswer")
        if isinstance(custom, str) and custom.strip():  # the shopper's "Other: ..." text
            text = f"{text}, {custom}" if text else custom
        answers.append(Answer(
            id=_str_or_none(item.get("id")),
            question=_str_or_none(item.get("text")),
            type=_str_or_none(item.get("type")),
            answer=text,
            nps_category=_str_or_none(item.get("answerNpsCategory")),
        ))
    return answers


@dataclass(frozen=True)
class Nps:
    """The NPS answer of a survey response."""

    score: int | float | None
    category: str | None
    question: str | None

    def as_dict(self) -> dict:
        return {"score": self.score, "category": self.category, "question": self.question}


def nps_of(resource: dict) -> Nps | None:
    """The first NPS question's score and category, or None when there is none.

    Okendo's ``answerNpsCategory`` wins; without it the category comes from the score
    with the standard buckets (0-6 detractor, 7-8 passive, 9-10 promoter).
    """
    items = resource.get("answeredQuestions")
    if not isinstance(items, list):
        return None
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        category = _str_or_none(item.get("answerNpsCategory"))
        if not (category or (isinstance(kind, str) and kind.lower() == "nps")):
            continue
        score = _numeric(item.get("answer"))
        return Nps(score=score, category=(category.lower() if category else _bucket(score)),
                   question=_str_or_none(item.get("text")))
    return None


def _numeric(answer: Any) -> int | float | None:
    if isinstance(answer, dict):
        answer = answer.get("value")
    if isinstance(answer, bool):
        return None
    if isinstance(answer, str):
        try:
            answer = float(answer.strip())
        except ValueError:
            return None
    if isinstance(answer, float):
        if not math.isfinite(answer):
            return None
        return int(answer) if answer.is_integer() else answer
    return answer if isinstance(answer, int) else None


def _bucket(score: int | float | None) -> str | None:
    if score is None or not 0 <= score <= 10:
        return None
    if score <= 6:
        return "detractor"
    return "passive" if score <= 8 else "promoter"


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
