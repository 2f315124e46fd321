"""`bridge okendo ...`: manage the Okendo webhook subscriptions that feed the bridge.

Okendo has no screen for webhooks: a merchant subscribes through the Merchant REST API.
These commands read ``OKENDO_USER_ID`` and ``OKENDO_API_KEY`` (and optionally
``OKENDO_API_BASE``) from the environment. Register the group with
``main.add_command(okendo)``.

Tests (and embedders) can pass extra ``OkendoClient`` keyword arguments, such as a fake
``sleep`` and ``clock``, through the click context object:
``invoke(okendo, args, obj={"okendo_client_kwargs": {...}})``.
"""

from __future__ import annotations

import json
import os
import shlex
from datetime import datetime, timezone
from urllib.parse import urlsplit

import click

from bridge.okendo.api import (
    DEFAULT_BASE_URL,
    OkendoClient,
    OkendoError,
    OkendoNotFoundError,
    events_of,
    find_signing_secret,
)
from bridge.okendo.signing_secrets import split_secrets

# Reviews only by default: survey_response is not in Okendo's published enum of webhook
# resource types, so subscribing it by default could get the whole subscription refused.
DEFAULT_RESOURCES = ("review",)
SURVEY_RESOURCE = "survey_response"
TOPICS = ("create", "update", "delete")
WEBHOOK_PATH = "/webhooks/okendo"
# The resourceType enum of Okendo's published OpenAPI (docs.okendo.io, Webhooks endpoints).
# survey_response is seen in real receivers but not in that enum.
DOCUMENTED_RESOURCE_TYPES = (
    "review",
    "loyalty_adjustment_transaction",
    "loyalty_customer",
    "loyalty_earning_transaction",
    "loyalty_redemption_transaction",
)
CREDENTIALS_PLACE = "the Okendo app, Settings > Integrations > API (User ID and API Key)"
OLD_SECRET_PLACEHOLDER = "<old whsec_ secret>"


@click.group()
def okendo() -> None:
    """Manage Okendo webhook subscriptions (needs OKENDO_USER_ID and OKENDO_API_KEY)."""


# -- helpers -------------------------------------------------------------------------------


def _client() -> OkendoClient:
    user_id = (os.environ.get("OKENDO_USER_ID") or "").strip()
    api_key = (os.environ.get("OKENDO_API_KEY") or "").strip()
    missing = [name for name, value in (("OKENDO_USER_ID", user_id), ("OKENDO_API_KEY", api_key)) if not value]
    if missing:
        raise click.ClickException(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. "
            f"Find both in {CREDENTIALS_PLACE}, then set them in the environment or in .env "
            "(OKENDO_USER_ID=<the UUID> and OKENDO_API_KEY=<the 32-character key>)."
        )
    base_url = (os.environ.get("OKENDO_API_BASE") or "").strip() or DEFAULT_BASE_URL
    obj = click.get_current_context().find_object(dict) or {}
    try:
        return OkendoClient(user_id, api_key, base_url, **obj.get("okendo_client_kwargs", {}))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _fail(exc: OkendoError, hint: str = "") -> click.ClickException:
    return click.ClickException(str(exc) + (f"\n{hint}" if hint else ""))


def _same_endpoint(a: str | None, b: str | None) -> bool:
    """Same URL up to the case of scheme and host and a trailing slash."""
    if not a or not b:
        return False

    def norm(url: str) -> tuple:
        parts = urlsplit(url.strip())
        return (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query)

    return norm(a) == norm(b)


def _unique(values) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if value:
            seen.setdefault(value, None)
    return list(seen)


def _date(value) -> str:
    if not value:
        return "-"
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _enabled(subscription: dict) -> str:
    value = subscription.get("isEnabled")
    return "enabled" if value is True else "disabled" if value is False else "enabled=?"


