"""Kustomer's wire formats as the emulator answers in them: the JSON:API error, timestamps.

A module of its own so that ``state`` and its ``kobjects`` mixin both use them without
importing each other (the mixin used to reach them through the ``state`` module).
"""
from __future__ import annotations

from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

_ERROR_CODES = {
    400: "bad_request", 401: "auth_unauthorized", 403: "auth_forbidden",
    404: "not_found", 408: "request_timeout", 409: "duplicate",
    413: "payload_too_large", 422: "unprocessable_entity", 429: "rate_limit_exceeded",
    500: "internal_error", 502: "bad_gateway", 503: "service_unavailable",
    504: "gateway_timeout",
}


class ApiError(Exception):
    """An error answer in Kustomer's JSON:API error shape."""

    def __init__(self, status: int, detail: str | None = None, *, pointer: str | None = None,
                 headers: dict[str, str] | None = None, code: str | None = None,
                 sub_errors: list[str] | None = None):
        super().__init__(detail or str(status))
        self.sub_errors = list(sub_errors or [])
        self.status = status
        self.detail = detail
        self.pointer = pointer
        self.headers = headers or {}
        self.code = code or _ERROR_CODES.get(status, "error")

    def body(self) -> dict:
        try:
            title = HTTPStatus(self.status).phrase
        except ValueError:
            title = "Error"
        error: dict[str, Any] = {"status": str(self.status), "code": self.code, "title": title}
        if self.detail:
            error["detail"] = self.detail
        if self.pointer:
            error["source"] = {"pointer": self.pointer}
        if self.sub_errors:
            error["meta"] = {"subErrors": [{"detail": text} for text in self.sub_errors]}
        return {"errors": [error]}


def iso(ts: float) -> str:
    """Epoch seconds -> ``2020-04-21T07:09:25.454Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"
