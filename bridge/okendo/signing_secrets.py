"""Okendo's webhook signing secrets as they are written: ``whsec_<base64>``, several at once
during a rotation, separated by commas or spaces.

Okendo signs with Standard Webhooks / Svix secrets. One home for how such a value is read,
used by the settings (``OKENDO_WEBHOOK_SECRET``), the live settings (the one stored from
the console), a mapping store's own ``secret`` and the signature check (``web/signatures``).

Failure policy: :func:`decode_secret` raises ``ValueError`` naming the problem, never the
secret; :func:`split_secrets` never raises (an empty value is no secrets).
"""
from __future__ import annotations

import base64
import binascii
import re

SECRET_PREFIX = "whsec_"


def split_secrets(value: str | None) -> tuple[str, ...]:
    """``"whsec_a, whsec_b"`` -> ``("whsec_a", "whsec_b")``; commas and whitespace separate."""
    return tuple(part for part in re.split(r"[\s,]+", (value or "").strip()) if part)


def decode_secret(secret: str) -> bytes:
    """`whsec_<base64>` -> key bytes. Raises ValueError naming the problem (not the secret)."""
    raw = secret.strip()
    if raw.startswith(SECRET_PREFIX):
        raw = raw[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not valid base64 after the 'whsec_' prefix") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key