def _describe(subscription: dict, indent: str = "  ") -> str:
    events = events_of(subscription)
    return "\n".join([
        f"{indent}id:       {subscription.get('webhookSubscriptionId', '?')}",
        f"{indent}endpoint: {subscription.get('endpointUrl', '?')}",
        f"{indent}status:   {_enabled(subscription)}",
        f"{indent}events:   {', '.join(events) if events else '(none)'}",
        f"{indent}created:  {_date(subscription.get('dateCreated'))}",
    ])


def _warn(message: str) -> None:
    click.secho(f"Warning: {message}", fg="yellow", err=True)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https":
        _warn(f"{url} is not https://: Okendo may refuse it, and events would travel unencrypted.")
    if not parts.path.rstrip("/").endswith(WEBHOOK_PATH):
        _warn(f"{url} does not end in {WEBHOOK_PATH}, where the bridge receives Okendo webhooks.")


def _print_secret(secret: str, old_secrets: list[str]) -> None:
    click.echo("")
    click.echo(f"Signing secret: {secret}")
    click.echo("Keep it safe: Okendo may not show it again. The bridge refuses every webhook until")
    click.echo("OKENDO_WEBHOOK_SECRET holds it:")
    click.echo(f"  Heroku:    heroku config:set OKENDO_WEBHOOK_SECRET={shlex.quote(secret)}")
    click.echo(f"  .env file: OKENDO_WEBHOOK_SECRET={secret}")
    if old_secrets:
        both = ",".join([secret, *old_secrets])
        click.echo("Rotating? Keep the old secret too until the old subscription's deliveries (and their")
        click.echo("retries, up to about a day) are over, then drop it:")
        click.echo(f'  Heroku:    heroku config:set OKENDO_WEBHOOK_SECRET="{both}"')
        click.echo(f'  .env file: OKENDO_WEBHOOK_SECRET="{both}"')


# -- commands ------------------------------------------------------------------------------


@okendo.command()
@click.option("--url", required=True, help="the bridge's public webhook URL, e.g. https://example.com/webhooks/okendo")
@click.option("--resource", "resources", multiple=True, metavar="TYPE",
              help=f"resource type, repeatable (default: {', '.join(DEFAULT_RESOURCES)})")
@click.option("--surveys", is_flag=True,
              help=f"also subscribe survey responses ({SURVEY_RESOURCE}; not in Okendo's published list)")
@click.option("--topic", "topics", multiple=True, type=click.Choice(TOPICS),
              help="topic, repeatable (default: create, update, delete)")
@click.option("--force", is_flag=True, help="create a new subscription even if one exists for this URL")
def subscribe(url: str, resources: tuple[str, ...], topics: tuple[str, ...], force: bool, surveys: bool) -> None:
    """Subscribe the bridge's URL to Okendo webhooks (reviews; surveys with --surveys) and print the signing secret."""
    url = url.strip()
    _check_url(url)
    resource_types = _unique(resources) or list(DEFAULT_RESOURCES)
    if surveys and SURVEY_RESOURCE not in resource_types:
        resource_types.append(SURVEY_RESOURCE)
    topic_names = _unique(topics) or list(TOPICS)
    undocumented = [r for r in resource_types if r not in DOCUMENTED_RESOURCE_TYPES]
    client = _client()

    try:
        existing = [s for s in client.list_subscriptions() if _same_endpoint(s.get("endpointUrl"), url)]
    except OkendoError as exc:
        raise _fail(exc) from None
    if existing and not force:
        click.echo(f"A subscription for {url} already exists; not creating a duplicate "
                   "(use --force to create another one):")
        for subscription in existing:
            click.echo(_describe(subscription))
            wanted = {f"{r}.{t}" for r in resource_types for t in topic_names}
            missing = sorted(wanted - set(events_of(subscription)))
            if missing:
                click.echo(f"  not subscribed to: {', '.join(missing)}")
        click.echo("Okendo shows the signing secret only when it creates a subscription. If it is lost, "
                   "delete the subscription (`bridge okendo delete ID`) and subscribe again.")
        return

    pairs = [(r, t) for r in resource_types for t in topic_names]
    try:
        created = client.create_subscription(url, pairs)
    except OkendoError as exc:
        raise _fail(exc, _refusal_hint(exc, resource_types, topic_names, undocumented)) from None

    click.echo("Created Okendo webhook subscription:")
    click.echo(_describe(created))

    secret = find_signing_secret(created)
    if not secret:
        fields = ", ".join(sorted(created)) or "(none)"
        raise click.ClickException(
            "Okendo's answer carried no signing secret (no whsec_... value; its fields: "
            f"{fields}). The subscription exists, but the bridge cannot verify its webhooks without "
            "the secret. Ask Okendo support for the subscription's webhook secret (or to rotate it), "
            "or delete it with `bridge okendo delete "
            f"{created.get('webhookSubscriptionId', 'ID')}` and subscribe again."
        )

    configured = split_secrets(os.environ.get("OKENDO_WEBHOOK_SECRET"))
    old = [s for s in configured if s != secret]
    if not old and existing:  # --force next to an older subscription whose secret we cannot see
        old = [OLD_SECRET_PLACEHOLDER]
    _print_secret(secret, old)


