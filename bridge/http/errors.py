"""The base of the Kustomer and Okendo clients' errors.

Each client subclasses it with its own kinds (`kustomer.errors`, `okendo.api`) and fields;
what a caller of either may rely on is here: the message (what `str()` gives, never a
credential), the HTTP status when an answer came, and `retry_after` when the server said
how long to wait.
"""
from __future__ import annotations


class CallError(Exception):
    """A call to an outside HTTP API failed; `message` says why, in words for a person."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message
