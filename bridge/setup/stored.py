"""The `stored_settings` table: what the setup page may store, read and written encrypted.

Only the names in `STORABLE` can be stored: the settings a first run needs and that an
admin can paste into a browser. Everything else stays in the environment.

The Okendo signing secret is stored as a list with expiry times (`SigningSecret`), so a
rotation keeps the old secret valid for a grace period.

Failure policy: reading never raises for one bad row: a value that does not decrypt is
left out and reported in `problems`; a missing table or database raises to the caller
(`bridge.setup.live` turns that into a problem and keeps the last good values).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.events.models import StoredSetting
from bridge.setup.vault import Vault, VaultError

WEBHOOK_SECRET = "OKENDO_WEBHOOK_SECRET"
SUBSCRIPTION_ID = "OKENDO_SUBSCRIPTION_ID"  # the subscription the console created, for rotation

# name -> (what the page calls it, secret: shown only as its last 4 characters)
STORABLE: dict[str, tuple[str, bool]] = {
    "OKENDO_USER_ID": ("Okendo user id", False),
    "OKENDO_API_KEY": ("Okendo API key", True),
    WEBHOOK_SECRET: ("Okendo signing secret", True),
    SUBSCRIPTION_ID: ("Okendo subscription id", False),
    "KUSTOMER_API_KEY": ("Kustomer API key", True),
    "KUSTOMER_API_BASE": ("Kustomer API base URL", False),
    "KUSTOMER_REVIEW_HOOK_URL": ("Kustomer review hook URL", True),
    "KUSTOMER_SURVEY_HOOK_URL": ("Kustomer survey hook URL", True),
}


@dataclass(frozen=True)
class SigningSecret:
    secret: str
    valid_until: datetime | None = None  # None: the current secret

    def active(self, now: datetime) -> bool:
        return self.valid_until is None or now < self.valid_until


def parse_secrets(text: str) -> list[SigningSecret]:
    """The stored JSON list; a plain `whsec_...` (one secret) is read too."""
    try:
        items = json.loads(text)
    except ValueError:
        return [SigningSecret(part) for part in text.replace(",", " ").split() if part]
    return [SigningSecret(item["secret"], datetime.fromisoformat(item["valid_until"])
                          if item.get("valid_until") else None) for item in items]


def dump_secrets(secrets: list[SigningSecret]) -> str:
    return json.dumps([{"secret": s.secret, "valid_until": s.valid_until.isoformat() if s.valid_until else None}
                       for s in secrets])


def active_secrets(text: str, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(timezone.utc)
    return [s.secret for s in parse_secrets(text) if s.active(now)]


def read_all(session: Session, vault: Vault) -> tuple[dict[str, str], list[str]]:
    """(decrypted values by name, problems). Empty when SECRET_KEY is not set."""
    rows = session.execute(select(StoredSetting)).scalars().all()
    if not rows:
        return {}, []
    if not vault.available:
        return {}, ["SECRET_KEY is not set: the settings stored on the setup page cannot be read"]
    values, problems = {}, []
    for row in rows:
        if row.name not in STORABLE:
            continue
        try:
            values[row.name] = vault.decrypt(row.value, STORABLE[row.name][0])
        except VaultError as exc:
            problems.append(str(exc))
    return values, problems


def write(session: Session, vault: Vault, values: dict[str, str | None]) -> None:
    """Store (or, for None/empty, forget) each value. Raises VaultUnavailable without SECRET_KEY."""
    unknown = set(values) - set(STORABLE)
    if unknown:
        raise ValueError(f"not a setting the console stores: {', '.join(sorted(unknown))}")
    for name, value in values.items():
        if not value:
            session.execute(delete(StoredSetting).where(StoredSetting.name == name))
            continue
        token = vault.encrypt(value)
        row = session.get(StoredSetting, name)
        if row is None:
            session.add(StoredSetting(name=name, value=token))
        else:
            row.value = token
            row.updated_at = datetime.now(timezone.utc)
