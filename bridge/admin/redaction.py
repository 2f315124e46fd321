"""Keeping credentials out of admin pages.

Two layers. Views redact what they know is sensitive (hook URLs through
`redact_url`, emails in lists through `bridge.logs.mask`). Then, because a mapping can
name any `${ENV}` variable and a payload or an error message can echo one, every admin
HTML page is scrubbed of the *values* of the secret-looking variables in the
environment before it leaves the process.

Failure policy: scrubbing only replaces text; it never blocks a page. Values shorter
than 8 characters are not scrubbed (replacing "1" or "true" everywhere would wreck
pages and such values are no credential anyway).
"""
from __future__ import annotations

import re
from html import escape
from typing import Mapping

from bridge.kustomer.errors import redact_url

_SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN|HOOK_URL|DATABASE_URL|REDIS_URL|QUEUE_URL)", re.I)
MIN_SECRET_LENGTH = 8
REDACTED = "[redacted]"


def secret_values(env: Mapping[str, str]) -> dict[str, str]:
    """Text to hide -> what to show instead, from variables whose names look secret."""
    replacements: dict[str, str] = {}
    for name, value in env.items():
        if not value or not _SECRET_NAME.search(name):
            continue
        parts = re.split(r"[\s,]+", value.strip()) if "SECRET" in name.upper() else [value.strip()]
        for part in parts:
            if len(part) < MIN_SECRET_LENGTH:
                continue
            shown = redact_url(part) if part.startswith(("http://", "https://")) else REDACTED
            replacements[part] = shown
            replacements[escape(part)] = escape(shown)  # as Jinja would have escaped it
    return replacements


def scrub(text: str, replacements: Mapping[str, str]) -> str:
    # Longest first, so a URL is replaced whole before any secret it contains.
    for secret in sorted(replacements, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, replacements[secret])
    return text


def redact_preview(preview: dict) -> dict:
    """A `preview_payload` result with its hook URLs redacted (they are credentials)."""
    for hook in preview.get("hooks") or []:
        if hook.get("url"):
            hook["url"] = redact_url(hook["url"])
    return preview


def redact_target(target: str | None) -> str | None:
    """Attempt targets are stored redacted; redacting again is harmless and guards old rows."""
    if target and target.startswith(("http://", "https://")):
        return redact_url(target)
    return target
