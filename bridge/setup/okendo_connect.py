"""Connect Okendo from the setup page: subscribe the bridge's own URL and keep the secret.

Okendo has no screen for webhooks; a subscription is made through its Merchant API with the
merchant's user id and API key, and Okendo's answer carries the subscription's signing
secret (bridge.okendo.api). The page's two buttons:

- Connect: subscribe `<public URL>/webhooks/okendo` for reviews and survey responses, store
  the user id, the API key (encrypted), the subscription id and the signing secret.
- Rotate: make a new subscription for the same URL, store its secret as the current one and
  keep the old secret valid for `GRACE` (deliveries Okendo signed with it may still be
  retried), then delete the old subscription so events are not sent twice.

Connecting when a subscription for this URL already exists replaces it the same way (its
secret cannot be read back from Okendo).

Failure policy: Okendo's errors propagate as `OkendoError` (the page shows their message,
which never contains the key); nothing is stored unless the new subscription and its
secret came back. Deleting an old subscription is best effort: a failure is reported, not
raised, since the new subscription already works.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bridge.okendo.api import DEFAULT_BASE_URL, OkendoClient, OkendoError, find_signing_secret
from bridge.okendo.cli import DEFAULT_RESOURCES, TOPICS, WEBHOOK_PATH, _same_endpoint
from bridge.setup import stored

log = logging.getLogger(__name__)
# Okendo retries a failed delivery for up to about a day; the old secret stays valid that long.
GRACE = timedelta(hours=24)


@dataclass
class Connected:
    subscription_id: str
    endpoint: str
    replaced: list[str] = field(default_factory=list)
    not_deleted: list[str] = field(default_factory=list)  # old subscriptions Okendo refused to delete


def webhook_endpoint(public_url: str) -> str:
    return public_url.rstrip("/") + WEBHOOK_PATH


def connect(db, vault, live, user_id: str, api_key: str, public_url: str, *, client_factory=OkendoClient,
            now: datetime | None = None) -> Connected:
    """Subscribe (or re-subscribe) and store what came back. Raises OkendoError, ValueError."""
    now = now or datetime.now(timezone.utc)
    base = live.get("OKENDO_API_BASE") or DEFAULT_BASE_URL
    client = client_factory(user_id.strip(), api_key.strip(), base)
    endpoint = webhook_endpoint(public_url)
    old = [s for s in client.list_subscriptions() if _same_endpoint(s.get("endpointUrl"), endpoint)]
    created = client.create_subscription(endpoint, [(r, t) for r in DEFAULT_RESOURCES for t in TOPICS])
    secret = find_signing_secret(created)
    subscription_id = str(created.get("webhookSubscriptionId") or "")
    if not secret:
        raise OkendoError(f"Okendo created subscription {subscription_id or '(no id)'} but its answer carried "
                          "no whsec_ signing secret; delete it in Okendo (`bridge okendo delete`) and try again")
    previous = stored.parse_secrets(live.stored().get(stored.WEBHOOK_SECRET, ""))
    keep = [stored.SigningSecret(s.secret, s.valid_until or now + GRACE) for s in previous if s.active(now)]
    with db.session() as session:
        stored.write(session, vault, {
            "OKENDO_USER_ID": user_id.strip(), "OKENDO_API_KEY": api_key.strip(),
            stored.SUBSCRIPTION_ID: subscription_id,
            stored.WEBHOOK_SECRET: stored.dump_secrets([stored.SigningSecret(secret)] + keep),
        })
    live.refresh()
    result = Connected(subscription_id, endpoint)
    for subscription in old:
        old_id = str(subscription.get("webhookSubscriptionId") or "")
        if not old_id or old_id == subscription_id:
            continue
        try:
            client.delete_subscription(old_id)
            result.replaced.append(old_id)
        except OkendoError as exc:
            log.warning("could not delete the replaced Okendo subscription %s: %s", old_id, exc)
            result.not_deleted.append(old_id)
    return result


def rotate(db, vault, live, public_url: str, **kwargs) -> Connected:
    """A new subscription and secret with the stored user id and key; the old secret stays
    valid for GRACE."""
    user_id, api_key = live.get("OKENDO_USER_ID"), live.get("OKENDO_API_KEY")
    if not user_id or not api_key:
        raise ValueError("connect Okendo first: the rotation needs its user id and API key")
    return connect(db, vault, live, user_id, api_key, public_url, **kwargs)