def _refusal_hint(exc: OkendoError, resource_types: list[str], topics: list[str], undocumented: list[str]) -> str:
    """Which resource type or topic Okendo refused, and why, when its answer lets us tell."""
    if exc.status not in (400, 422):
        return ""
    said = str(exc)
    named = [r for r in resource_types if r in said] + [t for t in topics if f'"{t}"' in said or f"'{t}'" in said]
    suspects = named or undocumented
    if not suspects:
        return ("Okendo refused the subscription; its answer above says why. Subscribed were: "
                + ", ".join(f"{r}.{t}" for r in resource_types for t in topics) + ".")
    reasons = []
    for name in suspects:
        why = (f"it is not in Okendo's documented resource types ({', '.join(DOCUMENTED_RESOURCE_TYPES)})"
               if name in undocumented else "Okendo's answer above names it")
        reasons.append(f"{name}: {why}")
    keep = [r for r in resource_types if r not in suspects] or list(DEFAULT_RESOURCES)
    retry = " ".join(f"--resource {r}" for r in keep)
    return (f"Okendo refused {', '.join(suspects)} ({'; '.join(reasons)}). "
            f"Subscribe without it: bridge okendo subscribe --url ... {retry}")


@okendo.command("list")
@click.option("--json", "as_json", is_flag=True, help="print Okendo's objects as JSON")
def list_(as_json: bool) -> None:
    """List the account's webhook subscriptions."""
    try:
        subscriptions = _client().list_subscriptions()
    except OkendoError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(subscriptions, indent=2, sort_keys=True))
        return
    if not subscriptions:
        click.echo("No Okendo webhook subscriptions.")
        return
    for index, subscription in enumerate(subscriptions):
        if index:
            click.echo("")
        click.echo(_describe(subscription, indent=""))


@okendo.command()
@click.argument("subscription_id")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def delete(subscription_id: str, yes: bool) -> None:
    """Delete the webhook subscription SUBSCRIPTION_ID (see `bridge okendo list`)."""
    client = _client()
    try:
        if not yes:
            match = next((s for s in client.list_subscriptions()
                          if s.get("webhookSubscriptionId") == subscription_id), None)
            if match is None:
                raise click.ClickException(
                    f"No webhook subscription {subscription_id} in this Okendo account (see `bridge okendo list`).")
            click.echo(_describe(match))
            click.confirm("Delete this subscription? Okendo will stop sending these events", abort=True)
        client.delete_subscription(subscription_id)
    except OkendoNotFoundError:
        raise click.ClickException(
            f"No webhook subscription {subscription_id} in this Okendo account (see `bridge okendo list`).") from None
    except OkendoError as exc:
        raise _fail(exc) from None
    click.echo(f"Deleted Okendo webhook subscription {subscription_id}.")
    click.echo("If OKENDO_WEBHOOK_SECRET still lists its secret, remove it once no deliveries for it are pending.")
