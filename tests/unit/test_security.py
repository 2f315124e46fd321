"""Security properties: replayed and forged webhooks, sandboxed templates.

- A captured genuine request replayed later than the 5-minute window is refused, and within
  it is recognised by its webhook id (stored once); its signature cannot be moved to another
  id, timestamp or body.
- Only the configured secret(s) sign: another secret's signature is refused.
- Admin-edited templates (conversation subject, note, custom attributes, store overrides,
  route filters) cannot reach Python internals or change the event: every attempt is a
  `MappingError` with its `file:line:col` (and `bridge check-config` exits 1); an attempt
  hidden in a branch the bundled samples never take is stopped at delivery time instead.

That no secret and no full shopper email reaches the logs of a real run (gunicorn, worker,
emulator) is tests/e2e/test_security_logs.py.
"""
from __future__ import annotations

import json
import re
import textwrap
import time

import pytest

from bridge.events import store
from bridge.mapping import MappingError, TicketDecision, load_mapping_text, render_ticket
from bridge.okendo.schemas import validate_event
from bridge.web import signatures
from tests.conftest import make_env
from tests.helpers import OTHER_SECRET, SECRET, sample, sample_bytes, signed_headers

URL = "/webhooks/okendo"


def stored_ids(runtime) -> list[str]:
    with runtime.db.session() as session:
        return [e.webhook_id for e in store.list_events(session, limit=1000)]


# -- replay and forgery ------------------------------------------------------------------------

def test_a_request_replayed_after_the_window_is_refused_and_not_stored(client, runtime, monkeypatch):
    body = sample_bytes("review-create-negative.json")
    captured = signed_headers(body, webhook_id="msg_captured")
    assert client.post(URL, data=body, headers=captured).status_code == 202

    # Within the window a replay is a duplicate delivery: answered 200, stored once.
    again = client.post(URL, data=body, headers=captured)
    assert again.status_code == 200 and again.json["status"] == "duplicate"

    # 5 minutes and a second later the same bytes are refused outright.
    later = time.time() + signatures.TOLERANCE_SECONDS + 1
    monkeypatch.setattr(signatures.time, "time", lambda: later)
    replay = dict(captured, **{"webhook-id": "msg_replayed_elsewhere"})
    response = client.post(URL, data=body, headers=captured)
    assert response.status_code == 401 and "5 minutes old" in response.json["reason"]
    assert client.post(URL, data=body, headers=replay).status_code == 401
    assert stored_ids(runtime) == ["msg_captured"]


@pytest.mark.parametrize("change", ["new id", "fresh timestamp", "other body", "svix id only"])
def test_a_captured_signature_cannot_be_reused_for_anything_else(client, runtime, change):
    body = sample_bytes("review-create-negative.json")
    headers = signed_headers(body, webhook_id="msg_original", timestamp=int(time.time()) - 60)
    if change == "new id":
        headers["webhook-id"] = "msg_forged"
    elif change == "fresh timestamp":
        headers["webhook-timestamp"] = str(int(time.time()))
    elif change == "other body":
        body = json.dumps(dict(sample("review-create-negative.json"), sequenceNumber="9999")).encode()
    else:  # the webhook-* headers win; a svix-id beside them does not change what was signed
        headers["svix-id"] = "msg_forged"
        headers["webhook-id"] = "msg_forged"
    assert client.post(URL, data=body, headers=headers).status_code == 401
    assert stored_ids(runtime) == []


def test_a_signature_from_another_secret_is_refused(client, runtime):
    body = sample_bytes("review-create-negative.json")
    response = client.post(URL, data=body, headers=signed_headers(body, secret=OTHER_SECRET))
    assert response.status_code == 401 and response.json["reason"] == "no signature matches"
    assert SECRET not in response.get_data(as_text=True) and OTHER_SECRET not in response.get_data(as_text=True)
    assert stored_ids(runtime) == []


def test_several_signatures_are_accepted_only_if_one_is_made_with_our_secret(client, runtime):
    body = sample_bytes("review-create-negative.json")
    ours = signed_headers(body, webhook_id="msg_multi")
    theirs = signed_headers(body, secret=OTHER_SECRET, webhook_id="msg_multi",
                            timestamp=int(ours["webhook-timestamp"]))
    only_theirs = dict(ours, **{"webhook-signature": theirs["webhook-signature"] + " v1,AAAA"})
    assert client.post(URL, data=body, headers=only_theirs).status_code == 401
    both = dict(ours, **{"webhook-signature": theirs["webhook-signature"] + " " + ours["webhook-signature"]})
    assert client.post(URL, data=body, headers=both).status_code == 202


@pytest.fixture
def rotating_env(database_url):
    return make_env(database_url, OKENDO_WEBHOOK_SECRET=f"{OTHER_SECRET}, {SECRET}")


def test_during_a_rotation_both_secrets_sign_and_no_third_one(rotating_env):
    from bridge.app import create_app
    from bridge.config import Settings

    app = create_app(Settings.from_env(rotating_env))
    client = app.test_client()
    body = sample_bytes("review-create-positive.json")
    assert client.post(URL, data=body, headers=signed_headers(body)).status_code == 202
    assert client.post(URL, data=body, headers=signed_headers(body, secret=OTHER_SECRET)).status_code == 202
    third = "whsec_" + "QUJD" * 8
    assert client.post(URL, data=body, headers=signed_headers(body, secret=third)).status_code == 401
    app.extensions["bridge"].close()


