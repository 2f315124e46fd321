"""OkendoClient and `bridge okendo ...` against `responses`: no network, no real sleeping."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from click.testing import CliRunner
from responses import matchers

from bridge.okendo.api import (
    OkendoAuthError,
    OkendoClient,
    OkendoError,
    OkendoNotFoundError,
    OkendoTransientError,
    find_signing_secret,
    parse_retry_after,
)
from bridge.okendo.cli import okendo

USER_ID = "11111111-2222-3333-4444-555555555555"
API_KEY = "K3yK3yK3yK3yK3yK3yK3yK3yK3yK3y99"  # 32 characters, must never be printed
BASE = "https://api.okendo.io/enterprise"
SUBS = f"{BASE}/webhook_subscriptions"
HOOK_URL = "https://bridge.example.com/webhooks/okendo"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQ="
BASIC = "Basic " + base64.b64encode(f"{USER_ID}:{API_KEY}".encode()).decode()
ENV = {"OKENDO_USER_ID": USER_ID, "OKENDO_API_KEY": API_KEY, "OKENDO_API_BASE": None,
       "OKENDO_WEBHOOK_SECRET": None}


class FakeTime:
    """A clock that only moves when slept on; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def client(fake_time):
    return OkendoClient(USER_ID, API_KEY, sleep=fake_time.sleep, clock=fake_time.clock)


def subscription(sub_id="sub-1", url=HOOK_URL, events=(("review", "create"),), **extra):
    return {
        "subscriberId": USER_ID,
        "webhookSubscriptionId": sub_id,
        "endpointUrl": url,
        "version": "2025-02-01",
        "subscriptions": [{"resourceType": r, "topic": t} for r, t in events],
        "isEnabled": True,
        "dateCreated": "2025-09-12T16:31:23.343Z",
        "dateModified": "2025-09-12T16:31:23.343Z",
        **extra,
    }


def query_of(call) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def run(fake_time, args, env=None, **kwargs):
    return CliRunner().invoke(
        okendo, args, env={**ENV, **(env or {})},
        obj={"okendo_client_kwargs": {"sleep": fake_time.sleep, "clock": fake_time.clock}}, **kwargs)


# -- construction ----------------------------------------------------------------------------


def test_refuses_plain_http_base_except_local():
    with pytest.raises(ValueError, match="https"):
        OkendoClient(USER_ID, API_KEY, "http://api.okendo.io/enterprise")
    assert OkendoClient(USER_ID, API_KEY, "http://127.0.0.1:9000/enterprise/").base_url == \
        "http://127.0.0.1:9000/enterprise"
    assert OkendoClient(USER_ID, API_KEY, "http://localhost:9000/enterprise").base_url.startswith("http://localhost")


def test_repr_does_not_show_the_key(client):
    assert API_KEY not in repr(client)


# -- list --------------------------------------------------------------------------------------


@responses.activate
def test_list_follows_next_url_across_two_pages(client):
    cursor = json.dumps({"webhookSubscriptionId": "sub-1"})
    next_url = "/webhook_subscriptions?" + "lastEvaluated=" + requests.utils.quote(cursor) + "&limit=100"
    responses.get(SUBS, match=[matchers.query_param_matcher({"limit": "100"})],
                  json={"webhookSubscriptions": [subscription("sub-1")], "nextUrl": next_url})
    responses.get(SUBS, match=[matchers.query_param_matcher({"limit": "100", "lastEvaluated": cursor})],
                  json={"webhookSubscriptions": [subscription("sub-2")]})

    found = client.list_subscriptions()

    assert [s["webhookSubscriptionId"] for s in found] == ["sub-1", "sub-2"]
    assert len(responses.calls) == 2
    # the relative nextUrl is appended to the base path, /enterprise included
    assert urlsplit(responses.calls[1].request.url).path == "/enterprise/webhook_subscriptions"
    for call in responses.calls:
        assert call.request.headers["Authorization"] == BASIC
        assert call.request.headers["okendo-api-version"] == "2025-02-01"


