"""`bridge alerts test|status`.

Both commands run the alert service, so it is imported at the top: `bridge.cli` imports this
module only when `bridge alerts` is named (or for --help). `bridge.cli`'s helpers sit above
`alerts/` in the layers (docs/architecture.md): they are imported inside `_alerts`, when a
command runs.
"""
from __future__ import annotations

import sys

import click

from bridge.alerts import outbox
from bridge.alerts.service import Alerts
from bridge.mapping import MappingStore


def _alerts():
    from bridge.cli import _db, _settings  # local: up the layers (module docstring)

    settings = _settings()
    return Alerts(_db(settings), settings.alerts, mappings=MappingStore(settings.mapping_path, env=settings.raw))


@click.group()
def alerts() -> None:
    """Alerts to chat and e-mail (see the README's Alerts section)."""


@alerts.command("test")
def alerts_test() -> None:
    """Send a test alert on every configured channel now; exit 1 if one fails."""
    service = _alerts()
    if not service.channels:
        raise click.ClickException(
            "no alert channel is configured: set ALERT_SLACK_WEBHOOK_URL, and/or ALERT_EMAIL_TO with "
            "SMTP_URL (or a Heroku mail add-on's variables)")
    failed = False
    for description, error in service.send_test_now():
        click.echo(f"{'failed' if error else 'sent'}: {description}" + (f": {error}" if error else ""))
        failed = failed or bool(error)
    sys.exit(1 if failed else 0)


@alerts.command("status")
def alerts_status() -> None:
    """What each alert condition finds right now, and the last messages sent."""
    service = _alerts()
    click.echo("channels: " + (", ".join(c.describe() for c in service.channels.values()) or "none"))
    for key, finding in service.findings().items():
        state = "ACTIVE" if finding.active else "ok"
        click.echo(f"{key:<14} {state:<7} {finding.headline if finding.active else ''}")
    with service.db.session() as session:
        for message in outbox.recent(session, limit=10):
            deliveries = ", ".join(f"{d.channel} {d.status}" for d in message.deliveries) or "no channel"
            click.echo(f"  {message.created_at:%Y-%m-%d %H:%M} {message.kind:<8} {message.subject} [{deliveries}]")