# -- the template sandbox ----------------------------------------------------------------------

ENV = {"KUSTOMER_REVIEW_HOOK_URL": "https://acme.api.kustomerapp.com/v1/hooks/web/abc123def456"}

# Each reaches (or tries to reach) Python objects, the process, or changes the event.
ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__['__builtins__'] }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ stars.__globals__['__builtins__']['open']('/etc/passwd').read() }}",
    "{{ review.__class__.__init__.__globals__ }}",
    "{{ review | attr('__class__') }}",
    "{{ (review | attr('__class__')).__base__.__subclasses__() }}",
    "{{ '{0.__class__.__mro__}'.format(review) }}",
    "{{ '{x.__class__}'.format_map({'x': review}) }}",
    "{{ self._TemplateReference__context }}",
    "{{ event.name.__class__.__base__ }}",
    "{{ answers.__class__.__base__.__subclasses__() }}",
    "{{ review.title.__len__.__self__ }}",
    "{% set _ = resource.update({'rating': 5}) %}changed",
    "{% set _ = answers.append(1) %}changed",
    "{{ resource.pop('reviewId') }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ lipsum.__globals__ }}",  # lipsum is removed from the sandbox altogether
    "{{ config }}{{ request }}{{ range.__globals__ }}",
]
WHERE = {
    "subject": "  conversation:\n    subject: {template}\n",
    "note": "  conversation:\n    note: {template}\n",
    "custom": "  conversation:\n    custom:\n      okendoRatingStr: {template}\n",
}


def mapping_with(part: str, template: str) -> str:
    text = textwrap.dedent("""\
        version: 1
        routes:
          - name: reviews
            events: [review.create]
            url: ${KUSTOMER_REVIEW_HOOK_URL}
            body: native-review
        tickets:
          events: [review.create, review.update]
          negative: {rating_at_most: 2}
        """)
    return text + WHERE[part].format(template=json.dumps(template))


@pytest.mark.parametrize("part", sorted(WHERE))
@pytest.mark.parametrize("template", ESCAPES)
def test_sandbox_escape_attempts_in_ticket_templates_are_config_errors(part, template):
    with pytest.raises(MappingError) as raised:
        load_mapping_text(mapping_with(part, template), "mapping.yaml", env=ENV)
    message = str(raised.value)
    assert re.match(r"mapping\.yaml:\d+:\d+: tickets\.conversation\.", message), message
    assert re.search(r"SecurityError|unsafe|unknown name|not defined|is undefined|lipsum|config|request",
                     message), message
    assert "uid=" not in message and "root:" not in message  # nothing ran


def test_sandbox_escape_in_a_store_override_and_in_a_route_filter_are_config_errors():
    override = textwrap.dedent("""\
        version: 1
        tickets:
          events: [review.create]
          negative: {rating_at_most: 2}
        stores:
          "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21":
            tickets:
              conversation: {note: "{{ cycler.__init__.__globals__ }}"}
        """)
    with pytest.raises(MappingError, match=r"mapping\.yaml:8:\d+: stores.*SecurityError"):
        load_mapping_text(override, "mapping.yaml", env=ENV)
    route = mapping_with("subject", "ok").replace("body: native-review",
                                                  "body: native-review\n    when: \"rating.__class__.__mro__\"")
    with pytest.raises(MappingError, match=r"routes\[0\]\.when: fails on sample.*SecurityError"):
        load_mapping_text(route, "mapping.yaml", env=ENV)


def test_check_config_reports_an_escape_attempt_and_exits_1(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text(mapping_with("note", "{{ cycler.__init__.__globals__.os }}"))
    from click.testing import CliRunner

    from bridge.cli import main

    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(path))}:\d+:\d+: tickets\.conversation\.note: .*SecurityError",
                     result.output), result.output


def test_an_escape_in_a_branch_the_samples_never_take_is_stopped_at_delivery_time():
    """Samples rate 1 and 5; a rating of 3 takes the hostile branch only at delivery time."""
    hostile = "{% if review.rating == 3 %}{{ cycler.__init__.__globals__ }}{% else %}Review{% endif %}"
    mapping = load_mapping_text(mapping_with("subject", hostile), "mapping.yaml", env=ENV)
    payload = sample("review-create-negative.json")
    payload["resource"]["rating"] = 3
    ticket = render_ticket(mapping.tickets, validate_event(payload), TicketDecision(True, True, "rating 3"))
    assert "globals" not in ticket.subject and "<" not in ticket.subject
    assert "function" not in ticket.subject and "module" not in ticket.subject
    assert ticket.subject.startswith("3★ review")  # the built-in default subject stood in
    assert any("SecurityError" in warning for warning in ticket.warnings)


def test_templates_cannot_change_the_event_they_render():
    mapping = load_mapping_text(mapping_with("subject", "{{ review.rating }}"), "mapping.yaml", env=ENV)
    event = validate_event(sample("review-create-negative.json"))
    before = json.dumps(event.resource, sort_keys=True)
    render_ticket(mapping.tickets, event, TicketDecision(True, True, "x"))
    assert json.dumps(event.resource, sort_keys=True) == before
