"""Alerts: grouping, rate limits, clearing, masking, several evaluators on one database.

The clock is a test clock (`Clock.advance`), so nothing here waits or asserts a duration.
Events are stored and finished through `bridge.events.store`, exactly as the worker does.
"""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
import requests
import responses
from sqlalchemy import func, select

from bridge.alerts import outbox
from bridge.alerts.channels import ChannelError, ChatWebhook
from bridge.alerts.conditions import CONDITIONS, Finding
from bridge.alerts.grouping import attempt_reason, error_reason, summarize
from bridge.alerts.policy import State, decide
from bridge.alerts.refusals import RefusalCounter
from bridge.alerts.service import Alerts
from bridge.alerts.settings import AlertSettings, smtp_from_env
from bridge.alerts.tables import AlertDelivery, AlertMessage, SignatureRefusal
from bridge.config import ConfigError, Settings
from bridge.events import store
from bridge.events.db import Database
from bridge.events.models import Attempt, utcnow

HOOK_TARGET = "https://acme.api.kustomerapp.com/…/review…"  # as attempts store it (redacted)
TAGS_TARGET = "https://acme.api.kustomerapp.com/…/tags"
SETTINGS = AlertSettings(group_wait=60, group_interval=600, repeat_interval=14400, window=600)


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorder:
    """A channel that records what it was asked to send, and fails while `failing`."""

    name = "chat"

    def __init__(self):
        self.sent: list[tuple[str, str]] = []
        self.failing = False

    def describe(self):
        return "recorder"

    def send(self, subject, text):
        if self.failing:
            raise ChannelError("chat webhook answered 500: down")
        self.sent.append((subject, text))


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def chat():
    return Recorder()


def make_alerts(db, clock, chat, settings=SETTINGS, **kwargs) -> Alerts:
    return Alerts(db, settings, clock=clock, channels={"chat": chat}, **kwargs)


def dead_event(db, *, status_code=400, target=TAGS_TARGET, action="ticket", error="failed", attempt=True) -> int:
    with db.session() as session:
        event_id = store.store_event(session, webhook_id=f"msg_{uuid.uuid4().hex}", body=b"{}", headers={},
                                     status="pending", resource_type="review", topic="created").event_id
    with db.session() as session:
        if attempt:
            session.add(Attempt(event_id=event_id, action_key=action, method="POST", target=target,
                                status_code=status_code, latency_ms=5.0, error=None, started_at=utcnow()))
        store.finish(session, event_id, "dead", error=error)
    return event_id


def ok_attempt(db, target=TAGS_TARGET) -> None:
    with db.session() as session:
        event_id = store.store_event(session, webhook_id=f"msg_{uuid.uuid4().hex}", body=b"{}", headers={},
                                     status="pending").event_id
        session.add(Attempt(event_id=event_id, action_key="ticket", method="POST", target=target,
                            status_code=200, latency_ms=5.0, started_at=utcnow()))


def messages(db) -> list[AlertMessage]:
    with db.session() as session:
        return list(session.execute(select(AlertMessage).order_by(AlertMessage.id)).scalars())


# -- grouping -------------------------------------------------------------------------------------
def test_reasons_name_the_status_and_endpoint_never_the_hook_hash():
    assert attempt_reason("ticket", 400, TAGS_TARGET, None) == "Kustomer 400 on /tags"
    assert attempt_reason("hook:reviews", 413, HOOK_TARGET, None) == "Kustomer 413 on hook reviews"
    assert attempt_reason("ticket", None, "https://x/…/conver…", "ConnectTimeout: read timed out") == \
        "no answer from Kustomer on /conversations (ConnectTimeout)"


def test_reasons_from_errors_mask_emails_and_fold_numbers():
    reason = error_reason("gave up after 7 attempts: hook:reviews: lookup of jane.doe@example.com failed 42 times")
    assert "jane.doe" not in reason and "j***@example.com" in reason
    assert reason == error_reason("gave up after 3 attempts: hook:reviews: lookup of jane.doe@example.com "
                                  "failed 7 times")  # same group


