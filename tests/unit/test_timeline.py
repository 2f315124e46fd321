"""Timeline cards (Kustomer KObjects), each Kustomer call sequence mocked with `responses`."""
import json
import os
import re

import pytest
import responses

from tests.conftest import KUSTOMER_BASE, make_env
from tests.helpers import sample, sample_bytes, with_sequence
from tests.unit.test_processor import event, ingest, make_due

B = re.escape(KUSTOMER_BASE)
KLASSES = re.compile(B + r"/v1/klasses\?.*")
CARD_BY_EXT = re.compile(B + r"/v1/klasses/okendoReview/externalId=.*")
SURVEY_CARD_BY_EXT = re.compile(B + r"/v1/klasses/okendoSurveyResponse/externalId=.*")
CREATE_CARD = re.compile(B + r"/v1/customers/cus_1/klasses/okendoReview")
UPDATE_CARD = re.compile(B + r"/v1/klasses/okendoReview/card_1")
CUSTOMER_BY_EMAIL = re.compile(B + r"/v1/customers/email=.*")

REVIEW_ID = "0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10"
BOTH_KLASSES = {"data": [{"type": "klass", "id": "k1", "attributes": {"name": "okendoReview"}},
                         {"type": "klass", "id": "k2", "attributes": {"name": "okendoSurveyResponse"}}]}
CUSTOMER = {"data": {"type": "customer", "id": "cus_1", "attributes": {}}}
NOT_FOUND = {"errors": [{"status": "404", "code": "not_found"}]}


def card(sequence="1001", title="★☆☆☆☆ Zip broke in a week"):
    return {"data": {"type": "kobject", "id": "card_1",
                     "attributes": {"title": title, "externalId": f"okendo-review-{REVIEW_ID}",
                                    "custom": {"sequenceStr": sequence}},
                     "relationships": {"customer": {"data": {"type": "customer", "id": "cus_1"}}}}}


@pytest.fixture
def env(database_url):
    mapping = os.path.join(os.path.dirname(__file__), "..", "mappings", "timeline.yaml")
    env = make_env(database_url, BRIDGE_MAPPING=mapping)
    env["BRIDGE_MAPPING"] = mapping
    return env


@pytest.fixture
def kustomer():
    from tests.kustomer_contract import checked_mock  # every captured body must fit the contract

    with checked_mock(assert_all_requests_are_fired=False) as mock:
        mock.get(CUSTOMER_BY_EMAIL, json=CUSTOMER, status=200)
        # Tickets for the negative samples: keep them out of the way, they are tested elsewhere.
        mock.get(re.compile(B + r"/v1/conversations/externalId=.*"), json={"data": {"id": "conv_1"}})
        mock.post(re.compile(B + r"/v1/conversations/[^/]+/(tags|notes)"), json={"data": {"id": "x"}}, status=201)
        yield mock


def calls(mock, method, pattern):
    return [c for c in mock.calls if c.request.method == method and re.fullmatch(pattern, c.request.url)]


def bodies(mock, method, pattern):
    return [json.loads(c.request.body) for c in calls(mock, method, pattern)]


def klasses_exist(mock):
    mock.get(KLASSES, json=BOTH_KLASSES)


def no_card_yet(mock):
    """The klasses exist, the card does not: it will be created."""
    klasses_exist(mock)
    mock.get(CARD_BY_EXT, json=NOT_FOUND, status=404)
    mock.post(CREATE_CARD, json=card(), status=201)


def actions(runtime, event_id):
    return {a.key: a for a in event(runtime, event_id).actions}


