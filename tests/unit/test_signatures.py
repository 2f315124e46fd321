"""The Standard Webhooks verifier, checked against the reference library's signer."""
import json
import time
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook

from bridge.web import signatures
from bridge.web.signatures import SignatureError, verify
from tests.helpers import OTHER_SECRET, SECRET, sample_bytes, signed_headers

BODY = sample_bytes("review-create-negative.json")
NOW = 1_790_000_000


def headers_at(ts, **kw):
    return signed_headers(BODY, timestamp=ts, webhook_id="msg_1", **kw)


def test_genuine_request_is_accepted_and_returns_its_headers():
    parsed = verify(BODY, headers_at(NOW), [SECRET], now=NOW)
    assert parsed.id == "msg_1" and parsed.timestamp == NOW


def test_signature_made_by_the_reference_library_verifies():
    when = datetime.fromtimestamp(NOW, timezone.utc)
    library_signature = Webhook(SECRET).sign("msg_lib", when, BODY.decode())
    headers = {"webhook-id": "msg_lib", "webhook-timestamp": str(NOW), "webhook-signature": library_signature}
    assert verify(BODY, headers, [SECRET], now=NOW).id == "msg_lib"
    assert signatures.sign(SECRET, "msg_lib", NOW, BODY) == library_signature


def test_our_signature_verifies_with_the_reference_library():
    ts = int(time.time())
    headers = signed_headers(BODY, webhook_id="msg_2", timestamp=ts)
    assert Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)  # raises if it disagrees


def test_tampered_body_is_refused():
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(BODY.replace(b'"rating": 1', b'"rating": 5'), headers_at(NOW), [SECRET], now=NOW)


def test_wrong_secret_is_refused():
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(BODY, headers_at(NOW, secret=OTHER_SECRET), [SECRET], now=NOW)


def test_any_of_several_secrets_during_a_rotation_is_accepted():
    assert verify(BODY, headers_at(NOW, secret=OTHER_SECRET), [SECRET, OTHER_SECRET], now=NOW)
    assert verify(BODY, headers_at(NOW, secret=SECRET), [SECRET, OTHER_SECRET], now=NOW)


def test_any_of_several_signature_entries_is_accepted():
    good = headers_at(NOW)
    good["webhook-signature"] = "v1,AAAA v2,whatever " + good["webhook-signature"] + " garbage"
    assert verify(BODY, good, [SECRET], now=NOW)


def test_a_malformed_secret_in_the_list_does_not_block_a_good_one():
    assert verify(BODY, headers_at(NOW), ["whsec_!!!not-base64", SECRET], now=NOW)


@pytest.mark.parametrize("offset, reason", [(-301, "old"), (301, "future")])
def test_timestamps_more_than_five_minutes_off_are_refused(offset, reason):
    with pytest.raises(SignatureError, match=reason):
        verify(BODY, headers_at(NOW + offset), [SECRET], now=NOW)


@pytest.mark.parametrize("offset", [-299, 299])
def test_timestamps_within_five_minutes_are_accepted(offset):
    assert verify(BODY, headers_at(NOW + offset), [SECRET], now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_named(missing):
    headers = headers_at(NOW)
    del headers[missing]
    with pytest.raises(SignatureError, match=missing):
        verify(BODY, headers, [SECRET], now=NOW)


def test_svix_header_names_are_accepted():
    assert verify(BODY, headers_at(NOW, prefix="svix"), [SECRET], now=NOW).id == "msg_1"


def test_header_names_are_case_insensitive():
    headers = {k.upper(): v for k, v in headers_at(NOW).items()}
    assert verify(BODY, headers, [SECRET], now=NOW)


@pytest.mark.parametrize("signature", ["", "v1", "v1,", "v1,@@@", "nonsense", "v1,AAAA,BBBB"])
def test_malformed_signature_headers_are_refused_not_crashed(signature):
    headers = headers_at(NOW)
    headers["webhook-signature"] = signature
    with pytest.raises(SignatureError):
        verify(BODY, headers, [SECRET], now=NOW)


def test_non_numeric_timestamp_is_refused():
    headers = headers_at(NOW)
    headers["webhook-timestamp"] = "yesterday"
    with pytest.raises(SignatureError, match="unix time"):
        verify(BODY, headers, [SECRET], now=NOW)


def test_body_that_is_not_utf8_is_verified_on_its_raw_bytes():
    body = b"\xff\xfe not json"
    headers = signed_headers(body, webhook_id="msg_3", timestamp=NOW)
    assert verify(body, headers, [SECRET], now=NOW).id == "msg_3"


def test_no_configured_secret_is_a_clear_refusal():
    with pytest.raises(SignatureError, match="OKENDO_WEBHOOK_SECRET"):
        verify(BODY, headers_at(NOW), [], now=NOW)


def test_error_messages_never_contain_the_secret():
    for secrets in ([OTHER_SECRET], [SECRET]):
        try:
            verify(BODY + b"x", headers_at(NOW), secrets, now=NOW)
        except SignatureError as exc:
            assert "whsec_" not in str(exc)
