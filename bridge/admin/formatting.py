"""Jinja filters for the admin pages: times in UTC, ages, rates, milliseconds."""
from __future__ import annotations

from datetime import datetime, timezone

from markupsafe import Markup

from bridge.logs import mask_email_addresses


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    if moment.tzinfo is None:  # SQLite: stored as UTC, read back naive
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(seconds: float | None) -> str:
    """`3725` -> `1h 2m`; None -> `—`."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def mask_emails(value):
    """Shopper emails as `j***@example.com` in anything the console shows (raw payloads,
    previews, the event's email); HTML stays HTML (an email has nothing to escape)."""
    if value is None:
        return ""
    masked = mask_email_addresses(str(value))
    return Markup(masked) if isinstance(value, Markup) else masked


FILTERS = {"when": when, "age": age, "pct": pct, "ms": ms, "mask_emails": mask_emails}
