"""KustomerClient against `responses`: no network, and a fake clock instead of real sleeping."""
from __future__ import annotations

import json
import time
from email.utils import formatdate

import pytest
import requests

from tests.kustomer_contract import checked_mock

from bridge.kustomer import (
    HOOK_BODY_LIMIT,
    AttemptInfo,
    ConfigurationError,
    HookResult,
    KustomerClient,
    Pacer,
    PermanentError,
    TransientError,
    classify,
    parse_error_body,
    redact_url,
)
from bridge.kustomer.client import parse_ratelimit_reset, parse_retry_after
from bridge.kustomer.note_limit import TRUNCATION_MARKER

API_KEY = "eyJhbGciOiJIUzI1NiJ9.test-key-do-not-leak"
BASE = "https://acme.api.kustomerapp.com"
HASH = "5f0e1a2b3c4d5e6f7a8b9c0d"
HOOK = f"{BASE}/v1/hooks/web/{HASH}"
CUSTOMER = {"type": "customer", "id": "cus1", "attributes": {"name": "Jo"}}
CONVERSATION = {"type": "conversation", "id": "conv1", "attributes": {"externalId": "okendo-r1"}}


class FakeClock:
    def __init__(self):
        self.now = 5000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def attempts():
    return []


@pytest.fixture
def make_client(clock, attempts):
    def make(**overrides):
        options = dict(
            api_base=BASE,
            pacer=Pacer(0, clock=clock, sleep=clock.sleep),
            on_attempt=attempts.append,
            sleep=clock.sleep,
        )
        options.update(overrides)
        return KustomerClient(API_KEY, **options)

    return make


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def mocked():
    with checked_mock() as rsps:
        yield rsps


def sent_json(call) -> dict:
    return json.loads(call.request.body)


# -- hooks -----------------------------------------------------------------------------------


def test_hook_accepted_on_first_try(client, mocked, attempts, clock):
    mocked.post(HOOK, status=201, json={"data": {"id": "t1"}})

    result = client.post_hook(HOOK, {"reviewerEmail": "jo@example.com", "review": {"rating": 4}})

    assert isinstance(result, HookResult) and result.status == 201 and result.latency_ms >= 0
    request = mocked.calls[0].request
    assert request.url == HOOK
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("okendo-kustomer-bridge/")
    assert sent_json(mocked.calls[0]) == {"reviewerEmail": "jo@example.com", "review": {"rating": 4}}
    assert [(a.method, a.status, a.error) for a in attempts] == [("POST", 201, None)]
    assert isinstance(attempts[0], AttemptInfo) and attempts[0].started_at.tzinfo is not None
    assert HASH not in attempts[0].url and attempts[0].url.startswith(BASE)
    assert clock.sleeps == []


def test_any_2xx_from_a_hook_is_success(client, mocked):
    mocked.post(HOOK, status=202, body="")
    assert client.post_hook(HOOK, {}).status == 202


def test_429_with_retry_after_is_waited_out_then_succeeds(client, mocked, attempts, clock):
    mocked.post(HOOK, status=429, headers={"Retry-After": "1"}, json={"errors": []})
    mocked.post(HOOK, status=201)

    assert client.post_hook(HOOK, {"a": 1}).status == 201

    assert clock.sleeps == [pytest.approx(1.0)]
    assert [a.status for a in attempts] == [429, 201]
    assert "429" in attempts[0].error and attempts[1].error is None


def test_429_with_ratelimit_reset_as_epoch_seconds(client, mocked, clock):
    reset = int(time.time()) + 5
    mocked.post(HOOK, status=429, headers={"x-ratelimit-reset": str(reset)})
    mocked.post(HOOK, status=201)

    client.post_hook(HOOK, {})

    assert len(clock.sleeps) == 1 and 3.5 <= clock.sleeps[0] <= 5.0


