"""Turn many events into one line: "12 events died: 11 × Kustomer 400 on /tags, 1 × 413".

An event's reason comes from its last failed Kustomer call when it has one (status
code and endpoint), else from its `last_error` with the varying parts (ids, counts)
taken out, so that events that failed the same way fall into the same group.

Never in a reason: hook URL hashes (a hook is named by its route), API keys, full
shopper emails (everything passes through `bridge.logs.mask`).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from bridge.logs import mask

MAX_GROUPS = 5      # reasons listed in one message; the rest are summed as "other"
MAX_REASON = 90     # characters of one reason
# A redacted target keeps 6 characters of its last path segment ("conver…"): say it in full.
_ENDPOINTS = {"conver": "/conversations", "custom": "/customers", "email=": "/customers lookup",
              "extern": "/customers lookup", "notes": "/notes", "tags": "/tags", "hooks": "/hooks"}
_NUMBERS = re.compile(r"\b\d+\b")
_GAVE_UP = re.compile(r"^gave up after \d+ attempts: ")


def attempt_reason(action_key: str, status: int | None, target: str | None, error: str | None) -> str:
    """The reason of a failed call, e.g. "Kustomer 400 on /tags" or "Kustomer 503 on hook reviews"."""
    where = _where(action_key, target)
    if status is None:
        kind = (error or "no answer").split(":", 1)[0].strip() or "no answer"
        return _clip(mask(f"no answer from Kustomer on {where} ({kind})"))
    return _clip(mask(f"Kustomer {status} on {where}"))


def error_reason(last_error: str | None) -> str:
    """A reason from an event's `last_error` when no Kustomer call explains it."""
    if not last_error:
        return "no reason recorded"
    text = _GAVE_UP.sub("", last_error.split("; ")[0])
    text = re.sub(r"^(hook:[^:]+|ticket[^:]*): ", "", text)
    return _clip(mask(_NUMBERS.sub("N", text)))


def _where(action_key: str, target: str | None) -> str:
    if action_key.startswith("hook:"):
        return "hook " + action_key[len("hook:"):]
    segment = (target or "").rstrip("/").rsplit("/", 1)[-1].rstrip("…")
    return _ENDPOINTS.get(segment, f"/{segment}" if segment else action_key)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def summarize(reasons: Iterable[str]) -> list[str]:
    """["11 × Kustomer 400 on /tags", "1 × Kustomer 413 on hook reviews"], most frequent first."""
    counts = Counter(reasons)
    top = counts.most_common(MAX_GROUPS)
    lines = [f"{n} × {reason}" for reason, n in top]
    rest = sum(counts.values()) - sum(n for _, n in top)
    if rest:
        lines.append(f"{rest} × other reasons")
    return lines


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def duration(seconds: float) -> str:
    """600 -> "10 minutes", 90 -> "90 seconds", 7200 -> "2 hours"."""
    seconds = max(0, round(seconds))
    if seconds < 120:
        return plural(seconds, "second")
    if seconds < 7200:
        return plural(round(seconds / 60), "minute")
    if seconds < 172800:
        return plural(round(seconds / 3600), "hour")
    return plural(round(seconds / 86400), "day")