def test_a_review_becomes_one_card_found_by_external_id_before_it_is_created(client, runtime, kustomer):
    no_card_yet(kustomer)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"

    lookups = calls(kustomer, "GET", CARD_BY_EXT)
    assert lookups and lookups[0].request.url.endswith(f"externalId=okendo-review-{REVIEW_ID}")
    [body] = bodies(kustomer, "POST", CREATE_CARD)
    assert body["externalId"] == f"okendo-review-{REVIEW_ID}"
    assert "Zip broke in a week" in body["title"]
    assert body["custom"]["ratingNum"] == 1 and body["custom"]["statusStr"] == "approved"
    assert body["custom"]["orderStr"] == "#4417" and body["custom"]["sequenceStr"] == "1001"
    assert body["images"] == ["https://cdn.example.com/r/zip-large.jpg"]
    done = actions(runtime, event_id)["timeline:timeline"]
    assert done.status == "done" and done.result["kobject_id"] == "card_1" and done.result["card"] == "created"

    # A replay of the delivered event leaves it alone; a later round of it (as after another
    # action's failure) does not touch the card again: the action is recorded as done.
    before = len(kustomer.calls)
    from sqlalchemy import update

    from bridge.events import store
    from bridge.events.models import Event
    with runtime.db.session() as session:
        assert store.reset_for_replay(session, [event_id]) == []
        session.execute(update(Event).where(Event.id == event_id).values(status="retrying"))
    make_due(runtime, event_id)
    assert runtime.processor.process(event_id) == "delivered"
    assert not [c for c in kustomer.calls[before:] if "/klasses" in c.request.url]


def test_the_ticket_for_a_negative_review_links_its_card(client, runtime, kustomer):
    no_card_yet(kustomer)
    conversations = f"{KUSTOMER_BASE}/v1/conversations"
    kustomer.replace(responses.GET, re.compile(B + r"/v1/conversations/externalId=.*"), json=NOT_FOUND, status=404)
    kustomer.post(conversations, json={"data": {"type": "conversation", "id": "conv_1"}}, status=201)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered", event(runtime, event_id).last_error

    [conversation] = bodies(kustomer, "POST", conversations)
    assert conversation["custom"]["okendoCardUrl"] == "https://acme.kustomerapp.com/app/customers/cus_1"
    [note] = bodies(kustomer, "POST", B + r"/v1/conversations/conv_1/notes")
    assert f"Timeline card: okendoReview card_1 (okendo-review-{REVIEW_ID})" in note["body"]


def test_an_existing_card_is_updated_not_duplicated(client, runtime, kustomer):
    klasses_exist(kustomer)
    kustomer.get(CARD_BY_EXT, json=card("1001"), status=200)
    kustomer.put(UPDATE_CARD, json=card("1002"), status=200)
    kustomer.post(CREATE_CARD, json=card(), status=201)
    event_id = ingest(client, with_sequence(sample("review-update-negative.json"), 1002))
    assert runtime.processor.process(event_id) == "delivered"
    assert calls(kustomer, "POST", CREATE_CARD) == []
    [update] = bodies(kustomer, "PUT", UPDATE_CARD)
    assert "Update: still no reply" in update["custom"]["bodyTxt"]
    assert update["custom"]["replyTxt"] == "Sorry Priya, we've emailed you."
    assert update["custom"]["sequenceStr"] == "1002" and "externalId" not in update
    assert actions(runtime, event_id)["timeline:timeline"].result["card"] == "updated"