def test_429_with_ratelimit_reset_as_seconds_until_reset(client, mocked, clock):
    mocked.post(HOOK, status=429, headers={"x-ratelimit-reset": "3"})
    mocked.post(HOOK, status=201)

    client.post_hook(HOOK, {})

    assert clock.sleeps == [pytest.approx(3.0)]


def test_429_pauses_every_client_sharing_the_pacer(make_client, mocked, clock):
    pacer = Pacer(0, clock=clock, sleep=clock.sleep)
    impatient, other = make_client(pacer=pacer, max_wait=2), make_client(pacer=pacer)
    mocked.post(HOOK, status=429, headers={"x-ratelimit-reset": "4"})
    mocked.get(f"{BASE}/v1/auth/tokens/current", json={"data": {"id": "tok"}})

    with pytest.raises(TransientError):
        impatient.post_hook(HOOK, {})  # 4 s is over its max_wait: it hands back at once
    assert clock.sleeps == []

    other.current_token()  # 4 s is within this one's max_wait: it holds back, then goes
    assert clock.sleeps == [pytest.approx(4.0)]


def test_503_storm_gives_up_after_max_attempts_with_every_try_recorded(client, mocked, attempts, clock):
    mocked.post(HOOK, status=503, body="upstream unavailable")

    with pytest.raises(TransientError) as caught:
        client.post_hook(HOOK, {})

    assert len(mocked.calls) == 4
    assert [a.status for a in attempts] == [503] * 4
    assert len(clock.sleeps) == 3 and all(0 <= s <= 8 for s in clock.sleeps)
    assert caught.value.status == 503 and caught.value.retry_after is None
    assert "upstream unavailable" in caught.value.message


def test_retries_stop_before_total_waiting_passes_max_wait(make_client, mocked, clock):
    client = make_client(max_attempts=10, max_wait=25)
    mocked.post(HOOK, status=503, headers={"Retry-After": "10"})

    with pytest.raises(TransientError):
        client.post_hook(HOOK, {})

    # 10 + 10 = 20 fits in 25; a third wait would make 30.
    assert clock.sleeps == [10.0, 10.0]
    assert len(mocked.calls) == 3


def test_retry_after_longer_than_max_wait_gives_up_at_once(client, mocked, attempts, clock):
    mocked.post(HOOK, status=429, headers={"Retry-After": "120"})

    with pytest.raises(TransientError) as caught:
        client.post_hook(HOOK, {})

    assert caught.value.retry_after == pytest.approx(120)
    assert len(mocked.calls) == 1 and len(attempts) == 1
    assert clock.sleeps == []
    # Other threads now fail fast too, without sending anything, until the window reopens.
    assert client.pacer.pause_remaining() == pytest.approx(120)
    with pytest.raises(TransientError) as again:
        client.post_hook(HOOK, {})
    assert len(mocked.calls) == 1 and len(attempts) == 1
    assert again.value.retry_after == pytest.approx(120)


def test_retry_after_as_http_date(client, mocked, clock):
    mocked.post(HOOK, status=503, headers={"Retry-After": formatdate(time.time() + 600, usegmt=True)})

    with pytest.raises(TransientError) as caught:
        client.post_hook(HOOK, {})

    assert 590 <= caught.value.retry_after <= 600
    assert len(mocked.calls) == 1


def test_401_is_a_configuration_error_that_names_the_setting_not_the_key(client, mocked, attempts):
    echo = {"errors": [{"code": "unauthorized", "message": f"bad token {API_KEY}"}]}
    mocked.post(HOOK, status=401, json=echo)

    with pytest.raises(ConfigurationError) as caught:
        client.post_hook(HOOK, {})

    message = caught.value.message
    assert "KUSTOMER_API_KEY" in message and "region" in message
    assert API_KEY not in message and API_KEY not in (caught.value.body_excerpt or "")
    assert API_KEY not in attempts[0].error
    assert HASH not in message and HASH[:6] in message
    assert len(mocked.calls) == 1 and caught.value.status == 401