@responses.activate
def test_list_next_url_carrying_the_base_path_and_no_limit(client):
    responses.get(SUBS, json={"webhookSubscriptions": [subscription("sub-1")],
                              "nextUrl": "/enterprise/webhook_subscriptions?lastEvaluated=abc"})
    responses.get(SUBS, json={"webhookSubscriptions": [subscription("sub-2")], "nextUrl": None})

    assert len(client.list_subscriptions()) == 2
    second = responses.calls[1]
    assert urlsplit(second.request.url).path == "/enterprise/webhook_subscriptions"
    assert query_of(second) == {"lastEvaluated": "abc", "limit": "100"}


@responses.activate
def test_list_never_sends_credentials_to_another_host(client):
    responses.get(SUBS, json={"webhookSubscriptions": [],
                              "nextUrl": "https://evil.example/steal?lastEvaluated=xyz"})
    responses.get(SUBS, json={"webhookSubscriptions": [subscription("sub-9")]})

    assert [s["webhookSubscriptionId"] for s in client.list_subscriptions()] == ["sub-9"]
    assert all(urlsplit(c.request.url).hostname == "api.okendo.io" for c in responses.calls)
    assert query_of(responses.calls[1])["lastEvaluated"] == "xyz"


@responses.activate
def test_list_stops_when_a_page_repeats(client):
    responses.get(SUBS, json={"webhookSubscriptions": [], "nextUrl": "/webhook_subscriptions?lastEvaluated=same"})
    with pytest.raises(OkendoError, match="repeated"):
        client.list_subscriptions()
    assert len(responses.calls) == 2  # first page, then the cursor page pointing at itself