def test_a_card_created_concurrently_is_found_again_and_updated(client, runtime, kustomer):
    klasses_exist(kustomer)
    kustomer.get(CARD_BY_EXT, json=NOT_FOUND, status=404)
    kustomer.get(CARD_BY_EXT, json=card("1000"), status=200)
    kustomer.post(CREATE_CARD, json={"errors": [{"status": "409", "code": "duplicate"}]}, status=409)
    kustomer.put(UPDATE_CARD, json=card("1001"), status=200)
    event_id = ingest(client, sample_bytes("review-create-negative.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert len(calls(kustomer, "POST", CREATE_CARD)) == 1
    assert len(calls(kustomer, "PUT", UPDATE_CARD)) == 1


def test_a_429_midway_is_retried_later_and_leaves_one_card(client, runtime, kustomer):
    klasses_exist(kustomer)
    kustomer.get(CARD_BY_EXT, json=NOT_FOUND, status=404)
    kustomer.post(CREATE_CARD, json={"errors": [{"code": "rate_limited"}]}, status=429,
                  headers={"Retry-After": "120"})
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "retrying"
    stored = event(runtime, event_id)
    assert "429" in stored.last_error and stored.next_attempt_at is not None
    assert "timeline:timeline" not in actions(runtime, event_id)

    kustomer.replace(responses.POST, CREATE_CARD, json=card(), status=201)
    make_due(runtime, event_id)
    runtime.processor.clients.close()  # the 429's two-minute pause has passed
    assert runtime.processor.process(event_id) == "delivered", event(runtime, event_id).last_error
    created = [c for c in calls(kustomer, "POST", CREATE_CARD) if c.response.status_code == 201]
    assert len(created) == 1


def test_a_missing_klass_makes_the_route_inactive_until_setup_then_replay_adds_the_card(
        client, runtime, kustomer):
    kustomer.get(KLASSES, json={"data": []})
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    # Not failed: the ticket rule still ran (nothing negative); the card is neither done nor failed.
    assert runtime.processor.process(event_id) == "delivered"
    assert "timeline:timeline" not in actions(runtime, event_id)
    assert "bridge kustomer setup-timeline" in event(runtime, event_id).last_error
    assert calls(kustomer, "GET", CARD_BY_EXT) == []

    kustomer.replace(responses.GET, KLASSES, json=BOTH_KLASSES)
    kustomer.get(CARD_BY_EXT, json=NOT_FOUND, status=404)
    kustomer.post(CREATE_CARD, json=card(), status=201)
    runtime.processor.timeline.catalog.forget()  # as after MISSING_TTL
    from bridge.events import store
    with runtime.db.session() as session:
        store.reset_for_replay(session, [event_id])
    assert runtime.processor.process(event_id) == "delivered"
    assert len(calls(kustomer, "POST", CREATE_CARD)) == 1


def test_a_key_that_may_not_list_klasses_turns_the_route_off_without_failing_the_event(
        client, runtime, kustomer):
    kustomer.get(KLASSES, json={"errors": [{"status": "403"}]}, status=403)
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert "org.permission.klass.read" in event(runtime, event_id).last_error
    assert calls(kustomer, "GET", CARD_BY_EXT) == []


def test_a_delete_marks_the_card_deleted_and_keeps_what_it_showed(client, runtime, kustomer):
    klasses_exist(kustomer)
    kustomer.get(CARD_BY_EXT, json=card("1001"), status=200)
    kustomer.put(UPDATE_CARD, json=card("1005"), status=200)
    event_id = ingest(client, with_sequence(sample("review-delete.json"), 1005))
    assert runtime.processor.process(event_id) == "delivered"
    [update] = bodies(kustomer, "PUT", UPDATE_CARD)
    assert update["title"].startswith("[Deleted in Okendo] ") and "Zip broke" in update["title"]
    assert update["custom"]["statusStr"] == "deleted" and update["custom"]["deletedAt"]
    assert set(update) == {"title", "custom"}  # nothing else is blanked
    assert actions(runtime, event_id)["timeline:timeline"].result["card"] == "marked deleted"


def test_an_event_older_than_the_card_leaves_it_alone(client, runtime, kustomer):
    klasses_exist(kustomer)
    kustomer.get(CARD_BY_EXT, json=card("2000"), status=200)
    kustomer.put(UPDATE_CARD, json=card(), status=200)
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "delivered"
    assert calls(kustomer, "PUT", UPDATE_CARD) == []
    assert "newer" in actions(runtime, event_id)["timeline:timeline"].result["card"]


def test_a_refused_key_makes_the_event_dead_naming_the_roles(client, runtime, kustomer):
    klasses_exist(kustomer)
    kustomer.get(CARD_BY_EXT, json={"errors": [{"status": "403"}]}, status=403)
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "dead"
    assert "org.permission.kobject" in event(runtime, event_id).last_error


def test_a_survey_response_becomes_a_survey_card(client, runtime, kustomer):
    klasses_exist(kustomer)
    kustomer.get(SURVEY_CARD_BY_EXT, json=NOT_FOUND, status=404)
    create = re.compile(B + r"/v1/customers/cus_1/klasses/okendoSurveyResponse")
    kustomer.post(create, json=card(), status=201)
    event_id = ingest(client, sample_bytes("survey_response-create-detractor.json"))
    assert runtime.processor.process(event_id) == "delivered"
    [body] = bodies(kustomer, "POST", create)
    assert body["custom"]["npsScoreNum"] == 3 and body["custom"]["npsCategoryStr"] == "detractor"
    assert "Delivery took 12 days" in body["custom"]["answersTxt"]
    assert body["externalId"] == "okendo-survey_response-e2d1c0b9-a8f7-4e6d-9c5b-4a3b2c1d0e9f"


def test_the_per_customer_create_limit_holds_the_121st_create_back():
    from bridge.timeline.create_limit import PerCustomerCreateLimit

    now = [0.0]
    limit = PerCustomerCreateLimit(clock=lambda: now[0])
    assert all(limit.reserve("cus_1") is None for _ in range(120))
    assert limit.reserve("cus_1") == pytest.approx(60.0)
    assert limit.reserve("cus_2") is None  # per customer
    now[0] = 60.5
    assert limit.reserve("cus_1") is None


def test_a_full_minute_for_the_customer_retries_without_sending_the_create(client, runtime, kustomer):
    no_card_yet(kustomer)
    limit = runtime.processor.timeline.create_limit
    for _ in range(120):
        limit.reserve("cus_1")
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "retrying"
    assert calls(kustomer, "POST", CREATE_CARD) == []
    assert "120 cards" in event(runtime, event_id).last_error


def test_only_inactive_cards_make_the_event_skipped_with_what_to_run(client, runtime, kustomer):
    kustomer.get(KLASSES, json={"data": []})
    payload = sample("survey_response-create-detractor.json")
    payload["topic"] = "update"  # not a ticket event in the fixture mapping: only the card applies
    event_id = ingest(client, json.dumps(payload).encode())
    assert runtime.processor.process(event_id) == "skipped"
    assert "bridge kustomer setup-timeline" in event(runtime, event_id).last_error


# ---------------------------------------------------------------------- setup-timeline

METADATA = re.compile(B + r"/v1/metadata/kobject\.okendo(Review|SurveyResponse)")
CREATE_KLASS = f"{KUSTOMER_BASE}/v1/klasses"


def test_setup_timeline_creates_missing_klasses_and_says_so(runner, kustomer):
    kustomer.get(KLASSES, json={"data": [BOTH_KLASSES["data"][0]]})  # the review klass exists
    kustomer.post(CREATE_KLASS, json={"data": {"type": "klass", "id": "k9"}}, status=201)
    kustomer.put(METADATA, json={"data": {}})
    result = runner.invoke("kustomer", "setup-timeline")
    assert result.exit_code == 0, result.output
    assert "found    klass okendoReview" in result.output
    assert "created  klass okendoSurveyResponse" in result.output
    [created] = bodies(kustomer, "POST", CREATE_KLASS)
    assert created["name"] == "okendoSurveyResponse" and created["icon"] and created["color"]
    assert created["displayName"] == "Okendo survey response"
    metadata = bodies(kustomer, "PUT", METADATA)
    assert any("npsScoreNum" in m["properties"] for m in metadata)


def test_setup_timeline_run_twice_creates_nothing_the_second_time(runner, kustomer):
    klasses_exist(kustomer)
    kustomer.put(METADATA, json={"data": {}})
    result = runner.invoke("kustomer", "setup-timeline")
    assert result.exit_code == 0, result.output
    assert calls(kustomer, "POST", CREATE_KLASS) == []
    assert result.output.count("found    klass") == 2


def test_setup_timeline_names_the_missing_role_and_the_manual_steps(runner, kustomer):
    kustomer.get(KLASSES, json={"data": []})
    kustomer.post(CREATE_KLASS, json={"errors": [{"status": "403"}]}, status=403)
    result = runner.invoke("kustomer", "setup-timeline")
    assert result.exit_code == 1
    assert "org.permission.klass.create" in result.output
    assert "by hand" in result.output and "ratingNum" in result.output
    assert "test-kustomer-key" not in result.output


def test_setup_timeline_without_the_metadata_role_still_succeeds_with_a_note(runner, kustomer):
    klasses_exist(kustomer)
    kustomer.put(METADATA, json={"errors": [{"status": "403"}]}, status=403)
    result = runner.invoke("kustomer", "setup-timeline")
    assert result.exit_code == 0, result.output
    assert "org.permission.metadata.update" in result.output


# ---------------------------------------------------------------------- the mapping


def test_a_timeline_route_refuses_hook_keys_and_other_resource_types(tmp_path):
    from bridge.mapping import MappingError, load_mapping_text

    text = ("version: 1\nroutes:\n  - name: cards\n    action: timeline\n"
            "    events: [review.create, loyalty_customer.create]\n    url: https://x.example/h\n")
    with pytest.raises(MappingError) as error:
        load_mapping_text(text, env={})
    message = str(error.value)
    assert "takes no 'url'" in message and "loyalty_customer.create" in message
    assert ":6:" in message  # the url line


def test_a_hook_route_still_needs_its_url_and_body():
    from bridge.mapping import MappingError, load_mapping_text

    with pytest.raises(MappingError) as error:
        load_mapping_text("version: 1\nroutes:\n  - name: r\n    events: [review.create]\n", env={})
    assert "'url' is required" in str(error.value) and "'body' is required" in str(error.value)


def test_the_console_event_page_shows_the_card_and_a_link_into_kustomer(client, runtime, kustomer):
    from tests.unit.test_admin import basic

    no_card_yet(kustomer)
    event_id = ingest(client, sample_bytes("review-create-positive.json"))
    assert runtime.processor.process(event_id) == "delivered"
    page = client.get(f"/admin/events/{event_id}", headers=basic()).get_data(as_text=True)
    assert "Timeline card" in page and "card_1" in page
    assert 'href="https://acme.kustomerapp.com/app/customers/cus_1"' in page


# ---------------------------------------------------------------------- the emulator

@pytest.fixture
def emulator():
    from bridge.devtools.emulator.app import create_emulator_app

    return create_emulator_app().test_client()


EMULATOR_AUTH = {"Authorization": "Bearer emulator-key"}


def test_the_emulator_keeps_one_card_per_external_id_and_lists_cards_per_customer(emulator):
    assert emulator.post("/v1/klasses", json={"name": "okendoReview"}, headers=EMULATOR_AUTH).status_code == 201
    assert emulator.post("/v1/klasses", json={"name": "okendoReview"}, headers=EMULATOR_AUTH).status_code == 409
    customer = emulator.post("/v1/customers", json={"emails": [{"email": "a@example.com"}]},
                             headers=EMULATOR_AUTH).json["data"]["id"]
    path = f"/v1/customers/{customer}/klasses/okendoReview"
    first = emulator.post(path, json={"title": "t", "externalId": "e1", "custom": {"ratingNum": 2}},
                          headers=EMULATOR_AUTH)
    assert first.status_code == 201
    assert emulator.post(path, json={"title": "t", "externalId": "e1"}, headers=EMULATOR_AUTH).status_code == 409
    card_id = first.json["data"]["id"]
    updated = emulator.put(f"/v1/klasses/okendoReview/{card_id}", json={"custom": {"statusStr": "deleted"}},
                           headers=EMULATOR_AUTH).json["data"]
    assert updated["attributes"]["custom"] == {"ratingNum": 2, "statusStr": "deleted"}
    found = emulator.get("/v1/klasses/okendoReview/externalId=e1", headers=EMULATOR_AUTH)
    assert found.json["data"]["id"] == card_id
    assert emulator.get("/v1/klasses/okendoReview/externalId=nope", headers=EMULATOR_AUTH).status_code == 404
    [card] = emulator.get("/__emulator/received").json["cards"][customer]
    assert card["attributes"]["rev"] == 2


def test_the_emulator_holds_cards_to_the_contract_and_the_per_customer_limit(emulator):
    emulator.post("/v1/klasses", json={"name": "okendoReview"}, headers=EMULATOR_AUTH)
    emulator.post("/__emulator/config", json={"customer_create_limit_per_minute": 2})
    customer = emulator.post("/v1/customers", json={"emails": [{"email": "a@example.com"}]},
                             headers=EMULATOR_AUTH).json["data"]["id"]
    path = f"/v1/customers/{customer}/klasses/okendoReview"
    refused = emulator.post(path, json={"title": "t", "custom": {"rating": 2}}, headers=EMULATOR_AUTH)
    assert refused.status_code == 400 and "type suffix" in refused.json["errors"][0]["detail"]
    assert [emulator.post(path, json={"title": str(n)}, headers=EMULATOR_AUTH).status_code
            for n in range(3)] == [201, 201, 429]
    emulator.post("/__emulator/config", json={"roles": ["org.permission.kobject.read"]})
    assert emulator.post("/v1/klasses", json={"name": "x"}, headers=EMULATOR_AUTH).status_code == 403


def test_the_console_page_creates_the_card_types_and_shows_the_report(client, kustomer):
    from tests.unit.test_admin import basic

    page = client.get("/admin/kustomer/timeline", headers=basic())
    assert page.status_code == 200 and "Create the card types in Kustomer" in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    kustomer.get(KLASSES, json={"data": []})
    kustomer.post(CREATE_KLASS, json={"data": {"type": "klass", "id": "k1"}}, status=201)
    kustomer.put(METADATA, json={"data": {}})
    result = client.post("/admin/kustomer/timeline", data={"csrf_token": token}, headers=basic())
    text = result.get_data(as_text=True)
    assert result.status_code == 200 and "created  klass okendoReview" in text
    assert "created  klass okendoSurveyResponse" in text and "ready" in text
    assert "test-kustomer-key" not in text


def test_kustomer_check_names_the_roles_timeline_cards_lack_and_accepts_legacy_ones():
    from bridge.kustomer.check import check
    from bridge.mapping import KustomerTarget
    from tests.unit.test_kustomer_check import ALL_ROLES, clients

    base = "https://acme.api.kustomerapp.com"
    target = KustomerTarget(api_key="k", api_base=base)
    without = check(target, [], False, clients({base: ALL_ROLES}), timeline_enabled=True)
    assert any(f.ok is None and "org.permission.kobject.create" in f.message for f in without)
    legacy = ALL_ROLES + ["org.user.klass.read", "org.user.kobject.read", "org.user.kobject.write"]
    with_legacy = check(target, [], False, clients({base: legacy}), timeline_enabled=True)
    assert any(f.ok and "timeline cards need" in f.message for f in with_legacy)


def test_the_console_playground_shows_the_card_a_review_would_get(client):
    from tests.unit.test_admin import basic

    page = client.get("/admin/playground", headers=basic())
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    result = client.post("/admin/playground", headers=basic(), data={
        "csrf_token": token, "payload": sample_bytes("review-create-negative.json").decode()})
    text = result.get_data(as_text=True)
    assert "Timeline card" in text and f"okendo-review-{REVIEW_ID}" in text and "ratingNum" in text


def test_the_setup_page_offers_the_timeline_button(client):
    from tests.unit.test_admin import basic

    page = client.get("/admin/setup", headers=basic()).get_data(as_text=True)
    assert 'action="/admin/kustomer/timeline"' in page and "Create the card types in Kustomer" in page


def test_the_common_settings_form_turns_timeline_cards_off_and_on_keeping_comments():
    from bridge.mapping import load_mapping_text
    from bridge.mapping.form import apply_settings, read_settings

    shipped = (os.path.join(os.path.dirname(__file__), "..", "..", "config", "mapping.yaml"))
    text = open(shipped, encoding="utf-8").read()
    assert read_settings(text).timeline is True
    settings = read_settings(text)
    settings.timeline = False
    off = apply_settings(text, settings)
    env = {"KUSTOMER_API_KEY": "k", "KUSTOMER_API_BASE": KUSTOMER_BASE}
    assert all(route.is_hook for route in load_mapping_text(off, env=env).routes)
    assert "# TIMELINE CARDS" in off and read_settings(off).timeline is False
    settings.timeline = True
    on = apply_settings(off, settings)
    assert [r.name for r in load_mapping_text(on, env=env).routes if not r.is_hook] == ["timeline"]
    settings.timeline = None
    assert apply_settings(on, settings) == on  # untouched when the box was not on the form


def test_the_catalog_says_off_without_asking_only_while_its_missing_answer_is_fresh():
    """`known_off` (what lets the processor keep a hook's outcome for the final write) never
    asks Kustomer, and says "off" only from a look-up younger than MISSING_TTL."""
    from types import SimpleNamespace

    from bridge.timeline import catalog as catalog_module

    now = [0.0]
    catalog = catalog_module.KlassCatalog(clock=lambda: now[0])
    client = SimpleNamespace(api_base="https://example.invalid")
    assert not catalog.known_off(client, "okendo_review")  # never looked up: a call may follow
    with catalog._lock:
        catalog._known[(client.api_base, id(client))] = (set(), now[0], None)
    assert catalog.known_off(client, "okendo_review")
    now[0] += catalog_module.MISSING_TTL
    assert not catalog.known_off(client, "okendo_review")  # stale: why_not would look again
    with catalog._lock:
        catalog._known[(client.api_base, id(client))] = ({"okendo_review"}, now[0], None)
    assert not catalog.known_off(client, "okendo_review")  # it exists: cards are made