def test_403_is_a_configuration_error_that_names_the_role(client, mocked):
    mocked.post(HOOK, status=403, json={"errors": [{"code": "forbidden", "message": "no"}]})

    with pytest.raises(ConfigurationError) as caught:
        client.post_hook(HOOK, {})

    assert "org.hooks" in caught.value.message and "org.hook)" in caught.value.message
    assert "org.permission.note.create" in caught.value.message
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            {"errors": [{"code": "bad_request", "message": "emails[0].email is invalid", "meta": {}}]},
            "bad_request: emails[0].email is invalid",
        ),
        (
            {"errors": [{"status": "400", "code": "invalid", "title": "Bad Request",
                         "detail": "priority must be 1..5", "source": {"pointer": "/data/priority"}}]},
            "invalid: priority must be 1..5 (at /data/priority)",
        ),
    ],
    ids=["usual", "jsonapi"],
)
def test_400_is_permanent_with_the_parsed_reason(client, mocked, attempts, body, expected):
    mocked.post(HOOK, status=400, json=body)

    with pytest.raises(PermanentError) as caught:
        client.post_hook(HOOK, {})

    assert expected in caught.value.message
    assert caught.value.status == 400
    assert len(mocked.calls) == 1 and len(attempts) == 1


def test_413_from_the_server_is_permanent(client, mocked):
    mocked.post(HOOK, status=413, body="Request Entity Too Large")

    with pytest.raises(PermanentError) as caught:
        client.post_hook(HOOK, {})

    assert caught.value.status == 413 and len(mocked.calls) == 1


def test_body_over_400_kb_is_refused_without_a_request(client, mocked, attempts):
    with pytest.raises(PermanentError) as caught:
        client.post_hook(HOOK, {"x": "a" * HOOK_BODY_LIMIT})

    assert caught.value.status == 413
    assert "400,009 bytes" in caught.value.message  # says how big it was
    assert HOOK_BODY_LIMIT == 400_000  # "400 KB" read strictly: Kustomer does not say which
    assert len(mocked.calls) == 0 and attempts == []


def test_body_of_exactly_400_kb_is_sent(client, mocked):
    mocked.post(HOOK, status=201)
    overhead = len(json.dumps({"x": ""}).encode())
    client.post_hook(HOOK, {"x": "a" * (HOOK_BODY_LIMIT - overhead)})
    assert len(mocked.calls[0].request.body) == HOOK_BODY_LIMIT


@pytest.mark.parametrize(
    "failure",
    [requests.exceptions.ReadTimeout("read timed out"), requests.exceptions.ConnectionError("refused")],
    ids=["read-timeout", "connection-error"],
)
def test_transport_failures_are_retried_then_transient(client, mocked, attempts, clock, failure):
    mocked.post(HOOK, body=failure)

    with pytest.raises(TransientError) as caught:
        client.post_hook(HOOK, {})

    assert len(attempts) == 4 and all(a.status is None for a in attempts)
    assert type(failure).__name__ in attempts[0].error
    assert len(clock.sleeps) == 3
    assert caught.value.status is None and HASH not in caught.value.message


def test_a_timeout_then_success_is_success(client, mocked, attempts):
    mocked.post(HOOK, body=requests.exceptions.ReadTimeout("read timed out"))
    mocked.post(HOOK, status=200)

    assert client.post_hook(HOOK, {}).status == 200
    assert [a.status for a in attempts] == [None, 200]


def test_a_failing_on_attempt_callback_does_not_fail_the_call(make_client, mocked):
    def broken(info):
        raise RuntimeError("log store down")

    mocked.post(HOOK, status=201)
    assert make_client(on_attempt=broken).post_hook(HOOK, {}).status == 201
    assert len(mocked.calls) == 1  # and it was not sent twice


def test_the_key_is_not_in_the_clients_repr(client):
    assert API_KEY not in repr(client)


# -- REST API --------------------------------------------------------------------------------


