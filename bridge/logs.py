"""Logging: one JSON object per line, with shopper emails and secrets masked.

Masking happens in the formatter, on the final text, so no call site can leak a
key or an email by forgetting to mask it.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

# Also URL-encoded (`%40`): urllib3 logs request paths such as /v1/customers/email=a%40b.com at DEBUG.
# Internationalised addresses (`иван@пример.рф`, `jörg.müller@exämple.de`), raw or
# percent-encoded, and every character RFC 5322 allows in a local part (`o'brien`).
_ENCODED_OR_WORD = r"(?:[\w-]|%[0-9A-Fa-f]{2})"
_EMAIL = re.compile(r"([\w.!#$%&'*+?^~-])[\w.!#$%&'*+?^~-]*(?:@|%40)"
                    rf"({_ENCODED_OR_WORD}+(?:\.{_ENCODED_OR_WORD}+)+)")
# Kustomer's lookup path names the address; whatever its encoding, keep one character.
_LOOKUP = re.compile(r"(/customers/email=)([^\s\"'&?/])[^\s\"'&?]*")
# (pattern, replacement, a test every text it can match passes). The test is a substring
# check: a line without the pattern's literal part (most lines) is not scanned at all, which
# makes a line ~3x cheaper to write (these regexes try every position of the text).
_SECRETS = [
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_***", lambda text: "whsec_" in text),
    # "bearer" has no letter with a Unicode case variant beyond its ASCII one, so lower() is exact.
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***", lambda text: "bearer" in text.lower()),
    # JWTs (Kustomer API keys are JWTs): three base64url parts.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "***jwt***", lambda text: "eyJ" in text),
    # The hash part of a Kustomer hook URL authorises posting for form hooks.
    (re.compile(r"(/v1/hooks/(?:web|form)/(?:[^/\s\"']+/)?)([A-Za-z0-9_-]{6})[A-Za-z0-9_-]*"), r"\1\2…",
     lambda text: "/v1/hooks/" in text),
]
_EXTRA_FIELDS = ("event_id", "webhook_id", "status", "event_status", "latency_ms", "request_id", "action",
                 "resource_type", "topic", "method", "path")


# Fields every log line written in the current context carries (the event being processed).
_context: contextvars.ContextVar[dict] = contextvars.ContextVar("log_context", default={})


@contextmanager
def context(**fields) -> Iterator[None]:
    """Add `fields` (e.g. event_id, webhook_id) to every log line written inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def mask_email_addresses(text: str) -> str:
    """Keep each email's first letter and domain: `jane@example.com` -> `j***@example.com`."""
    if "@" not in text and "%40" not in text:  # nothing to mask; spares the regex's scan
        return text
    return _EMAIL.sub(r"\1***@\2", text)


def mask(text: str) -> str:
    """Mask emails (keep first letter and domain) and anything that looks like a secret."""
    if "/customers/email=" in text:
        text = _LOOKUP.sub(r"\1\2***", text)
    text = mask_email_addresses(text)
    for pattern, replacement, may_match in _SECRETS:
        if may_match(text):
            text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_context.get())
        for name in _EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask(json.dumps(entry, default=str, ensure_ascii=False))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic announces each of its plugins at INFO on every start; keep the migrations only.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
