"""Where alerts go: a chat incoming webhook and e-mail over SMTP.

The chat webhook gets `{"text": ...}`, the body Slack and Google Chat incoming
webhooks take. Microsoft Teams' Workflows webhooks ("Post to a channel when a webhook
request is received") want an Adaptive Card instead; a URL on a Power Automate / Logic
Apps host gets one.

Failure policy: every call has a timeout (`ALERT_SEND_TIMEOUT`) and failures raise
`ChannelError` with a message fit for logs and the console: never the webhook URL
(it is a credential), never the SMTP password, emails masked. The outbox retries.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

import requests

from bridge.logs import mask

TEAMS_WORKFLOW_HOSTS = (".logic.azure.com", ".powerautomate.com", ".powerplatform.com", ".flow.microsoft.com")


class ChannelError(Exception):
    """Sending failed; the message is safe to log and show."""


class ChatWebhook:
    name = "chat"

    def __init__(self, url: str, timeout: float = 10.0):
        self.url, self.timeout = url, timeout

    def describe(self) -> str:
        parts = urlsplit(self.url)
        return f"chat webhook at {parts.scheme}://{parts.hostname}/… ({'Adaptive Card' if self.is_teams else 'text'})"

    @property
    def is_teams(self) -> bool:
        host = urlsplit(self.url).hostname or ""
        return any(host.endswith(suffix) for suffix in TEAMS_WORKFLOW_HOSTS)

    def body(self, subject: str, text: str) -> dict:
        if not self.is_teams:
            return {"text": text}
        card = {"type": "AdaptiveCard", "version": "1.4",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "body": [{"type": "TextBlock", "text": line, "wrap": True} for line in text.split("\n")]}
        return {"type": "message",
                "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}

    def send(self, subject: str, text: str) -> None:
        try:
            response = requests.post(self.url, json=self.body(subject, text), timeout=(3.0, self.timeout))
        except requests.RequestException as exc:
            # The exception's text names the URL: say only what kind of failure it was.
            raise ChannelError(f"chat webhook unreachable ({type(exc).__name__})") from None
        if response.status_code >= 300:
            excerpt = " ".join(response.text.split())[:200]
            raise ChannelError(mask(f"chat webhook answered {response.status_code}: {excerpt}"))


class Email:
    name = "email"

    def __init__(self, smtp, to: tuple[str, ...], sender: str, timeout: float = 10.0):
        self.smtp, self.to, self.sender, self.timeout = smtp, to, sender, timeout

    def describe(self) -> str:
        return (f"e-mail to {', '.join(mask(a) for a in self.to)} through {self.smtp.host}:{self.smtp.port} "
                f"({self.smtp.source})")

    def send(self, subject: str, text: str) -> None:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="okendo-bridge")
        message.set_content(text)
        try:
            self._deliver(message)
        except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as exc:
            raise ChannelError(mask(f"e-mail via {self.smtp.host}:{self.smtp.port} failed: "
                                    f"{type(exc).__name__}: {exc}")[:300]) from None

    def _deliver(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.smtp.implicit_tls:
            client = smtplib.SMTP_SSL(self.smtp.host, self.smtp.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if not self.smtp.implicit_tls and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if self.smtp.username:
                client.login(self.smtp.username, self.smtp.password or "")
            client.send_message(message)


def configured(settings) -> dict:
    """name -> channel, for what the settings configure (possibly nothing)."""
    channels = {}
    if settings.slack_webhook_url:
        channels["chat"] = ChatWebhook(settings.slack_webhook_url, settings.send_timeout)
    if settings.email_to and settings.smtp:
        channels["email"] = Email(settings.smtp, settings.email_to, settings.email_from, settings.send_timeout)
    return channels