def test_api_calls_need_api_base(make_client, mocked):
    client = make_client(api_base=None)
    with pytest.raises(ConfigurationError, match="KUSTOMER_API_BASE is not set"):
        client.find_customer_by_email("jo@example.com")
    assert len(mocked.calls) == 0


def test_hooks_do_not_need_api_base(make_client, mocked):
    mocked.post(HOOK, status=201)
    assert make_client(api_base=None).post_hook(HOOK, {}).status == 201


def test_current_token_returns_data(client, mocked):
    mocked.get(f"{BASE}/v1/auth/tokens/current", json={"data": {"type": "token", "id": "t"}})
    assert client.current_token() == {"type": "token", "id": "t"}


def test_customer_lookup_by_email_is_url_encoded(client, mocked):
    mocked.get(f"{BASE}/v1/customers/email=jo%2B1%40example.com", json={"data": CUSTOMER})

    assert client.find_customer_by_email("jo+1@example.com") == CUSTOMER
    assert mocked.calls[0].request.url.endswith("/v1/customers/email=jo%2B1%40example.com")


def test_customer_lookup_404_is_none(client, mocked):
    mocked.get(f"{BASE}/v1/customers/email=jo%40example.com", status=404,
               json={"errors": [{"code": "not_found", "message": "customer not found"}]})
    mocked.get(f"{BASE}/v1/customers/externalId=shop-42", status=404)

    assert client.find_customer_by_email("jo@example.com") is None
    assert client.find_customer_by_external_id("shop-42") is None


def test_customer_lookup_other_errors_raise(client, mocked):
    mocked.get(f"{BASE}/v1/customers/email=jo%40example.com", status=422)
    with pytest.raises(PermanentError):
        client.find_customer_by_email("jo@example.com")


def test_a_2xx_without_data_is_a_permanent_error(client, mocked):
    mocked.get(f"{BASE}/v1/auth/tokens/current", body="<html>proxy</html>")
    with pytest.raises(PermanentError, match="'data'"):
        client.current_token()


def test_create_customer_sends_kustomers_shape(client, mocked):
    mocked.post(f"{BASE}/v1/customers", status=201, json={"data": CUSTOMER})

    assert client.create_customer("Jo", email="jo@example.com", tags=["okendo"]) == CUSTOMER
    assert sent_json(mocked.calls[0]) == {
        "name": "Jo", "emails": [{"type": "home", "email": "jo@example.com"}], "tags": ["okendo"],
    }


def test_find_or_create_customer_returns_the_existing_one(client, mocked):
    mocked.get(f"{BASE}/v1/customers/email=jo%40example.com", json={"data": CUSTOMER})

    assert client.find_or_create_customer(email="jo@example.com", name="Jo") == CUSTOMER
    assert [c.request.method for c in mocked.calls] == ["GET"]


def test_find_or_create_customer_creates_a_missing_one(client, mocked):
    mocked.get(f"{BASE}/v1/customers/email=jo%40example.com", status=404)
    mocked.post(f"{BASE}/v1/customers", status=201, json={"data": CUSTOMER})

    assert client.find_or_create_customer(email="jo@example.com", name="Jo") == CUSTOMER
    assert sent_json(mocked.calls[1])["emails"] == [{"type": "home", "email": "jo@example.com"}]


def test_find_or_create_customer_falls_back_to_external_id(client, mocked):
    mocked.get(f"{BASE}/v1/customers/email=jo%40example.com", status=404)
    mocked.get(f"{BASE}/v1/customers/externalId=shop-42", json={"data": CUSTOMER})

    assert client.find_or_create_customer(email="jo@example.com", external_id="shop-42") == CUSTOMER
    assert [c.request.method for c in mocked.calls] == ["GET", "GET"]


