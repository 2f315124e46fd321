"""Property tests (hypothesis): what no input may do to the webhook endpoint or the mapping loader.

`POST /webhooks/okendo`, through the Flask test client, with random and mutated bodies,
headers and sizes, signed or not:
- never a 5xx;
- nothing stored unless the request is correctly signed;
- a correctly signed request within the size limit is stored exactly once, with the bytes
  received, as `pending`, `invalid` or `skipped`, and answered 202.

`load_mapping_text` with random and mutated YAML: it succeeds or raises `MappingError`,
nothing else (an admin's typo must become a `file:line:col` message, not a traceback).

Examples are few (the suite stays fast; FUZZ_EXAMPLES=N for a long hunt) and deadlines are
off (PostgreSQL round trips vary). Inputs that once broke the endpoint are pinned as examples.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st
from sqlalchemy import select

from bridge.events.models import Event
from bridge.mapping import MappingError, load_mapping_text
from tests.conftest import make_env
from tests.helpers import OTHER_SECRET, sample, signed_headers
from tests.hypothesis_profiles import examples

ROOT = Path(__file__).resolve().parents[2]
URL = "/webhooks/okendo"
MAX_BODY = 4096  # a small limit, so sizes around it are cheap to try
STORED_STATUSES = {"pending", "invalid", "skipped"}
SAMPLES = ["review-create-negative.json", "review-create-positive.json", "review-delete.json",
           "review-update-negative.json", "survey_response-create-detractor.json",
           "quiz_response-create.json", "loyalty_adjustment_transaction-create.json"]

# FUZZ_EXAMPLES=5000 for a long hunt; otherwise 60 under the `ci` profile, fewer under `quick`.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or examples(60))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@pytest.fixture
def env(database_url):
    return make_env(database_url, BRIDGE_MAX_BODY_BYTES=str(MAX_BODY))


# -- payloads --------------------------------------------------------------------------------

# Strings that have broken web apps and databases before: NUL (PostgreSQL text refuses it),
# lone surrogates (not encodable as UTF-8), huge digits, SQL and template syntax, RTL marks.
NASTY = st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff", "\u202e", "9" * 60, "-1", "1e309",
                         "'; DROP TABLE events; --", "{{ 7*7 }}", "${HOME}", "\ufeff", "", " ",
                         "NaN", "null", "\n", "é" * 40])
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=40), NASTY)
json_values = st.recursive(json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=12)
# Where a value lands in a stored column or drives validation, so mutations hit what matters.
PATHS = [("resourceType",), ("topic",), ("sequenceNumber",), ("version",), ("resource",),
         ("resource", "subscriberId"), ("resource", "reviewId"), ("resource", "surveyResponseId"),
         ("resource", "rating"), ("resource", "sentiment"), ("resource", "title"), ("resource", "body"),
         ("resource", "reviewer"), ("resource", "reviewer", "email"), ("resource", "customer"),
         ("resource", "customer", "email"), ("resource", "answeredQuestions"), ("resource", "status")]
replacements = st.one_of(NASTY, json_values, st.text(alphabet="0123456789", min_size=1, max_size=80),
                         st.integers(min_value=0, max_value=10**60))


@st.composite
def mutated_sample(draw) -> bytes:
    """A real Okendo payload with a few fields deleted, retyped or replaced by nasty values."""
    payload = sample(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 4))):
        *parents, key = draw(st.sampled_from(PATHS))
        target = payload
        for parent in parents:
            target = target.get(parent) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(replacements)
    text = json.dumps(payload, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", errors="surrogatepass")


def _with(name: str, *path_and_value) -> bytes:
    """A sample with one value replaced (the regression examples below)."""
    payload = sample(name)
    *path, key, value = path_and_value
    target = payload
    for step in path:
        target = target[step]
    target[key] = value
    return json.dumps(payload).encode()


# Genuine events the endpoint once could not store (503 on PostgreSQL, or a 500): a NUL in a
# stored field, a lone surrogate, a sequenceNumber longer than its column.
REGRESSIONS = [
    _with("review-create-negative.json", "resource", "reviewer", "email", "a\x00@example.com"),
    _with("review-create-negative.json", "resource", "reviewId", "\ud800"),
    _with("review-create-negative.json", "resourceType", "rev\x00iew"),
    _with("review-create-negative.json", "resource", "subscriberId", "\x00"),
    _with("review-create-negative.json", "sequenceNumber", "9" * 60),
    _with("survey_response-create-detractor.json", "resource", "customer", "email", "\udfff@x.io"),
]


def padded(size: int) -> bytes:
    """A JSON body of exactly `size` bytes (around the limit)."""
    head = b'{"resourceType": "review", "pad": "'
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


bodies = st.one_of(
    mutated_sample(),
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(MAX_BODY - 3, MAX_BODY + 3).map(padded),
)

# How the request is signed: only "good" and "svix" are genuine.
MODES = ["good", "svix", "none", "other_secret", "stale", "future", "garbage_signature",
         "no_id", "no_timestamp", "tampered_body", "v2_prefix"]
header_ids = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=300)


def request_for(mode: str, body: bytes, webhook_id: str) -> tuple[bytes, dict]:
    now = int(time.time())
    if mode == "good":
        return body, signed_headers(body, webhook_id=webhook_id)
    if mode == "svix":
        return body, signed_headers(body, webhook_id=webhook_id, prefix="svix")
    if mode == "none":
        return body, {"Content-Type": "application/json"}
    if mode == "other_secret":
        return body, signed_headers(body, secret=OTHER_SECRET, webhook_id=webhook_id)
    if mode == "stale":
        return body, signed_headers(body, webhook_id=webhook_id, timestamp=now - 301 - 60)
    if mode == "future":
        return body, signed_headers(body, webhook_id=webhook_id, timestamp=now + 301 + 60)
    headers = signed_headers(body, webhook_id=webhook_id)
    if mode == "garbage_signature":
        headers["webhook-signature"] = "v1,not-base64!! v1, v0,abc"
    elif mode == "no_id":
        del headers["webhook-id"]
    elif mode == "no_timestamp":
        del headers["webhook-timestamp"]
    elif mode == "tampered_body":
        body = body + b" "
    elif mode == "v2_prefix":
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    return body, headers


def rows_for(runtime, webhook_id: str) -> list[Event]:
    with runtime.db.session() as session:
        return list(session.execute(select(Event).where(Event.webhook_id == webhook_id)).scalars())


@FUZZ
@given(body=bodies, mode=st.sampled_from(MODES), raw_id=header_ids,
       content_type=st.sampled_from(["application/json", "text/plain", "application/json; charset=latin-1",
                                     "", "multipart/form-data; boundary=x"]))
def test_webhook_endpoint_never_5xx_and_stores_exactly_the_genuine_requests(client, runtime, body, mode, raw_id,
                                                                            content_type):
    webhook_id = f"{raw_id[:240]}-{uuid.uuid4().hex[:8]}"  # unique per example; the id stays fuzzed
    data, headers = request_for(mode, body, webhook_id)
    # Werkzeug's test client replaces an empty multipart body with a form of its own making.
    assume(data or not content_type.startswith("multipart/"))
    if content_type:
        headers["Content-Type"] = content_type
    else:
        headers.pop("Content-Type", None)
    response = client.post(URL, data=data, headers=headers)
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:500])

    rows = rows_for(runtime, webhook_id)
    genuine = mode in ("good", "svix") and len(webhook_id) <= 255
    if genuine and len(data) <= MAX_BODY:
        assert response.status_code == 202, response.get_json()
        [row] = rows
        assert row.body == data and row.status in STORED_STATUSES
        assert response.get_json()["status"] == row.status and response.get_json()["event_id"] == row.id
        # Okendo delivers again (same webhook id): stored once, answered 200.
        again = client.post(URL, data=data, headers=headers)
        assert again.status_code == 200 and len(rows_for(runtime, webhook_id)) == 1
    elif genuine:
        assert response.status_code == 413 and rows == []
    else:
        assert response.status_code in (401, 413), response.status_code
        assert rows == []


def _examples(test):
    for body in REGRESSIONS:
        test = example(body=body)(test)
    return test


@FUZZ
@_examples
@given(body=mutated_sample())
def test_a_correctly_signed_mutated_sample_is_kept_whatever_its_content(client, runtime, body):
    webhook_id = f"msg_{uuid.uuid4().hex}"
    assume(len(body) <= MAX_BODY)
    response = client.post(URL, data=body, headers=signed_headers(body, webhook_id=webhook_id))
    assert response.status_code == 202, (response.status_code, response.get_data(as_text=True)[:500])
    [row] = rows_for(runtime, webhook_id)
    assert row.body == body and row.status in STORED_STATUSES


@FUZZ
@given(headers=st.dictionaries(
    st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp",
                     "svix-signature", "content-length-extra", "user-agent"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80), max_size=6))
def test_random_signature_headers_are_refused_without_storing_anything(client, runtime, headers):
    body = json.dumps(sample("review-create-negative.json")).encode()
    before = len(_all_ids(runtime))
    response = client.post(URL, data=body, headers={k: v.strip() for k, v in headers.items()})
    assert response.status_code == 401
    assert len(_all_ids(runtime)) == before


def _all_ids(runtime) -> list[str]:
    with runtime.db.session() as session:
        return list(session.execute(select(Event.webhook_id)).scalars())


# -- the mapping loader ------------------------------------------------------------------------

SHIPPED = (ROOT / "tests" / "mappings" / "default.yaml").read_text()
MAPPING_ENV = {"KUSTOMER_REVIEW_HOOK_URL": "https://acme.api.kustomerapp.com/v1/hooks/web/abc123def456",
               "KUSTOMER_SURVEY_HOOK_URL": "https://acme.api.kustomerapp.com/v1/hooks/web/fed654cba321",
               "KUSTOMER_API_KEY": "key", "KUSTOMER_API_BASE": "https://acme.api.kustomerapp.com"}
LOADER = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

YAML_BITS = st.sampled_from([
    ":", "-", "- ", "  ", "\t", "\n", "#", "&a ", "*a", "*b", "!!python/object:os.system", "!!binary", "? ",
    "{", "}", "[", "]", "|", ">-", "'", '"', "${", "${X}", "$${", "${X:-y}", "{{", "}}", "{%", "%}",
    "<<: *a", "~", "null", "1e999", ".nan", "0x1F", "2026-01-31", "yes", "\x00", "\ufeff", "\u2028",
    "version: 2", "routes: []", "tickets: false", "rating_at_most: -1", "priority: 99", "body: xml",
    "events: [nope.create]", "when: \"rating <=\"", "subject: \"{{ review.__class__ }}\"",
])


def load(text: str) -> None:
    try:
        load_mapping_text(text, "mapping.yaml", env=MAPPING_ENV)
    except MappingError as error:
        assert error.problems, "a MappingError must say what is wrong"
        for problem in error.problems:
            assert str(problem).startswith("mapping.yaml")


@LOADER
@given(text=st.text(max_size=400))
def test_random_text_loads_or_raises_mapping_error(text):
    load(text)


@LOADER
@given(pieces=st.lists(st.one_of(YAML_BITS, st.text(max_size=8)), max_size=40))
def test_yaml_shaped_noise_loads_or_raises_mapping_error(pieces):
    load("".join(pieces))


@st.composite
def mutated_mapping(draw) -> str:
    """The shipped mapping with lines deleted, duplicated, re-indented or spliced with YAML syntax."""
    lines = SHIPPED.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 6))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "insert", "splice", "truncate"]))
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "indent":
            lines[index] = "  " + lines[index]
        elif action == "dedent":
            lines[index] = lines[index].lstrip()
        elif action == "insert":
            lines.insert(index, draw(YAML_BITS) + draw(st.text(max_size=10)) + "\n")
        elif action == "splice":
            line = lines[index]
            at = draw(st.integers(0, len(line)))
            lines[index] = line[:at] + draw(st.one_of(YAML_BITS, st.text(max_size=6))) + line[at:]
        else:
            lines = lines[:index]
        if not lines:
            break
    return "".join(lines)


@LOADER
@given(text=mutated_mapping())
def test_a_mutated_shipped_mapping_loads_or_raises_mapping_error(text):
    load(text)


@st.composite
def retyped_mapping(draw) -> str:
    """The shipped mapping as data, with random values put at random places, dumped as YAML."""
    from io import StringIO

    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    document = yaml.load(SHIPPED)
    for _ in range(draw(st.integers(1, 4))):
        node, path = document, []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(list(node.keys()) if isinstance(node, dict) else list(range(len(node)))))
            path.append((node, key))
            node = node[key]
        if not path:
            continue
        parent, key = path[-1]
        parent[key] = draw(json_values)
    stream = StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


@LOADER
@given(text=retyped_mapping())
def test_a_retyped_shipped_mapping_loads_or_raises_mapping_error(text):
    load(text)


# Documents that once raised something else than MappingError.
LOADER_REGRESSIONS = [
    ":",  # a null key: AttributeError while naming its path
    "null: 1\n2026-01-31: x\n1.5: y\n",
    SHIPPED.replace("    body: native-review\n", "    body: native-review\n? \n", 1),  # unhashable key: TypeError
    "? [a, {b: c}]\n: d\n",
    "version: 1\nroutes:\n  - &a {name: x, events: [review.create], url: https://x.io/a, body: native-review}\n  - *a\n",
]


@pytest.mark.parametrize("text", LOADER_REGRESSIONS)
def test_documents_that_once_crashed_the_loader_are_mapping_errors(text):
    with pytest.raises(MappingError) as caught:
        load_mapping_text(text, "mapping.yaml", env=MAPPING_ENV)
    assert caught.value.problems
    assert all(str(problem).startswith("mapping.yaml") for problem in caught.value.problems)


def test_the_shipped_mapping_itself_loads():
    mapping = load_mapping_text(SHIPPED, "mapping.yaml", env=MAPPING_ENV)
    assert [route.name for route in mapping.routes] == ["reviews", "surveys"]
    assert mapping.warnings == ()
