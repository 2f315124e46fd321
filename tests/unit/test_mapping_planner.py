"""What each sample event causes under a mapping: hooks, skipped routes, ticket decision."""

from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import pytest

from bridge.mapping import load_mapping, load_mapping_text, plan_event
from bridge.okendo.schemas import validate_event

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "samples" / "okendo"
SHIPPED = ROOT / "tests" / "mappings" / "default.yaml"  # the fixture copy, not config/
STORE = "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21"
OTHER_STORE = "9b1d7c44-2f6e-4a8b-b3c5-0d1e2f3a4b5c"
REVIEW_HOOK = "https://acme.api.kustomerapp.com/v1/hooks/web/reviews"
SURVEY_HOOK = "https://acme.api.kustomerapp.com/v1/hooks/web/surveys"
ENV = {"KUSTOMER_REVIEW_HOOK_URL": REVIEW_HOOK, "KUSTOMER_SURVEY_HOOK_URL": SURVEY_HOOK,
       "KUSTOMER_API_KEY": "default-key", "KUSTOMER_API_BASE": "https://acme.api.kustomerapp.com"}


def payload(name: str, **resource_changes) -> dict:
    data = json.loads((SAMPLES / f"{name}.json").read_text())
    data["resource"].update(resource_changes)
    return data


def event(name: str, **resource_changes):
    return validate_event(payload(name, **resource_changes))


@pytest.fixture(scope="module")
def shipped():
    return load_mapping(SHIPPED, ENV)


def mapping_of(text: str, env=ENV):
    return load_mapping_text(textwrap.dedent(text).lstrip("\n"), "m.yaml", env)


# ------------------------------------------------------------- the shipped mapping


def test_negative_review_goes_to_the_review_hook_and_opens_a_ticket(shipped):
    plan = plan_event(shipped, event("review-create-negative"))
    assert plan.event == "review.create"
    [hook] = plan.hooks
    assert (hook.key, hook.route, hook.url, hook.problem) == ("hook:reviews", "reviews", REVIEW_HOOK, None)
    assert hook.body["reviewerEmail"] == "priya.raman@example.com"
    assert hook.body["review"]["rating"] == 1
    assert plan.skipped_routes == [
        ("surveys", "event not listed: review.create is not in"
                    " [survey_response.create, survey_response.update]")]
    assert plan.ticket.wanted and plan.ticket.negative
    assert plan.ticket.clause == "rating 1 is at most 2"
    assert plan.settings.conversation.priority == 4
    assert plan.kustomer.api_key == "default-key"


def test_negative_review_update_is_negative_too(shipped):
    plan = plan_event(shipped, event("review-update-negative"))
    assert [hook.key for hook in plan.hooks] == ["hook:reviews"]
    assert plan.ticket.negative and plan.ticket.clause == "rating 1 is at most 2"


def test_negative_by_sentiment_when_the_rating_is_fine(shipped):
    plan = plan_event(shipped, event("review-create-negative", rating=4))
    assert plan.ticket.negative
    assert plan.ticket.clause == "sentiment 'negative' is in [negative]"


def test_positive_review_is_relayed_but_not_negative(shipped):
    plan = plan_event(shipped, event("review-create-positive"))
    assert [hook.key for hook in plan.hooks] == ["hook:reviews"]
    assert plan.ticket.wanted and not plan.ticket.negative
    assert plan.ticket.clause == "not negative: rating 5 > 2, sentiment 'positive' not in [negative]"


def test_deleted_review_is_relayed_and_has_no_rating(shipped):
    plan = plan_event(shipped, event("review-delete"))
    assert [hook.key for hook in plan.hooks] == ["hook:reviews"]
    assert plan.ticket.wanted and not plan.ticket.negative
    assert plan.ticket.clause == "not negative: no rating, no sentiment"


def test_detractor_survey_goes_to_the_survey_hook_and_is_negative(shipped):
    plan = plan_event(shipped, event("survey_response-create-detractor"))
    [hook] = plan.hooks
    assert (hook.key, hook.url) == ("hook:surveys", SURVEY_HOOK)
    assert hook.body["npsCategory"] == "detractor"
    assert plan.skipped_routes == [
        ("reviews", "event not listed: survey_response.create is not in"
                    " [review.create, review.update, review.delete]")]
    assert plan.ticket.negative
    assert plan.ticket.clause == "NPS category 'detractor' (score 3) is in [detractor]"