@responses.activate
def test_requests_are_paced_to_two_per_second(client, fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": []})
    for _ in range(3):
        client.list_subscriptions()
    assert fake_time.sleeps == [0.5, 0.5]


# -- create ------------------------------------------------------------------------------------


@responses.activate
def test_create_posts_the_exact_body_with_auth_and_version_headers(client):
    expected = {
        "endpointUrl": HOOK_URL,
        "isEnabled": True,
        "version": "2025-02-01",
        "subscriptions": [{"resourceType": "review", "topic": "create"},
                          {"resourceType": "survey_response", "topic": "delete"}],
    }
    responses.post(SUBS, match=[matchers.json_params_matcher(expected, strict_match=True)],
                   json=subscription(webhookSecret=SECRET))

    created = client.create_subscription(HOOK_URL, [("review", "create"), ("survey_response", "delete")])

    assert created["webhookSubscriptionId"] == "sub-1"
    request = responses.calls[0].request
    assert request.headers["Authorization"] == BASIC
    assert request.headers["okendo-api-version"] == "2025-02-01"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == expected


def test_find_signing_secret_under_an_unknown_field_name():
    answer = subscription(extra={"signing": [{"kind": "svix", "value": " " + SECRET + " "}]})
    assert find_signing_secret(answer) == SECRET
    assert find_signing_secret(subscription()) is None
    assert find_signing_secret({"secret": "whsec_"}) is None  # a bare prefix is not a secret


@responses.activate
def test_429_then_200_is_retried_honouring_retry_after(client, fake_time):
    responses.get(SUBS, status=429, headers={"Retry-After": "3"}, json={"message": "Too Many Requests"})
    responses.get(SUBS, json={"webhookSubscriptions": [subscription()]})

    assert len(client.list_subscriptions()) == 1
    assert len(responses.calls) == 2
    assert fake_time.sleeps == [3.0]  # the server's hint, and no extra pacing wait after it


@responses.activate
def test_create_after_429_is_retried(client, fake_time):
    responses.post(SUBS, status=429, json={"message": "slow down"})
    responses.post(SUBS, json=subscription(webhookSecret=SECRET))

    assert client.create_subscription(HOOK_URL, [("review", "create")])["webhookSecret"] == SECRET
    assert len(responses.calls) == 2
    assert fake_time.sleeps == [0.5]  # default backoff, no Retry-After


@responses.activate
def test_create_is_not_retried_after_a_5xx(client):
    responses.post(SUBS, status=502, body="bad gateway")
    with pytest.raises(OkendoTransientError) as info:
        client.create_subscription(HOOK_URL, [("review", "create")])
    assert len(responses.calls) == 1
    assert info.value.may_have_succeeded
    assert "bridge okendo list" in str(info.value)


@responses.activate
def test_create_is_retried_only_when_nothing_reached_okendo(client):
    responses.post(SUBS, body=requests.exceptions.ConnectTimeout("connect timed out"))
    responses.post(SUBS, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(OkendoTransientError) as info:
        client.create_subscription(HOOK_URL, [("review", "create")])
    assert len(responses.calls) == 2  # the connect timeout was retried, the read timeout was not
    assert info.value.may_have_succeeded and "bridge okendo list" in str(info.value)


@responses.activate
def test_5xx_and_connection_errors_give_up_after_max_attempts(fake_time):
    client = OkendoClient(USER_ID, API_KEY, sleep=fake_time.sleep, clock=fake_time.clock, max_attempts=3)
    responses.get(SUBS, status=503)
    responses.get(SUBS, body=requests.ConnectionError("connection reset"))
    responses.get(SUBS, status=500, json={"message": "internal"})
    with pytest.raises(OkendoTransientError, match="HTTP 500.*internal"):
        client.list_subscriptions()
    assert len(responses.calls) == 3
    assert fake_time.sleeps == [0.5, 1.0]


@responses.activate
def test_a_long_retry_after_fails_fast(client, fake_time):
    responses.get(SUBS, status=429, headers={"Retry-After": "120"})
    with pytest.raises(OkendoTransientError) as info:
        client.list_subscriptions()
    assert info.value.retry_after == 120
    assert len(responses.calls) == 1
    assert fake_time.sleeps == []


def test_parse_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None


# -- errors ------------------------------------------------------------------------------------


@responses.activate
def test_401_is_an_auth_error_naming_the_variables_without_the_key(client):
    responses.get(SUBS, status=401, json={"message": f"Invalid credentials {API_KEY}"})
    with pytest.raises(OkendoAuthError) as info:
        client.list_subscriptions()
    message = str(info.value)
    assert "OKENDO_USER_ID" in message and "OKENDO_API_KEY" in message
    assert "HTTP 401" in message and "Invalid credentials" in message
    assert API_KEY not in message
    assert len(responses.calls) == 1  # not retried


@responses.activate
def test_an_echoed_key_is_scrubbed_before_the_message_is_cut(client):
    # Cut first, the excerpt would end inside a copy of the key, and that prefix escaped the scrub.
    responses.get(SUBS, status=400, json={"message": " ".join([API_KEY] * 40)})
    with pytest.raises(OkendoError) as info:
        client.list_subscriptions()
    assert API_KEY[:3] not in str(info.value)


@responses.activate
def test_other_4xx_carries_okendo_message(client):
    responses.post(SUBS, status=422, json={"message": "endpointUrl must be https"})
    with pytest.raises(OkendoError, match="HTTP 422.*endpointUrl must be https") as info:
        client.create_subscription("http://x.example/webhooks/okendo", [("review", "create")])
    assert not isinstance(info.value, (OkendoAuthError, OkendoTransientError))
    assert info.value.status == 422


# -- delete ------------------------------------------------------------------------------------


@responses.activate
def test_delete_calls_delete_on_the_subscription_path(client):
    responses.delete(f"{SUBS}/sub-1", status=204)
    client.delete_subscription("sub-1")
    request = responses.calls[0].request
    assert request.method == "DELETE"
    assert request.headers["Authorization"] == BASIC
    assert request.headers["okendo-api-version"] == "2025-02-01"


@responses.activate
def test_delete_escapes_the_id_and_reports_404(client):
    responses.delete(f"{SUBS}/..%2Freviews", status=404, json={"message": "Not found"})
    with pytest.raises(OkendoNotFoundError):
        client.delete_subscription("../reviews")
    assert urlsplit(responses.calls[0].request.url).path == "/enterprise/webhook_subscriptions/..%2Freviews"


@responses.activate
def test_delete_retried_after_5xx_then_404_counts_as_deleted(client):
    responses.delete(f"{SUBS}/sub-1", status=503)
    responses.delete(f"{SUBS}/sub-1", status=404)
    client.delete_subscription("sub-1")
    assert len(responses.calls) == 2


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_missing_env_vars_is_a_clear_error(fake_time):
    result = run(fake_time, ["list"], env={"OKENDO_USER_ID": None, "OKENDO_API_KEY": None})
    assert result.exit_code == 1
    assert "OKENDO_USER_ID and OKENDO_API_KEY are not set" in result.output
    assert "Settings > Integrations > API" in result.output

    result = run(fake_time, ["list"], env={"OKENDO_API_KEY": ""})
    assert result.exit_code == 1
    assert "OKENDO_API_KEY is not set" in result.output and "OKENDO_USER_ID" not in result.output.split(".")[0]


@responses.activate
def test_cli_subscribe_creates_and_prints_secret_and_commands(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": [subscription("other", url="https://elsewhere.example/hook")]})
    responses.post(SUBS, json=subscription("sub-new", events=[("review", "create")],
                                           credentials={"signingSecret": SECRET}))

    result = run(fake_time, ["subscribe", "--url", HOOK_URL])

    assert result.exit_code == 0, result.output
    body = json.loads(responses.calls[1].request.body)
    assert body["endpointUrl"] == HOOK_URL
    assert body["subscriptions"] == [{"resourceType": "review", "topic": t}
                                     for t in ("create", "update", "delete")]  # surveys only when asked
    out = result.output
    assert "sub-new" in out and "review.create" in out
    assert f"heroku config:set OKENDO_WEBHOOK_SECRET={SECRET}" in out
    assert f"\n  .env file: OKENDO_WEBHOOK_SECRET={SECRET}\n" in out
    assert "Rotating" not in out  # no old secret anywhere
    assert "Warning" not in out
    assert API_KEY not in out


@responses.activate
def test_cli_subscribe_with_resources_topics_and_a_rotation(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": []})
    responses.post(SUBS, json=subscription("sub-new", webhookSecret=SECRET))

    result = run(fake_time, ["subscribe", "--url", HOOK_URL, "--resource", "review", "--topic", "create",
                             "--topic", "delete"], env={"OKENDO_WEBHOOK_SECRET": OLD_SECRET})

    assert result.exit_code == 0, result.output
    assert json.loads(responses.calls[1].request.body)["subscriptions"] == [
        {"resourceType": "review", "topic": "create"}, {"resourceType": "review", "topic": "delete"}]
    assert f'heroku config:set OKENDO_WEBHOOK_SECRET="{SECRET},{OLD_SECRET}"' in result.output
    assert f'.env file: OKENDO_WEBHOOK_SECRET="{SECRET},{OLD_SECRET}"' in result.output


@responses.activate
def test_a_space_separated_secret_list_is_read_like_the_bridge_reads_it(fake_time):
    # OKENDO_WEBHOOK_SECRET takes commas or whitespace between secrets (okendo.signing_secrets);
    # the rotation line must list each old secret once, and not the new one again.
    responses.get(SUBS, json={"webhookSubscriptions": []})
    responses.post(SUBS, json=subscription("sub-new", webhookSecret=SECRET))

    result = run(fake_time, ["subscribe", "--url", HOOK_URL], env={"OKENDO_WEBHOOK_SECRET": f"{SECRET} {OLD_SECRET}"})

    assert result.exit_code == 0, result.output
    assert f'heroku config:set OKENDO_WEBHOOK_SECRET="{SECRET},{OLD_SECRET}"' in result.output


@responses.activate
def test_cli_subscribe_detects_an_existing_subscription(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": [subscription("sub-old", url=HOOK_URL + "/")]})

    result = run(fake_time, ["subscribe", "--url", HOOK_URL])

    assert result.exit_code == 0, result.output
    assert "already exists" in result.output and "sub-old" in result.output
    assert "not subscribed to: review.delete" in result.output
    assert [c.request.method for c in responses.calls] == ["GET"]  # nothing created


@responses.activate
def test_cli_subscribe_force_creates_anyway_and_shows_rotation(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": [subscription("sub-old")]})
    responses.post(SUBS, json=subscription("sub-new", webhookSecret=SECRET))

    result = run(fake_time, ["subscribe", "--url", HOOK_URL, "--force"])

    assert result.exit_code == 0, result.output
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]
    assert f'OKENDO_WEBHOOK_SECRET="{SECRET},<old whsec_ secret>"' in result.output


@responses.activate
def test_cli_subscribe_without_secret_in_answer_says_so(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": []})
    responses.post(SUBS, json=subscription("sub-new"))

    result = run(fake_time, ["subscribe", "--url", HOOK_URL])

    assert result.exit_code == 1
    assert "no signing secret" in result.output
    assert "bridge okendo delete sub-new" in result.output
    assert "heroku config:set" not in result.output


@responses.activate
def test_cli_subscribe_warns_about_odd_urls(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": []})
    responses.post(SUBS, json=subscription("sub-new", url="http://x.example/hooks", webhookSecret=SECRET))

    result = run(fake_time, ["subscribe", "--url", "http://x.example/hooks"])

    assert result.exit_code == 0, result.output
    assert "is not https://" in result.stderr
    assert "does not end in /webhooks/okendo" in result.stderr


@responses.activate
def test_cli_subscribe_refused_undocumented_resource_gets_a_hint(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": []})
    responses.post(SUBS, status=400, json={"message": "Invalid resourceType"})

    result = run(fake_time, ["subscribe", "--url", HOOK_URL, "--surveys"])

    assert result.exit_code == 1
    assert json.loads(responses.calls[1].request.body)["subscriptions"][-1] == {
        "resourceType": "survey_response", "topic": "delete"}
    assert "Invalid resourceType" in result.output
    assert "Okendo refused survey_response (survey_response: it is not in Okendo's documented resource types" \
        in " ".join(result.output.split())
    assert "--resource review" in result.output


@responses.activate
def test_cli_subscribe_refusal_names_the_resource_okendo_names(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": []})
    responses.post(SUBS, status=422, json={"message": "loyalty_customer is not enabled for this store"})

    result = run(fake_time, ["subscribe", "--url", HOOK_URL, "--resource", "review", "--resource", "loyalty_customer"])

    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "Okendo refused loyalty_customer (loyalty_customer: Okendo's answer above names it)" in output
    assert "not enabled for this store" in output and "--resource review" in output


@responses.activate
def test_cli_auth_failure_message(fake_time):
    responses.get(SUBS, status=401, json={"message": "Unauthorized"})
    result = run(fake_time, ["list"])
    assert result.exit_code == 1
    assert "OKENDO_API_KEY" in result.output and API_KEY not in result.output


@responses.activate
def test_cli_list_prints_each_subscription(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": [
        subscription("sub-1", events=[("review", "create"), ("review", "update")]),
        subscription("sub-2", url="https://other.example/webhooks/okendo", isEnabled=False),
    ]})

    result = run(fake_time, ["list"])

    assert result.exit_code == 0, result.output
    assert "id:       sub-1" in result.output
    assert f"endpoint: {HOOK_URL}" in result.output
    assert "events:   review.create, review.update" in result.output
    assert "created:  2025-09-12 16:31 UTC" in result.output
    assert "status:   disabled" in result.output


@responses.activate
def test_cli_list_json(fake_time):
    items = [subscription("sub-1")]
    responses.get(SUBS, json={"webhookSubscriptions": items})
    result = run(fake_time, ["list", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == items


@responses.activate
def test_cli_list_empty(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": []})
    result = run(fake_time, ["list"])
    assert result.exit_code == 0 and "No Okendo webhook subscriptions." in result.output


@responses.activate
def test_cli_delete_asks_first(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": [subscription("sub-1")]})
    responses.delete(f"{SUBS}/sub-1", status=204)

    declined = run(fake_time, ["delete", "sub-1"], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert not [c for c in responses.calls if c.request.method == "DELETE"]

    accepted = run(fake_time, ["delete", "sub-1"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert HOOK_URL in accepted.output and "Deleted Okendo webhook subscription sub-1" in accepted.output
    assert [c.request.method for c in responses.calls][-1] == "DELETE"


@responses.activate
def test_cli_delete_yes_skips_the_question(fake_time):
    responses.delete(f"{SUBS}/sub-1", status=204)
    result = run(fake_time, ["delete", "sub-1", "--yes"])
    assert result.exit_code == 0, result.output
    assert [c.request.method for c in responses.calls] == ["DELETE"]


@responses.activate
def test_cli_delete_unknown_id(fake_time):
    responses.get(SUBS, json={"webhookSubscriptions": [subscription("sub-1")]})
    responses.delete(f"{SUBS}/nope", status=404)

    asked = run(fake_time, ["delete", "nope"])
    assert asked.exit_code == 1 and "No webhook subscription nope" in asked.output

    forced = run(fake_time, ["delete", "nope", "--yes"])
    assert forced.exit_code == 1 and "No webhook subscription nope" in forced.output