def test_summary_counts_most_frequent_first_and_folds_the_tail():
    lines = summarize(["a"] * 11 + ["b"] + ["c", "d", "e", "f", "g"])
    assert lines[:2] == ["11 × a", "1 × b"]
    assert lines[-1] == "2 × other reasons" and len(lines) == 6


# -- policy (pure) ----------------------------------------------------------------------------------
def finding(active=True, new=1, headline="3 events died in the last 2 minutes"):
    return Finding(active=active, headline=headline if active else "", lines=["3 × Kustomer 503 on hook reviews"],
                   link="/admin/events?status=dead", cleared="No event has died.", new_count=new if active else 0,
                   latest=utcnow() if active and new else None)


def test_policy_waits_then_fires_once_then_rate_limits_then_clears_once():
    now = utcnow()
    state = State()
    first = decide(state, finding(), now, SETTINGS, "events dying")
    assert first.message is None and first.state.active  # group wait: gather what follows
    state = first.state
    fired = decide(state, finding(), now + timedelta(seconds=61), SETTINGS, "events dying")
    assert fired.message.kind == "firing" and "3 × Kustomer 503" in fired.message.text
    state = fired.state
    # More deaths inside the rate limit: nothing now, an update after it.
    assert decide(state, finding(new=2), now + timedelta(seconds=120), SETTINGS, "events dying") is None
    update = decide(state, finding(new=2), now + timedelta(seconds=61 + 600), SETTINGS, "events dying")
    assert update.message.kind == "update"
    state = update.state
    assert state.episode_count == 3
    # Quiet: one "cleared", once the rate limit allows; then nothing more.
    quiet = finding(active=False)
    assert decide(state, quiet, now + timedelta(seconds=700), SETTINGS, "events dying") is None
    cleared = decide(state, quiet, now + timedelta(seconds=61 + 1200), SETTINGS, "events dying")
    assert cleared.message.kind == "cleared" and cleared.message.subject == "Cleared: events dying"
    assert "3 reported in all" in cleared.message.text
    assert decide(cleared.state, quiet, now + timedelta(seconds=5000), SETTINGS, "events dying") is None


def test_policy_episode_shorter_than_group_wait_ends_silently():
    now = utcnow()
    started = decide(State(), finding(new=0, headline="backlog"), now, SETTINGS, "events not moving").state
    ended = decide(started, finding(active=False), now + timedelta(seconds=30), SETTINGS, "events not moving")
    assert ended.message is None and not ended.state.active


def test_policy_reminds_while_a_level_condition_lasts():
    now = utcnow()
    state = State(active=True, notified=True, started_at=now, last_sent_at=now, summary="Kustomer refuses the key")
    level = Finding(active=True, headline="Kustomer refuses the key", link="/admin/")
    assert decide(state, level, now + timedelta(hours=1), SETTINGS, "key") is None
    reminder = decide(state, level, now + timedelta(hours=4, seconds=1), SETTINGS, "key")
    assert reminder.message.kind == "reminder" and reminder.message.subject.startswith("Still: Kustomer refuses")


# -- conditions on a database -----------------------------------------------------------------------
def test_dead_events_make_one_grouped_message(db, clock, chat):
    for _ in range(11):
        dead_event(db, status_code=400, target=TAGS_TARGET)
    dead_event(db, status_code=413, target=HOOK_TARGET, action="hook:reviews")
    dead_event(db, attempt=False, error="hook:reviews: lookup of jane.doe@example.com failed")
    alerts = make_alerts(db, clock, chat)
    assert alerts.evaluate() == []  # group wait
    clock.advance(61)
    assert len(alerts.evaluate()) == 1
    assert alerts.evaluate() == []
    alerts.send_due()
    assert len(chat.sent) == 1
    subject, text = chat.sent[0]
    assert subject.startswith("13 events died in the last")
    assert "• 11 × Kustomer 400 on /tags" in text and "• 1 × Kustomer 413 on hook reviews" in text
    assert "jane.doe" not in text and "j***@example.com" in text
    assert "review…" not in text and "/admin/events?status=dead" in text


