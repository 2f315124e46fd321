"""The NPS answer of an Okendo survey response: which question it is, its score, its category.

One implementation for everything that reads it: the survey hook body
(``bridge.bodies.survey``: ``npsScore``, ``npsCategory``) and the mapping's negative rule
and templates (``bridge.mapping.feedback``). Two copies used to disagree about the same
response, so the body a workflow saw and the ticket decision could differ.

The agreed behaviour:

* The NPS question is the first answered question whose ``type`` is ``nps`` (any case)
  or that carries Okendo's ``answerNpsCategory`` as a non-empty string.
* Its category is Okendo's ``answerNpsCategory``, trimmed and lowercased ("Detractor" is
  "detractor": the mapping's ``nps_categories`` are lowercase); without one it comes from
  the score with the standard buckets: 0-6 detractor, 7-8 passive, 9-10 promoter (a
  fractional score above 6 is passive, above 8 promoter). A score outside 0..10 has no
  bucket.
* Its score is the answer as a number: a JSON number (``7``, ``7.0``, ``1e1``), the
  ``value`` of an answer object ``{type, value}``, or a string of plain decimal digits
  (``"7"``, ``" 7 "``, ``"6.5"``, ``"-1"``). Whole floats become ints (``7.0`` is 7).
  Booleans, NaN and infinities are not scores.
* The string ``"1e1"`` is NOT a score (None), nor ``"+7"``, ``"1_0"``, ``"٣"`` or
  ``"inf"``, although Python's ``float()`` reads each of them. Okendo sends an NPS
  answer as a number, or at most as digits; a string in another notation is text that
  a parser happens to accept, and reading it as a score would let free text decide a
  ticket (``"6e0"`` would be a detractor). Without a score the category is still
  Okendo's when it sent one.

Failure policy: inputs are resources that passed validation, but optional parts may be
missing, null or of any JSON type; every function here answers None instead of raising.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

NPS_CATEGORIES = ("detractor", "passive", "promoter")

# Plain decimal notation only (see the module docstring for why "1e1" is not a score).
_DECIMAL = re.compile(r"\s*-?[0-9]+(\.[0-9]+)?\s*", re.ASCII)


@dataclass(frozen=True)
class Nps:
    """The NPS answer of a survey response."""

    score: int | float | None
    category: str | None
    question: str | None

    def as_dict(self) -> dict:
        return {"score": self.score, "category": self.category, "question": self.question}


def nps_of(resource: dict) -> Nps | None:
    """The first NPS question's score and category, or None when there is none."""
    question = nps_question(resource)
    if question is None:
        return None
    score = nps_score(question.get("answer"))
    category = category_text(question.get("answerNpsCategory")) or category_for(score)
    text = question.get("text")
    return Nps(score=score, category=category, question=text if isinstance(text, str) and text else None)


def nps_question(resource: dict) -> dict | None:
    """The first answered question that is an NPS question, or None."""
    items = resource.get("answeredQuestions") if isinstance(resource, dict) else None
    if not isinstance(items, list):
        return None
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if (isinstance(kind, str) and kind.lower() == "nps") or category_text(item.get("answerNpsCategory")):
            return item
    return None


def nps_score(answer: Any) -> int | float | None:
    """The number in an NPS answer (see the module docstring), or None."""
    if isinstance(answer, dict):
        answer = answer.get("value")
    if isinstance(answer, bool):
        return None
    if isinstance(answer, str):
        if not _DECIMAL.fullmatch(answer):
            return None
        answer = float(answer)
    if isinstance(answer, float):
        if not math.isfinite(answer):
            return None
        return int(answer) if answer.is_integer() else answer
    return answer if isinstance(answer, int) else None


def category_for(score: int | float | None) -> str | None:
    """The standard NPS bucket of a 0..10 score (None outside that range)."""
    if score is None or not 0 <= score <= 10:
        return None
    if score <= 6:
        return "detractor"
    return "passive" if score <= 8 else "promoter"


def category_text(value: Any) -> str | None:
    """Okendo's ``answerNpsCategory`` as the bridge compares it: trimmed, lowercase;
    None when it is not a non-empty string."""
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None
