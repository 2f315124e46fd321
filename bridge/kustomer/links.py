"""Links into Kustomer's web app, for people: the console and ticket notes.

Failure policy: never raises; None when no link can be formed (e.g. the emulator's
127.0.0.1 in tests): no link is better than a wrong one.
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit


def kustomer_app_url(env, api_base: str | None) -> str | None:
    """`KUSTOMER_APP_URL`, else derived: `https://acme.api.kustomerapp.com` -> `https://acme.kustomerapp.com`."""
    explicit = (env.get("KUSTOMER_APP_URL") or "").strip().rstrip("/")
    if explicit:
        return explicit
    host = urlsplit(api_base or "").hostname or ""
    labels = host.split(".")
    if len(labels) >= 4 and labels[1] == "api" and host.endswith(".kustomerapp.com"):
        return "https://" + ".".join([labels[0]] + labels[2:])  # also keeps a region label (prod2)
    return None


def customer_url(env, api_base: str | None, customer_id: str | None) -> str | None:
    """The customer's page, whose timeline shows the bridge's cards."""
    base = kustomer_app_url(env, api_base)
    return f"{base}/app/customers/{quote(customer_id, safe='')}" if base and customer_id else None
