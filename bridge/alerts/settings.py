"""Alert settings: which channels, which thresholds, how quiet.

Read from the environment by `bridge.config.Settings.from_env` (the one list of
settings), so a bad value fails at start-up with the variable's name. Both
channels are optional: with neither, conditions are still evaluated and shown on
the console's Alerts page, and nothing is sent.

SMTP comes from `SMTP_URL` (`smtp://user:pass@host:587`, STARTTLS when the server
offers it; `smtps://` for TLS from the first byte), else from the variables
Heroku's mail add-ons set: Mailgun (`MAILGUN_SMTP_SERVER`, `_PORT`, `_LOGIN`,
`_PASSWORD`), SendGrid (`SENDGRID_USERNAME` / `SENDGRID_PASSWORD`, or an
`SENDGRID_API_KEY` with SendGrid's SMTP user name `apikey`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import unquote, urlsplit

SENDGRID_HOST = "smtp.sendgrid.net"


class AlertConfigError(ValueError):
    """An alert setting has a value the bridge cannot use (raised as ConfigError by config.py)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False  # smtps:// or port 465
    source: str = "SMTP_URL"    # where the settings came from, for `bridge alerts test`


@dataclass(frozen=True)
class AlertSettings:
    slack_webhook_url: str | None = field(default=None, repr=False)  # a credential: never logged
    email_to: tuple[str, ...] = ()
    email_from: str = "okendo-bridge@localhost"
    smtp: SmtpSettings | None = None
    public_url: str | None = None           # prefix for console links in messages
    check_interval: float = 30.0            # seconds between evaluations in each worker
    group_wait: float = 60.0                # wait after a condition starts, to gather what follows
    group_interval: float = 600.0           # at most one message per condition in this time
    repeat_interval: float = 14400.0        # remind while a condition still holds
    window: float = 600.0                   # look-back for "died in the last 10 minutes"; quiet time to clear
    backlog_age: float = 900.0              # oldest unfinished event older than this: alert
    signature_refusals: int = 20            # refused signatures within `window`: alert
    digest_hour: int | None = None          # UTC hour of the daily digest; None = no digest
    send_timeout: float = 10.0              # seconds per channel call
    enabled: bool = True

    @property
    def channels(self) -> tuple[str, ...]:
        names = []
        if self.slack_webhook_url:
            names.append("chat")
        if self.email_to and self.smtp:
            names.append("email")
        return tuple(names)

    def link(self, path: str) -> str:
        """A console link: absolute with BRIDGE_PUBLIC_URL, else the path alone."""
        return (self.public_url or "") + path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "AlertSettings":
        email_to = tuple(p.strip() for p in (env.get("ALERT_EMAIL_TO") or "").replace(";", ",").split(",")
                         if p.strip())
        smtp = smtp_from_env(env)
        digest = (env.get("ALERT_DIGEST_HOUR") or "").strip()
        window, group_wait = _number(env, "ALERT_WINDOW", 600.0, minimum=1), _number(env, "ALERT_GROUP_WAIT", 60.0)
        if window < group_wait:
            # Dead events older than the window no longer hold a condition open: one that
            # started must still be open when group_wait is over, or it would end unreported.
            raise AlertConfigError(f"ALERT_WINDOW={window:g} must be at least ALERT_GROUP_WAIT={group_wait:g}")
        return cls(
            slack_webhook_url=(env.get("ALERT_SLACK_WEBHOOK_URL") or "").strip() or None,
            email_to=email_to,
            email_from=(env.get("ALERT_EMAIL_FROM") or "").strip() or _default_from(smtp),
            smtp=smtp,
            public_url=(env.get("BRIDGE_PUBLIC_URL") or "").strip().rstrip("/") or None,
            check_interval=_number(env, "ALERT_CHECK_INTERVAL", 30.0, minimum=0.2),
            group_wait=group_wait,
            group_interval=_number(env, "ALERT_GROUP_INTERVAL", 600.0),
            repeat_interval=_number(env, "ALERT_REPEAT_INTERVAL", 14400.0),
            window=window,
            backlog_age=_number(env, "ALERT_BACKLOG_AGE", 900.0, minimum=1),
            signature_refusals=int(_number(env, "ALERT_SIGNATURE_REFUSALS", 20, minimum=1)),
            digest_hour=_hour(digest) if digest else None,
            send_timeout=_number(env, "ALERT_SEND_TIMEOUT", 10.0, minimum=0.5),
            enabled=(env.get("ALERTS_ENABLED") or "true").strip().lower() not in ("0", "false", "no", "off"),
        )


def smtp_from_env(env: Mapping[str, str]) -> SmtpSettings | None:
    url = (env.get("SMTP_URL") or "").strip()
    if url:
        return _parse_smtp_url(url)
    if env.get("MAILGUN_SMTP_SERVER"):
        return SmtpSettings(host=env["MAILGUN_SMTP_SERVER"], port=_port(env, "MAILGUN_SMTP_PORT", 587),
                            username=env.get("MAILGUN_SMTP_LOGIN"), password=env.get("MAILGUN_SMTP_PASSWORD"),
                            source="Mailgun add-on")
    if env.get("SENDGRID_USERNAME") and env.get("SENDGRID_PASSWORD"):
        return SmtpSettings(host=SENDGRID_HOST, port=587, username=env["SENDGRID_USERNAME"],
                            password=env["SENDGRID_PASSWORD"], source="SendGrid add-on")
    if env.get("SENDGRID_API_KEY"):
        return SmtpSettings(host=SENDGRID_HOST, port=587, username="apikey", password=env["SENDGRID_API_KEY"],
                            source="SendGrid API key")
    return None


def _parse_smtp_url(url: str) -> SmtpSettings:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        # Never echo the URL: it holds the password.
        raise AlertConfigError("SMTP_URL: expected smtp://user:password@host:port or smtps://...")
    try:
        port = parts.port
    except ValueError:
        raise AlertConfigError("SMTP_URL: the port is not a number") from None
    implicit = parts.scheme == "smtps"
    return SmtpSettings(host=parts.hostname, port=port or (465 if implicit else 587),
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None,
                        implicit_tls=implicit or port == 465)


def _default_from(smtp: SmtpSettings | None) -> str:
    if smtp and smtp.username and "@" in smtp.username:
        return smtp.username  # Mailgun's login is postmaster@domain, a valid sender
    return "okendo-bridge@localhost"


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise AlertConfigError(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise AlertConfigError(f"{name}={raw!r}: must be at least {minimum:g}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise AlertConfigError(f"{name}={raw!r}: expected a port number")
    return int(raw)


def _hour(raw: str) -> int:
    if not raw.isdigit() or not 0 <= int(raw) <= 23:
        raise AlertConfigError(f"ALERT_DIGEST_HOUR={raw!r}: expected an hour of the day in UTC, 0 to 23")
    return int(raw)