def test_survey_update_is_relayed_but_tickets_are_not_configured_for_it(shipped):
    data = payload("survey_response-create-detractor")
    data["topic"] = "update"
    plan = plan_event(shipped, validate_event(data))
    assert [hook.key for hook in plan.hooks] == ["hook:surveys"]
    assert not plan.ticket.wanted and not plan.ticket.negative
    assert plan.ticket.clause == "tickets are not configured for survey_response.update"


@pytest.mark.parametrize("name", ["quiz_response-create", "loyalty_adjustment_transaction-create"])
def test_unrouted_types_cause_nothing_and_say_why(shipped, name):
    plan = plan_event(shipped, event(name))
    assert plan.hooks == []
    assert [route for route, _ in plan.skipped_routes] == ["reviews", "surveys"]
    assert all(why.startswith("event not listed: ") for _, why in plan.skipped_routes)
    assert not plan.ticket.wanted


def test_unset_hook_url_is_planned_with_a_problem_not_dropped():
    mapping = load_mapping(SHIPPED, {})
    [hook] = plan_event(mapping, event("review-create-negative")).hooks
    assert hook.url is None
    assert hook.problem == "KUSTOMER_REVIEW_HOOK_URL is not set"
    assert hook.body["reviewerEmail"] == "priya.raman@example.com"  # preview still shows it
    assert plan_event(mapping, event("review-create-negative")).kustomer.missing_env == (
        "KUSTOMER_API_KEY", "KUSTOMER_API_BASE")


# -------------------------------------------------------------------------- filters

FILTERED = """
    version: 1
    routes:
      - name: low
        events: [review.create]
        url: https://x.example/low
        body: native-review
        when: "{when}"
"""


def test_filter_true_sends_and_filter_false_skips():
    mapping = mapping_of(FILTERED.format(when="rating <= 2"))
    assert [hook.key for hook in plan_event(mapping, event("review-create-negative")).hooks] == ["hook:low"]
    plan = plan_event(mapping, event("review-create-positive"))
    assert plan.hooks == []
    assert plan.skipped_routes == [("low", "filter false: rating <= 2")]


def test_filter_can_use_event_and_nested_fields():
    mapping = mapping_of(FILTERED.format(
        when="event.topic == 'create' and order.orderNumber == '#4417' and 'zip' in title|lower"))
    assert len(plan_event(mapping, event("review-create-negative")).hooks) == 1
    assert plan_event(mapping, event("review-create-positive")).hooks == []


def test_filter_error_at_delivery_time_is_a_problem_not_a_skip():
    # Passes the sample check (both review.create samples have a title) but a review
    # without one makes it fail: the hook is planned with the error, so the event goes
    # dead with a message instead of silently missing its hook.
    mapping = mapping_of(FILTERED.format(when="title.startswith('Zip')"))
    plan = plan_event(mapping, event("review-create-negative", title=None))
    [hook] = plan.hooks
    assert hook.key == "hook:low"
    assert hook.problem.startswith("filter error in route 'low' (title.startswith('Zip')): ")
    assert "UndefinedError" in hook.problem
    assert plan.skipped_routes == []


def test_store_not_listed_is_skipped():
    mapping = mapping_of(f"""
        version: 1
        routes:
          - name: other
            events: [review.*]
            url: https://x.example/o
            body: passthrough
            stores: ["{OTHER_STORE}"]
    """)
    plan = plan_event(mapping, event("review-create-negative"))
    assert plan.hooks == []
    assert plan.skipped_routes == [("other", f"store not listed: store {STORE} is not in [{OTHER_STORE}]")]


def test_rename_and_extra_shape_the_body_without_touching_the_event():
    mapping = mapping_of("""
        version: 1
        routes:
          - name: r
            events: [review.create]
            url: https://x.example/r
            body: native-review
            rename: {reviewerEmail: email, orderId: order}
            extra: {source: okendo-bridge, order: "overridden", nested: {a: [1]}}
    """)
    validated = event("review-create-negative")
    before = copy.deepcopy(validated.resource)
    [hook] = plan_event(mapping, validated).hooks
    assert "reviewerEmail" not in hook.body and hook.body["email"] == "priya.raman@example.com"
    assert hook.body["order"] == "overridden"  # extra comes last and wins
    assert hook.body["source"] == "okendo-bridge"
    hook.body["nested"]["a"].append(2)
    assert mapping.routes[0].extra["nested"] == {"a": [1]}  # each body has its own copy
    assert validated.resource == before


