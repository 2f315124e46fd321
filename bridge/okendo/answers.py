"""Okendo survey and quiz answers as text: one implementation for hook bodies and notes.

An answer may be a scalar, a list, or an object `{type, value}` (okendo.md); this
turns any of them into one line of text, never raising and never losing content
(an unknown object is kept as JSON).
"""
from __future__ import annotations

import json
import math
from typing import Any

# Beyond this nesting an answer is cut short rather than risking deep recursion.
MAX_DEPTH = 16


def answer_text(answer: Any, *, true: str = "true", false: str = "false", _depth: int = 0) -> str | None:
    """Any answer shape as one line of text (None for no answer).

    Lists are joined with ", "; `{type, value}` gives its value; booleans give `true` /
    `false` (workflows compare strings; a note for people passes "yes"/"no").
    """
    if _depth > MAX_DEPTH:
        return "…"
    if answer is None:
        return None
    if isinstance(answer, bool):
        return true if answer else false
    if isinstance(answer, (int, float)):
        return number_text(answer)
    if isinstance(answer, str):
        return answer
    if isinstance(answer, list):
        parts = [answer_text(item, true=true, false=false, _depth=_depth + 1) for item in answer]
        return ", ".join(part for part in parts if part)
    if isinstance(answer, dict):
        if "value" in answer:
            return answer_text(answer["value"], true=true, false=false, _depth=_depth + 1)
        try:  # an object shape we don't know: keep it readable rather than lose it
            return json.dumps(answer, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError, RecursionError):
            return str(answer)
    return str(answer)


def number_text(number: int | float) -> str:
    """3.0 -> "3"; other numbers as Python prints them."""
    if isinstance(number, float) and number.is_integer() and math.isfinite(number):
        return str(int(number))
    try:
        return str(number)
    except ValueError:  # an int with more digits than Python will print
        return "<number too large>"


def question_answer_text(question: dict, *, true: str = "true", false: str = "false") -> str | None:
    """An answered question's answer as text, followed by the shopper's own "Other: ..."
    text (``customAnswer``) after ", " when there is one."""
    text = answer_text(question.get("answer"), true=true, false=false)
    custom = question.get("customAnswer")
    if isinstance(custom, str) and custom.strip():
        text = f"{text}, {custom}" if text else custom
    return text