def delivered_event(db) -> None:
    with db.session() as session:
        event_id = store.store_event(session, webhook_id=f"msg_{uuid.uuid4().hex}", body=b"{}", headers={},
                                     status="pending").event_id
        store.finish(session, event_id, "delivered")


def test_dead_events_clear_once_events_are_delivered_again_and_a_window_was_quiet(db, clock, chat):
    dead_event(db)
    alerts = make_alerts(db, clock, chat)
    alerts.evaluate()
    clock.advance(61)
    alerts.evaluate()
    clock.advance(SETTINGS.window + SETTINGS.group_interval)
    alerts.evaluate()  # quiet, but nothing was delivered since: still open (an outage between two waves)
    alerts.send_due()
    assert len(chat.sent) == 1
    delivered_event(db)
    alerts.evaluate()
    alerts.evaluate()
    alerts.send_due()
    assert [s for s, _ in chat.sent][1:] == ["Cleared: events dying"]
    assert len(chat.sent) == 2


def test_revoked_key_is_one_alert_naming_the_key_and_its_dead_events_are_not_counted_twice(db, clock, chat):
    for _ in range(4):
        dead_event(db, status_code=401, target=HOOK_TARGET, action="hook:reviews",
                   error="Kustomer refused the API key (401)")
    alerts = make_alerts(db, clock, chat)
    alerts.evaluate()
    clock.advance(61)
    alerts.evaluate()
    alerts.send_due()
    assert len(chat.sent) == 1
    subject, text = chat.sent[0]
    assert "KUSTOMER_API_KEY" in subject and "401" in subject
    assert "4 events died because of it" in text
    # A later call to the same host that succeeds: the key works again.
    ok_attempt(db, target="https://acme.api.kustomerapp.com/…/notes")
    clock.advance(SETTINGS.group_interval)
    alerts.evaluate()
    alerts.send_due()
    assert [s for s, _ in chat.sent] == [subject, "Cleared: Kustomer refusing the API key"]


def test_backlog_alert_names_the_oldest_event(db, clock, chat):
    with db.session() as session:
        event_id = store.store_event(session, webhook_id="msg_old", body=b"{}", headers={}, status="pending").event_id
    alerts = make_alerts(db, clock, chat, settings=AlertSettings(group_wait=0, backlog_age=900))
    assert alerts.evaluate() == []
    clock.advance(901)
    alerts.evaluate()
    alerts.send_due()
    assert len(chat.sent) == 1
    assert chat.sent[0][0].startswith("Events are not moving") and f"/admin/events/{event_id}" in chat.sent[0][1]