# -------------------------------------------------------------------- ticket rules

RULES = """
    version: 1
    tickets:
      events: [review.*, survey_response.create]
      negative:
        rating_at_most: 2
        profanity: true
        keywords: [refund, "never again"]
    stores:
      "{store}":
        name: Acme
        kustomer: {{api_key: "${{ACME_KEY}}", api_base: "https://acme-eu.api.kustomerapp.com/"}}
        tickets:
          negative: {{rating_at_most: 3}}
          conversation: {{priority: 5, tags: [acme]}}
"""


@pytest.fixture()
def rules():
    return mapping_of(RULES.format(store=STORE), env={"ACME_KEY": "acme-key"})


def test_per_store_override_changes_the_rule_and_the_target(rules):
    plan = plan_event(rules, event("review-create-positive", rating=3))
    assert plan.ticket.negative and plan.ticket.clause == "rating 3 is at most 3"
    assert plan.settings.conversation.priority == 5
    assert plan.settings.conversation.tags == ("acme",)
    assert plan.settings.negative.keywords == ("refund", "never again")  # inherited
    assert plan.kustomer.api_key == "acme-key"
    assert plan.kustomer.api_base == "https://acme-eu.api.kustomerapp.com"
    assert plan.store_name == "Acme"


def test_other_stores_use_the_global_rule(rules):
    data = payload("review-create-positive", rating=3, subscriberId=OTHER_STORE)
    plan = plan_event(rules, validate_event(data))
    assert not plan.ticket.negative
    assert plan.ticket.clause == "not negative: rating 3 > 2, no profanity, no keyword of [refund, never again]"
    assert plan.settings.conversation.priority == 3  # the default
    assert plan.kustomer.api_key is None  # no KUSTOMER_API_KEY in this env
    assert plan.store_name is None


def test_profanity_clause(rules):
    data = payload("review-create-positive", containsProfanity=True, subscriberId=OTHER_STORE)
    assert plan_event(rules, validate_event(data)).ticket.clause == "the review contains profanity"


def test_keyword_clause_is_case_insensitive_and_whole_word(rules):
    data = payload("review-create-positive", subscriberId=OTHER_STORE,
                   body="I want a REFUND. Never  again? no: Never again!")
    assert plan_event(rules, validate_event(data)).ticket.clause == "keyword 'refund' in body"
    data = payload("review-create-positive", subscriberId=OTHER_STORE, body="refunded quickly")
    assert not plan_event(rules, validate_event(data)).ticket.negative


def test_keyword_in_a_survey_answer(rules):
    data = payload("survey_response-create-detractor", subscriberId=OTHER_STORE)
    data["resource"]["answeredQuestions"][1]["answer"]["value"] = "Never again, honestly."
    plan = plan_event(rules, validate_event(data))
    assert plan.ticket.clause == "keyword 'never again' in the answer to 'What could we do better?'"


def test_tickets_can_be_disabled_for_one_store():
    mapping = mapping_of(f"""
        version: 1
        tickets:
          events: [review.create]
          negative: {{rating_at_most: 2}}
        stores:
          "{STORE}":
            tickets: {{enabled: false}}
    """)
    plan = plan_event(mapping, event("review-create-negative"))
    assert not plan.ticket.wanted
    assert plan.ticket.clause == f"tickets are disabled (stores.{STORE}.tickets.enabled is false)"


def test_no_tickets_section():
    mapping = mapping_of("version: 1\n")
    plan = plan_event(mapping, event("review-create-negative"))
    assert plan.hooks == [] and plan.skipped_routes == []
    assert not plan.ticket.wanted
    assert plan.ticket.clause == "tickets are not configured (no tickets section)"


def test_nps_category_is_derived_from_the_score_when_okendo_leaves_it_out():
    mapping = mapping_of("""
        version: 1
        tickets:
          events: [survey_response.create]
          negative: {nps_categories: [detractor, passive]}
    """)
    data = payload("survey_response-create-detractor")
    del data["resource"]["answeredQuestions"][0]["answerNpsCategory"]
    data["resource"]["answeredQuestions"][0]["answer"] = {"type": "number", "value": 7}
    plan = plan_event(mapping, validate_event(data))
    assert plan.ticket.clause == "NPS category 'passive' (score 7) is in [detractor, passive]"
