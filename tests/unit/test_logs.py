"""JSON log lines: masked emails and secrets, and the event's ids on every line."""
import json
import logging

from bridge import logs


def formatted(message: str, *args, **extra) -> dict:
    record = logging.LogRecord("bridge.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(logs.JsonFormatter().format(record))


def test_emails_are_masked_keeping_the_first_letter_and_domain():
    assert formatted("customer %s", "priya.raman@example.com")["msg"] == "customer p***@example.com"


def test_secrets_never_reach_a_log_line():
    line = formatted("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw key Bearer eyJhbGciOiJIUzI1NiJ9.eyJvcmciOiJ4In0.sig "
                     "hook https://acme.api.kustomerapp.com/v1/hooks/web/abcdef123456789")["msg"]
    assert "MfKQ9r8" not in line and "eyJvcmciOiJ4In0" not in line and "123456789" not in line
    assert "whsec_***" in line and "/v1/hooks/web/abcdef…" in line


def test_context_fields_are_on_every_line_inside_the_block_only():
    with logs.context(event_id=7, webhook_id="msg_1"):
        inside = formatted("working")
    outside = formatted("done")
    assert (inside["event_id"], inside["webhook_id"]) == (7, "msg_1")
    assert "event_id" not in outside


def test_extra_fields_are_kept():
    assert formatted("stored", status="pending", latency_ms=3.2)["status"] == "pending"