@pytest.mark.parametrize("status", [400, 409])
def test_find_or_create_customer_returns_the_concurrent_creators_customer(client, mocked, status):
    lookup = f"{BASE}/v1/customers/email=jo%40example.com"
    mocked.get(lookup, status=404)
    mocked.post(f"{BASE}/v1/customers", status=status,
                json={"errors": [{"code": "duplicate", "message": "email already exists"}]})
    mocked.get(lookup, json={"data": CUSTOMER})

    assert client.find_or_create_customer(email="jo@example.com") == CUSTOMER
    assert [c.request.method for c in mocked.calls] == ["GET", "POST", "GET"]


def test_find_or_create_customer_raises_the_create_error_when_nobody_else_created_it(client, mocked):
    mocked.get(f"{BASE}/v1/customers/email=not-an-email", status=404)
    mocked.post(f"{BASE}/v1/customers", status=400,
                json={"errors": [{"code": "bad_request", "message": "email is invalid"}]})

    with pytest.raises(PermanentError, match="email is invalid") as caught:
        client.find_or_create_customer(email="not-an-email")
    assert caught.value.status == 400


def test_find_or_create_customer_needs_a_key_to_look_up(client):
    with pytest.raises(ValueError):
        client.find_or_create_customer(name="Jo")


def test_conversation_lookup_by_external_id(client, mocked):
    mocked.get(f"{BASE}/v1/conversations/externalId=okendo-r1", json={"data": CONVERSATION})
    mocked.get(f"{BASE}/v1/conversations/externalId=okendo-r2", status=404)

    assert client.find_conversation_by_external_id("okendo-r1") == CONVERSATION
    assert client.find_conversation_by_external_id("okendo-r2") is None


def test_create_conversation_passes_attributes_and_drops_none(client, mocked):
    mocked.post(f"{BASE}/v1/conversations", status=201, json={"data": CONVERSATION})

    created = client.create_conversation(
        "cus1", name="1-star review", status="open", priority=4, externalId="okendo-r1",
        queue={"id": "q1"}, custom={"okendoRatingNum": 1}, assignedTeams=None,
    )

    assert created == CONVERSATION
    assert sent_json(mocked.calls[0]) == {
        "customer": "cus1", "name": "1-star review", "status": "open", "priority": 4,
        "externalId": "okendo-r1", "queue": {"id": "q1"}, "custom": {"okendoRatingNum": 1},
    }


def test_create_conversation_is_not_retried_in_call_after_a_5xx(client, mocked):
    """The create may have happened; the caller's next round looks it up by externalId."""
    mocked.post(f"{BASE}/v1/conversations", status=503)

    with pytest.raises(TransientError):
        client.create_conversation("cus1", externalId="okendo-r1")
    assert len(mocked.calls) == 1


def test_create_conversation_is_retried_in_call_after_a_429(client, mocked):
    mocked.post(f"{BASE}/v1/conversations", status=429, headers={"Retry-After": "1"})
    mocked.post(f"{BASE}/v1/conversations", status=201, json={"data": CONVERSATION})

    assert client.create_conversation("cus1", externalId="okendo-r1") == CONVERSATION
    assert len(mocked.calls) == 2


def test_update_conversation_patches(client, mocked):
    mocked.patch(f"{BASE}/v1/conversations/conv1", json={"data": CONVERSATION})

    assert client.update_conversation("conv1", status="open", priority=None) == CONVERSATION
    assert sent_json(mocked.calls[0]) == {"status": "open"}


def test_add_conversation_tags_posts_names(client, mocked):
    mocked.post(f"{BASE}/v1/conversations/conv1/tags", status=200, body="")

    assert client.add_conversation_tags("conv1", ["okendo", "1-star"]) is None
    assert sent_json(mocked.calls[0]) == ["okendo", "1-star"]  # a bare array, as documented


def test_note_is_sent_whole_when_short(client, mocked):
    mocked.post(f"{BASE}/v1/conversations/conv1/notes", status=201, json={"data": {"id": "n1"}})

    assert client.create_note("conv1", "Rated 1 star", external_id="okendo-r1-note") == {"id": "n1"}
    assert sent_json(mocked.calls[0]) == {"body": "Rated 1 star", "externalId": "okendo-r1-note"}


