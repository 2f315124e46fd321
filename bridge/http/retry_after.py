"""The `Retry-After` header, and waiting what it says, for the Kustomer and Okendo clients."""
from __future__ import annotations

import email.utils
import math
import time
from datetime import timezone

from tenacity.wait import wait_base


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (a delay in seconds or an HTTP date);
    None when absent or unreadable. An HTTP date without a zone is taken as GMT, as the
    HTTP spec says all HTTP dates are."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


class wait_for_server_hint_or(wait_base):
    """Wait what the server asked for (the error's ``retry_after``), else ``fallback``."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state) -> float:
        hint = getattr(retry_state.outcome.exception(), "retry_after", None)
        return hint if hint is not None else self.fallback(retry_state)
