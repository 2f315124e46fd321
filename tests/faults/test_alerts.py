"""Alerts end to end: the real worker sends to a stand-in chat webhook and a local SMTP server.

- A Kustomer outage long enough to kill events produces ONE grouped alert (not one per
  event, not one per worker: two worker processes run) and, once the bridge has been quiet, ONE "cleared" message,
  on both channels.
- A revoked key (the emulator answering 401) produces one alert naming the key problem;
  the events it killed are not reported a second time as "events died".

Alert timings are shortened (`ALERT_ENV`) so an episode fits in seconds; the test waits for
messages to arrive and then for several more evaluation rounds, and counts. No durations
are asserted.
"""
from __future__ import annotations

import email
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.faults.conftest import ONE_WEB_WORKER, free_port, new_id, review, wait_for

ALERT_ENV = {
    "ALERT_CHECK_INTERVAL": "0.25",
    "ALERT_GROUP_WAIT": "4",       # events of one outage die within a second or two of each other
    "ALERT_GROUP_INTERVAL": "3",
    "ALERT_WINDOW": "5",
    "ALERT_BACKLOG_AGE": "3600",   # the outage's backlog is not the subject here
    "BRIDGE_RETRY_SCHEDULE": "0.5,0.5",
    "KUSTOMER_MAX_ATTEMPTS": "1",
    "ALERT_EMAIL_TO": "support-leads@example.com",
    "BRIDGE_PUBLIC_URL": "https://bridge.example.com",
}
QUIET_ROUNDS = 8  # evaluation rounds to wait after the last expected message, to see that no other comes


class ChatStandIn:
    """A stand-in for a Slack incoming webhook: records each JSON body, answers "ok"."""

    def __init__(self):
        self.bodies: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                recorder.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/chatsecret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def texts(self) -> list[str]:
        return [body["text"] for body in self.bodies]

    def close(self):
        self.server.shutdown()


class Inbox:
    """aiosmtpd handler: keeps every message received."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    @property
    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@pytest.fixture
def channels():
    from aiosmtpd.controller import Controller

    chat, inbox = ChatStandIn(), Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    yield chat, inbox, {"ALERT_SLACK_WEBHOOK_URL": chat.url, "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}"}
    smtp.stop()
    chat.close()


def quiet_rounds():
    time.sleep(QUIET_ROUNDS * float(ALERT_ENV["ALERT_CHECK_INTERVAL"]))


def test_an_outage_that_kills_events_is_one_grouped_alert_then_one_cleared(make_stack, channels):
    chat, inbox, channel_env = channels
    stack = make_stack(**ALERT_ENV, **channel_env, **ONE_WEB_WORKER)
    stack.start("worker2", "worker")  # two workers evaluate the same conditions: still one message each
    stack.faults(outage=True)
    reviews = [new_id("outage") for _ in range(4)]
    for rid in reviews:
        assert stack.post(review(rid)) == 202
    wait_for(lambda: stack.statuses().get("dead", 0) == len(reviews), 40, what="the outage to kill every event")

    wait_for(lambda: chat.texts, 30, what="the alert")
    quiet_rounds()
    assert len(chat.texts) == 1, chat.texts
    alert = chat.texts[0]
    assert alert.startswith("4 events died in the last"), alert
    assert "• 4 × Kustomer 503 on hook " in alert
    assert "https://bridge.example.com/admin/events?status=dead" in alert

    # Kustomer is back: the next event is delivered, and after a quiet window, one "cleared".
    stack.faults(outage=False)
    assert stack.post(review(new_id("after"))) == 202
    wait_for(lambda: len(chat.texts) == 2, 40, what="the cleared message")
    quiet_rounds()
    assert len(chat.texts) == 2, chat.texts
    assert chat.texts[1].startswith("Events are delivered again and none has died in the last 5 seconds")
    assert "4 dead events still wait for a replay" in chat.texts[1]

    wait_for(lambda: len(inbox.messages) == 2, 20, what="both e-mails")
    assert inbox.subjects[0].startswith("4 events died") and inbox.subjects[1] == "Cleared: events dying"
    assert inbox.messages[0]["To"] == "support-leads@example.com"
    everything = "\n".join(chat.texts) + "\n".join(m.get_payload() for m in inbox.messages)
    assert "chatsecret" not in everything and "emulator-key" not in everything


def test_a_revoked_key_is_one_alert_naming_the_key(make_stack, channels):
    chat, inbox, channel_env = channels
    stack = make_stack(**ALERT_ENV, **channel_env, **ONE_WEB_WORKER)
    stack.configure(api_key="a-key-the-bridge-does-not-have")  # every call now answers 401
    for _ in range(3):
        assert stack.post(review(new_id("revoked"))) == 202
    wait_for(lambda: stack.statuses().get("dead", 0) == 3, 30, what="the refused events to die")
    wait_for(lambda: chat.texts, 30, what="the alert")
    quiet_rounds()
    assert len(chat.texts) == 1, chat.texts
    alert = chat.texts[0]
    assert alert.startswith("Kustomer refuses the API key (401): KUSTOMER_API_KEY was revoked")
    assert "3 events died because of it" in alert and "bridge replay --status dead" in alert
    assert "events died in the last" not in alert

    # The key is fixed: the next call succeeds and the alert clears.
    stack.configure(api_key="emulator-key")
    assert stack.post(review(new_id("fixed"))) == 202
    wait_for(lambda: len(chat.texts) == 2, 30, what="the cleared message")
    assert chat.texts[1].startswith("Kustomer accepts the API key again")
    wait_for(lambda: len(inbox.messages) == 2, 20, what="both e-mails")
    assert "KUSTOMER_API_KEY" in inbox.subjects[0]