def test_long_note_is_truncated_with_a_marker(client, mocked):
    mocked.post(f"{BASE}/v1/conversations/conv1/notes", status=201, json={"data": {"id": "n1"}})

    client.create_note("conv1", "x" * 20_000)

    sent = sent_json(mocked.calls[0])["body"]
    assert len(sent) == 10_240 and sent.endswith(TRUNCATION_MARKER)
    assert "externalId" not in sent_json(mocked.calls[0])


def test_note_of_exactly_the_limit_is_not_marked(client, mocked):
    mocked.post(f"{BASE}/v1/conversations/conv1/notes", status=201, json={"data": {"id": "n1"}})
    client.create_note("conv1", "y" * 10_240)
    assert sent_json(mocked.calls[0])["body"] == "y" * 10_240


def test_api_calls_are_paced(make_client, mocked, clock):
    client = make_client(pacer=Pacer(60, clock=clock, sleep=clock.sleep))
    mocked.get(f"{BASE}/v1/auth/tokens/current", json={"data": {}})

    client.current_token()
    client.current_token()

    assert clock.sleeps == [pytest.approx(1.0)]


# -- helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, expected",
    [(400, PermanentError), (404, PermanentError), (409, PermanentError), (413, PermanentError),
     (422, PermanentError), (401, ConfigurationError), (403, ConfigurationError),
     (408, TransientError), (429, TransientError), (500, TransientError), (503, TransientError)],
)
def test_classify(status, expected):
    assert classify(status) is expected


def test_redact_url_keeps_host_and_six_characters():
    assert redact_url(HOOK) == f"{BASE}/…/{HASH[:6]}…"
    assert redact_url(f"{BASE}/v1/hooks/form/org1/{HASH}?x=1") == f"{BASE}/…/{HASH[:6]}…"
    assert redact_url(f"{BASE}/v1/customers/email=jo%40example.com") == f"{BASE}/…/email=…"
    assert redact_url(redact_url(f"{BASE}/v1/conversations/c/notes")) == f"{BASE}/…/notes"
    assert redact_url("https://user:pw@host.example/x") == "https://host.example/…/x"


def test_parse_error_body_falls_back_to_an_excerpt():
    assert parse_error_body("<html>  Bad\n Gateway </html>") == "<html> Bad Gateway </html>"
    assert len(parse_error_body("z" * 5000)) == 500
    assert parse_error_body("") == "(empty body)"


def test_parse_error_body_reads_sub_errors():
    body = {"errors": [{"status": "400", "code": "validation", "title": "Bad Request",
                        "meta": {"subErrors": [{"code": "required", "detail": "name is required"}]}}]}
    assert parse_error_body(json.dumps(body)) == (
        "validation: Bad Request [required: name is required]"
    )


def test_server_hint_parsers():
    now = 1_700_000_000.0
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
    assert parse_ratelimit_reset(str(now + 12), now) == pytest.approx(12)
    assert parse_ratelimit_reset("12", now) == 12.0
    assert parse_ratelimit_reset(str(now - 5), now) == 0.0
    assert parse_ratelimit_reset("nan", now) is None


@pytest.mark.parametrize("header, wait", [
    ("1700000012", 12.0),          # epoch seconds
    ("1700000012500", 12.5),       # epoch milliseconds
    ("30", 30.0),                  # seconds to wait
    (" 7 ", 7.0),
    ("1699999990", 0.0),           # already past
    ("86400", 120.0),              # a day: capped
    ("1700086400000", 120.0),      # a day ahead in milliseconds: capped
    ("99999999999", 120.0),        # between the two readings: capped, never years
    ("-5", None), ("inf", None), ("", None), ("soon", None),
])
def test_x_ratelimit_reset_is_read_defensively_and_capped_at_120_s(header, wait):
    assert parse_ratelimit_reset(header, 1_700_000_000.0) == (pytest.approx(wait) if wait is not None else None)