def test_two_evaluators_racing_on_one_database_send_one_alert(database_url, clock):
    """Both read the state before either writes (a barrier inside the condition); the
    compare-and-set lets exactly one record the transition and queue the message."""
    from bridge.alerts.tables import AlertState

    barrier = threading.Barrier(2, timeout=20)

    def racing(ctx, since):
        barrier.wait()
        return Finding(active=True, headline="something broke", link="/admin/")

    settings = AlertSettings(group_wait=0)
    databases = [Database(database_url), Database(database_url)]
    with databases[0].session() as session:
        session.add(AlertState(key="race", version=0, active=False, notified=False, episode_count=0))
    evaluators = [Alerts(d, settings, clock=clock, channels={"chat": Recorder()},
                         conditions={"race": ("a race", racing)}) for d in databases]
    results = []
    threads = [threading.Thread(target=lambda a=a: results.append(a.evaluate())) for a in evaluators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(len(r) for r in results) == [0, 1]
    assert [m.subject for m in messages(databases[0])] == ["something broke"]
    for d in databases:
        d.dispose()


def test_a_delivery_is_sent_by_one_worker_only(db, clock):
    first, second = Recorder(), Recorder()
    a = make_alerts(db, clock, first, settings=AlertSettings(group_wait=0))
    b = make_alerts(db, clock, second, settings=AlertSettings(group_wait=0))
    a.queue_test()
    with db.session() as session:
        (delivery_id,) = outbox.due_ids(session)
        assert outbox.claim(session, delivery_id)
    with db.session() as session:
        assert not outbox.claim(session, delivery_id)  # leased by the first
    assert b.send_due() == 0 and not second.sent


def test_a_failing_channel_is_retried_later_and_does_not_raise(db, clock, chat):
    alerts = make_alerts(db, clock, chat)
    alerts.queue_test()
    chat.failing = True
    assert alerts.send_due() == 0
    with db.session() as session:
        delivery = session.execute(select(AlertDelivery)).scalar_one()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert "answered 500" in delivery.last_error and delivery.next_attempt_at > utcnow()
    chat.failing = False
    assert alerts.send_due() == 0  # not due yet: backoff
    with db.session() as session:
        session.execute(AlertDelivery.__table__.update().values(next_attempt_at=None))
    assert alerts.send_due() == 1 and len(chat.sent) == 1


def test_a_delivery_gives_up_after_the_backoff_schedule(db, clock, chat):
    alerts = make_alerts(db, clock, chat)
    alerts.queue_test()
    chat.failing = True
    for _ in range(len(outbox.BACKOFF) + 1):
        with db.session() as session:
            session.execute(AlertDelivery.__table__.update().values(next_attempt_at=None))
        alerts.send_due()
    with db.session() as session:
        assert session.execute(select(AlertDelivery.status)).scalar_one() == "failed"


def test_daily_digest_is_sent_once_a_day(db, clock, chat):
    settings = AlertSettings(digest_hour=clock.now.hour)
    alerts = make_alerts(db, clock, chat, settings=settings, conditions={})
    other = make_alerts(db, clock, Recorder(), settings=settings, conditions={})
    assert len(alerts.evaluate()) == 1
    assert other.evaluate() == [] and alerts.evaluate() == []
    clock.advance(86400)
    assert len(other.evaluate()) == 1
    assert [m.kind for m in messages(db)] == ["digest", "digest"]


# -- refused signatures --------------------------------------------------------------------------
def test_refusals_are_counted_in_memory_and_written_once_per_flush():
    writes = []
    counter = RefusalCounter(lambda count, first, reasons: writes.append((count, reasons)), interval=3600)
    for n in range(1000):
        counter.note(f"reason {n % 20}")
    assert writes == []  # no write per request
    assert counter.flush() == 1000
    (count, reasons), = writes
    assert count == 1000 and len(reasons) == 9 and "other" in reasons  # 8 kept, the rest folded
    assert counter.flush() == 0 and len(writes) == 1
    counter._timer.cancel() if counter._timer else None


def test_a_failed_flush_keeps_its_counts():
    calls = []

    def write(count, first, reasons):
        calls.append(count)
        if len(calls) == 1:
            raise RuntimeError("database down")

    counter = RefusalCounter(write, interval=3600)
    counter.note("no signature matches")
    assert counter.flush() == 0
    counter.note("no signature matches")
    assert counter.flush() == 2 and calls == [1, 2]
    if counter._timer:
        counter._timer.cancel()


def test_refused_webhooks_reach_the_signature_alert(client, app, runtime, clock, chat):
    for _ in range(3):
        response = client.post("/webhooks/okendo", data=b"{}", headers={
            "webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,bad"})
        assert response.status_code == 401
    counter = app.extensions["bridge.alerts.refusals"]
    counter._timer.cancel()
    assert counter.flush() == 3
    with runtime.db.session() as session:
        assert session.execute(select(func.sum(SignatureRefusal.count))).scalar_one() == 3
    alerts = make_alerts(runtime.db, clock, chat, settings=AlertSettings(group_wait=0, signature_refusals=3),
                         conditions={"signatures": CONDITIONS["signatures"]})
    alerts.evaluate()
    alerts.send_due()
    assert chat.sent[0][0] == "3 webhooks were refused for their signature in the last 10 minutes"
    assert "webhook-timestamp is more than 5 minutes old" in chat.sent[0][1]


# -- channels and settings -------------------------------------------------------------------------
def test_chat_errors_never_show_the_webhook_url():
    url = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
    with responses.RequestsMock() as mock:
        mock.post(url, body=requests.ConnectionError(f"cannot reach {url}"))
        with pytest.raises(ChannelError) as error:
            ChatWebhook(url).send("s", "t")
    assert "secret" not in str(error.value) and "ConnectionError" in str(error.value)
    with responses.RequestsMock() as mock:
        mock.post(url, status=404, body="no_team")
        with pytest.raises(ChannelError, match="answered 404: no_team"):
            ChatWebhook(url).send("s", "t")
        assert "XXXX" not in ChatWebhook(url).describe()


def test_chat_body_is_text_and_an_adaptive_card_for_teams_workflows():
    assert ChatWebhook("https://hooks.slack.com/services/x").body("s", "a\nb") == {"text": "a\nb"}
    teams = ChatWebhook("https://prod-12.westeurope.logic.azure.com/workflows/abc").body("s", "a\nb")
    card = teams["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and [b["text"] for b in card["body"]] == ["a", "b"]


def test_smtp_settings_from_url_and_from_heroku_add_ons():
    smtp = smtp_from_env({"SMTP_URL": "smtps://user%40x.com:p%40ss@mail.example.com"})
    assert (smtp.host, smtp.port, smtp.username, smtp.password, smtp.implicit_tls) == \
        ("mail.example.com", 465, "user@x.com", "p@ss", True)
    mailgun = smtp_from_env({"MAILGUN_SMTP_SERVER": "smtp.mailgun.org", "MAILGUN_SMTP_PORT": "587",
                             "MAILGUN_SMTP_LOGIN": "postmaster@mg.example.com", "MAILGUN_SMTP_PASSWORD": "pw"})
    assert (mailgun.host, mailgun.port, mailgun.username) == ("smtp.mailgun.org", 587, "postmaster@mg.example.com")
    sendgrid = smtp_from_env({"SENDGRID_API_KEY": "SG.key"})
    assert (sendgrid.host, sendgrid.username, sendgrid.password) == ("smtp.sendgrid.net", "apikey", "SG.key")
    settings = Settings.from_env({"ALERT_EMAIL_TO": "a@x.com", **{k: v for k, v in {
        "MAILGUN_SMTP_SERVER": "smtp.mailgun.org", "MAILGUN_SMTP_LOGIN": "postmaster@mg.example.com"}.items()}})
    assert settings.alerts.channels == ("email",) and settings.alerts.email_from == "postmaster@mg.example.com"


def test_bad_alert_settings_fail_at_start_without_echoing_secrets():
    with pytest.raises(ConfigError, match="SMTP_URL"):
        Settings.from_env({"SMTP_URL": "http://user:hunter2secret@host"})
    try:
        Settings.from_env({"SMTP_URL": "http://user:hunter2secret@host"})
    except ConfigError as error:
        assert "hunter2" not in str(error)
    with pytest.raises(ConfigError, match="ALERT_DIGEST_HOUR"):
        Settings.from_env({"ALERT_DIGEST_HOUR": "25"})
    with pytest.raises(ConfigError, match="ALERT_WINDOW"):
        Settings.from_env({"ALERT_WINDOW": "soon"})


# -- console and CLI -------------------------------------------------------------------------------
def test_console_alerts_page_and_test_button_queue_for_the_worker(database_url):
    from bridge.app import create_app
    from bridge.composition import build_runtime
    from tests.conftest import make_env
    from tests.unit.test_admin import ADMIN, csrf_token

    url = "https://hooks.slack.com/services/T/B/zzzzzzzzsecret"
    runtime = build_runtime(Settings.from_env(make_env(database_url, ALERT_SLACK_WEBHOOK_URL=url)))
    client = create_app(runtime=runtime).test_client()
    try:
        page = client.get("/admin/alerts", headers=ADMIN)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "zzzzzzzz" not in html and "hooks.slack.com" in html and "Send a test alert" in html
        with responses.RequestsMock() as mock:  # nothing may be sent from the web request
            answer = client.post("/admin/alerts/test", headers=ADMIN, data={"csrf_token": csrf_token(page.data)})
            assert answer.status_code == 303 and not mock.calls
        with runtime.db.session() as session:
            message = session.execute(select(AlertMessage)).scalar_one()
            assert message.kind == "test" and [d.channel for d in message.deliveries] == ["chat"]
        assert "A test alert is queued" in client.get("/admin/alerts", headers=ADMIN).get_data(as_text=True)
    finally:
        runtime.close()


def test_cli_alerts_test_sends_now_and_says_so(runner, monkeypatch):
    url = "https://hooks.slack.com/services/T/B/clitestsecret"
    monkeypatch.setenv("ALERT_SLACK_WEBHOOK_URL", url)
    with responses.RequestsMock() as mock:
        mock.post(url, status=200, body="ok")
        result = runner.invoke("alerts", "test")
        assert result.exit_code == 0, result.output
        assert "sent: chat webhook at https://hooks.slack.com/" in result.output
        assert "clitestsecret" not in result.output
        assert b"Test alert" in mock.calls[0].request.body


def test_cli_alerts_test_without_channels_explains(runner):
    from click.testing import CliRunner

    from bridge.cli import main

    result = CliRunner().invoke(main, ["alerts", "test"])
    assert result.exit_code == 1 and "ALERT_SLACK_WEBHOOK_URL" in result.output


def only_message(db, clock, chat, key: str) -> tuple[str, str]:
    """Evaluate one condition with no group wait and return the one message it sent."""
    alerts = make_alerts(db, clock, chat, settings=AlertSettings(group_wait=0), conditions={key: CONDITIONS[key]})
    alerts.evaluate()
    alerts.send_due()
    (message,) = chat.sent
    return message


def test_a_refused_mapping_publish_in_the_audit_list_is_an_alert(db, clock, chat):
    from bridge.mapping.tables import MappingAudit

    with db.session() as session:
        session.add(MappingAudit(at=utcnow(), actor="lead@example.com", action="refused", version_id=None,
                                 message="routes.reviews.url: ${REVIEW_HOOK} is not set", problems=[]))
    subject, text = only_message(db, clock, chat, "mapping")
    assert subject.startswith("Mapping problems in the last 10 minutes: 1 entry")
    assert "publish refused (l***@example.com): routes.reviews.url" in text


def test_invalid_events_are_grouped_by_type_and_first_error(db, clock, chat):
    for _ in range(2):
        with db.session() as session:
            store.store_event(session, webhook_id=f"msg_{uuid.uuid4().hex}", body=b"{}", headers={}, status="invalid",
                              resource_type="review", topic="created",
                              errors={"resource": {"rating": ["Not a valid integer."]}})
    subject, text = only_message(db, clock, chat, "invalid")
    assert subject.startswith("2 new events were refused by the schema in the last")
    assert "• 2 × review.created: resource.rating — Not a valid integer." in text
    assert "/admin/events?status=invalid" in text


def test_cli_alerts_status_lists_every_condition(runner):
    result = runner.invoke("alerts", "status")
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()[1:7]] == list(CONDITIONS)
