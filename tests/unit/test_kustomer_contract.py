"""Kustomer's request contract (bridge.kustomer.contract), and the client held to it."""
import json

import pytest
import responses

from bridge.kustomer import KustomerClient, Pacer, contract
from tests.kustomer_contract import calls_violations, checked_mock

BASE = "https://acme.api.kustomerapp.com"
TAG_ID = "5f0e1a2b3c4d5e6f7a8b9c0d"


def test_every_operation_file_loads_with_its_docs():
    names = {op.operation for op in contract.operations()}
    assert {"PostWebHook", "PostFormHook", "PostFormHookWithoutOrg", "GetCurrentToken",
            "GetCustomerByEmail", "GetCustomerByExternalId", "CreateCustomer", "CreateConversation",
            "GetConversationByExternalId", "UpdateConversation", "AppendTagsToConversation",
            "CreateNoteForConversation", "GetNotesByConversation"} <= names
    for op in contract.operations():
        assert op.source == f"{op.operation}.json" and op.docs and op.path.startswith("/v1/")


def test_the_tag_call_the_bridge_sends_follows_the_contract():
    """Fails on the old `{"tags": [...]}` body: AppendTagsToConversation takes a bare array."""
    client = KustomerClient("key", BASE, pacer=Pacer(0), sleep=lambda s: None)
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/v1/conversations/conv1/tags", status=200, json={"data": {}})
        client.add_conversation_tags("conv1", ["okendo", "negative-feedback"])
        assert calls_violations(mock.calls) == []
        assert json.loads(mock.calls[0].request.body) == ["okendo", "negative-feedback"]


@pytest.mark.parametrize("method, path, body, says", [
    ("POST", "/v1/conversations/c1/tags", {"tags": ["okendo"]}, "is not of type 'array'"),
    ("POST", "/v1/conversations/c1/tags", [], "should be non-empty"),
    ("POST", "/v1/conversations", {"customer": "cus1", "tags": ["okendo"]}, "tag ids"),
    ("POST", "/v1/conversations", {"customer": "cus1", "priority": 6}, "maximum of 5"),
    ("POST", "/v1/conversations", {"customer": "cus1", "priority": 0}, "minimum of 1"),
    ("POST", "/v1/conversations", {"customer": "cus1", "subject": "x"}, "unknown key"),
    ("POST", "/v1/conversations", {"name": "no customer"}, "'customer' is a required property"),
    ("POST", "/v1/conversations", {"customer": "cus1", "custom": {"whyStr": "x" * 1025}}, "1,025 characters"),
    ("POST", "/v1/conversations", {"customer": "cus1", "custom": {"whyTxt": "x" * 1025}}, "1,025 characters"),
    ("POST", "/v1/conversations", {"customer": "cus1", "custom": {"ratingNum": "1"}}, "is not of type"),
    ("POST", "/v1/conversations", {"customer": "cus1", "assignedTeams": "t1"}, "is not of type 'array'"),
    ("PATCH", "/v1/conversations/c1", {"status": "closed"}, "is not one of"),
    ("POST", "/v1/conversations/c1/notes", {"body": "x" * 10_241}, "10,241 characters"),
    ("POST", "/v1/conversations/c1/notes", {"body": ""}, "should be non-empty"),
    ("POST", "/v1/conversations/c1/notes", {"text": "hi"}, "'body' is a required property"),
    ("POST", "/v1/customers", {"name": "Jo", "emails": ["jo@example.com"]}, "is not of type 'object'"),
    ("GET", "/v1/customers/email=jo%40example.com", {"x": 1}, "takes no request body"),
    ("GET", "/v1/orders/12345", contract.NO_BODY, "not a Kustomer operation"),
    ("DELETE", "/v1/customers", contract.NO_BODY, "not a Kustomer operation"),
])
def test_what_kustomer_would_refuse_is_named(method, path, body, says):
    problems = contract.violations(method, path, body)
    assert problems and any(says in p for p in problems), problems


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/conversations/c1/tags", ["okendo", "negative-feedback"]),
    ("POST", "/v1/conversations", {"customer": "cus1", "name": "1★ review", "status": "open", "priority": 4,
                                   "direction": "in", "externalId": "okendo-review-1", "tags": [TAG_ID],
                                   "assignedTeams": ["t1"], "queue": {"id": "q1"},
                                   "custom": {"okendoRatingNum": 1, "whyStr": "x" * 1024}}),
    ("PATCH", "/v1/conversations/c1", {"status": "open"}),
    ("POST", "/v1/conversations/c1/notes", {"body": "x" * 10_240, "externalId": "okendo-note-1"}),
    ("POST", "/v1/customers", {"name": "Jo", "emails": [{"type": "home", "email": "jo@example.com"}]}),
    ("POST", "/v1/customers", {"name": "Jo", "externalId": "okendo-customer-1"}),
    ("GET", "https://acme.api.kustomerapp.com/v1/conversations/c1/notes?page=1&pageSize=100", contract.NO_BODY),
    ("GET", "/v1/conversations/externalId=okendo-review-1", contract.NO_BODY),
    ("GET", "/v1/auth/tokens/current", contract.NO_BODY),
    ("POST", "/v1/hooks/web/abc123", {"review": {"rating": 1}}),
    ("POST", "/v1/hooks/form/org1/abc123", {"a": 1}),
    ("POST", "/v1/hooks/form/abc123", {"a": 1}),
])
def test_what_the_bridge_sends_is_allowed(method, path, body):
    assert contract.violations(method, path, body) == []


def test_the_most_specific_path_wins():
    assert contract.find("GET", "/v1/conversations/externalId=x").operation == "GetConversationByExternalId"
    assert contract.find("GET", "/v1/conversations/abc").operation == "GetConversationById"
    assert contract.find("GET", "/v1/customers/email=a%40b.c").operation == "GetCustomerByEmail"
    assert contract.find("POST", "/v1/conversations/abc/notes").operation == "CreateNoteForConversation"


def test_hook_bodies_stay_under_400_000_bytes():
    assert contract.HOOK_BODY_LIMIT == 400_000


def test_an_operation_added_as_a_file_is_loaded_and_a_broken_one_is_refused(tmp_path):
    (tmp_path / "GetThing.json").write_text(json.dumps({
        "operation": "GetThing", "method": "get", "path": "/v1/things/{id}", "docs": "d",
        "unconfirmed": [], "request": None}))
    assert contract.load(tmp_path)["GetThing"].method == "GET"
    (tmp_path / "Broken.json").write_text(json.dumps({
        "operation": "Broken", "method": "POST", "path": "/v1/b", "docs": "d",
        "request": {"type": "no-such-type"}}))
    with pytest.raises(contract.ContractError, match="Broken.json"):
        contract.load(tmp_path)


def test_the_checked_mock_fails_a_test_that_sends_outside_the_contract():
    client = KustomerClient("key", BASE, pacer=Pacer(0), sleep=lambda s: None)
    with pytest.raises(pytest.fail.Exception, match="priority"):
        with checked_mock() as mock:
            mock.post(f"{BASE}/v1/conversations", status=201, json={"data": {"id": "c1"}})
            client.create_conversation("cus1", priority=9)
