"""Ticket rendering: the sandbox, fallbacks at delivery time, limits, attribute types."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from jinja2.exceptions import SecurityError

from bridge.mapping import TicketDecision, load_mapping, render_ticket
from bridge.mapping.envsubst import EnvReferenceError, substitute
from bridge.mapping.model import ConversationSettings, TicketSettings
from bridge.mapping.templates import render_template, stars, template_context
from bridge.mapping.ticket import NOTE_LIMIT, convert_custom, truncate_note
from bridge.okendo.schemas import validate_event
from tests.hypothesis_profiles import examples

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "samples" / "okendo"
NEGATIVE = TicketDecision(True, True, "rating 1 is at most 2")


def event(name: str):
    return validate_event(json.loads((SAMPLES / f"{name}.json").read_text()))


def settings_with(**conversation) -> TicketSettings:
    return TicketSettings(enabled=True, events=("review.*",),
                          conversation=ConversationSettings(**conversation))


# ------------------------------------------------------------------ default note


def test_default_note_shows_what_an_agent_needs_for_a_review():
    shipped = load_mapping(ROOT / "tests" / "mappings" / "default.yaml", {})
    ticket = render_ticket(shipped.tickets, event("review-update-negative"), NEGATIVE)
    assert ticket.warnings == ()
    assert ticket.subject == "1★ review of Trail Runner 2 Jacket by Priya Raman"
    note = ticket.note
    for fact in ["review.update", "rating 1 is at most 2", "★☆☆☆☆ 1/5", "Zip broke in a week",
                 "still no reply from support", "Trail Runner 2 Jacket / Olive / M", "#4417",
                 "Priya Raman <priya.raman@example.com>", "Verified Buyer",
                 "https://cdn.example.com/r/zip-full.jpg", "Review status: approved",
                 "Store reply: Sorry Priya, we've emailed you.",
                 "0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10"]:
        assert fact in note, fact
    assert (ticket.priority, ticket.status, ticket.tags) == (4, "open", ("okendo", "negative-feedback"))


def test_default_note_lists_each_survey_question_with_its_answer():
    shipped = load_mapping(ROOT / "tests" / "mappings" / "default.yaml", {})
    decision = TicketDecision(True, True, "NPS category 'detractor' (score 3) is in [detractor]")
    ticket = render_ticket(shipped.tickets, event("survey_response-create-detractor"), decision)
    assert ticket.subject == "NPS detractor (3/10) on Post-purchase from sam.lee@example.com"
    assert ("1. How likely are you to recommend us to a friend?\n   3 [detractor]\n"
            "2. What could we do better?\n   Delivery took 12 days and the box was crushed.\n"
            "3. Where did you hear about us?\n   Instagram, A friend") in ticket.note
    assert "NPS category 'detractor'" in ticket.note
    assert "sam.lee@example.com" in ticket.note and "5521338888888" in ticket.note


def test_default_note_survives_a_reduced_delete():
    ticket = render_ticket(settings_with(), event("review-delete"),
                           TicketDecision(True, False, "not negative: no rating"))
    assert ticket.warnings == ()
    # A delete carries no rating, title or reviewer: the note says so instead of "(none)/5".
    assert "(none)/5" not in ticket.note and "(no title)" not in ticket.note
    assert "The review was deleted in Okendo" in ticket.note
    assert "Review ID: 0b6e5f9a-5d0e-4d7b-8f53-2f1c8e3a9d10" in ticket.note
    assert ticket.subject == "review"


# -------------------------------------------------------- fallbacks at delivery time


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ review.title.split(1) }}",
    "{{ review.rating + undefined_name }}",
    "{% if %}",  # does not even compile
])
def test_a_failing_note_falls_back_to_the_default_with_a_warning(template):
    validated = event("review-create-negative")
    ticket = render_ticket(settings_with(note=template), validated, NEGATIVE)
    expected = render_ticket(settings_with(), validated, NEGATIVE).note
    assert ticket.note == expected
    assert len(ticket.warnings) == 1
    assert ticket.warnings[0].startswith("the note template failed (")
    assert ticket.warnings[0].endswith("the built-in default was used")


def test_escape_attempt_raises_security_error_in_the_sandbox():
    validated = event("review-create-negative")
    context = template_context(validated)
    with pytest.raises(SecurityError):
        render_template("{{ ''.__class__.__mro__ }}", context)
    with pytest.raises(SecurityError):
        render_template("{{ cycler.__init__.__globals__ }}", context)
    with pytest.raises(SecurityError):
        render_template("{{ resource.update({'rating': 5}) }}", context)
    assert validated.resource["rating"] == 1


def test_an_empty_subject_falls_back():
    ticket = render_ticket(settings_with(subject="{{ '' }}  "), event("review-create-negative"), NEGATIVE)
    assert ticket.subject == "1★ review of Trail Runner 2 Jacket by Priya Raman"
    assert ticket.warnings[0].startswith("the subject template failed (ValueError: it renders empty)")


def test_a_custom_attribute_that_fails_is_left_out_with_a_warning():
    ticket = render_ticket(
        settings_with(custom={"okendoRatingNum": "{{ review.rating }}",
                              "okendoTitleNum": "{{ review.title }}",
                              "okendoLinkUrl": "{{ media[0].url }}"}),
        event("review-create-negative"), NEGATIVE)
    assert ticket.custom == {"okendoRatingNum": 1,
                             "okendoLinkUrl": "https://cdn.example.com/r/zip-full.jpg"}
    assert ticket.warnings == ("the custom.okendoTitleNum template failed (ValueError:"
                               " 'Zip broke in a week' is not a number); the attribute was left out",)


def test_a_str_attribute_over_1024_characters_is_cut_and_the_cut_recorded():
    ticket = render_ticket(settings_with(custom={"okendoBodyStr": "{{ 'x' * 3000 }}", "okendoRatingNum": "1"}),
                           event("review-create-negative"), NEGATIVE)
    assert len(ticket.custom["okendoBodyStr"]) == 1024 and ticket.custom["okendoBodyStr"].endswith("…")
    assert ticket.cut == ("custom.okendoBodyStr cut to 1,024 of 3,000 characters (Kustomer's limit for Str/Txt "
                          "attributes)",)
    assert ticket.warnings == ()


@settings(max_examples=examples(200), deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}%#()[]._'\"|+-*/ abcxyz_review.title0123")),
               max_size=60))
def test_render_ticket_never_raises_whatever_the_template(template):
    ticket = render_ticket(settings_with(subject=template, note=template,
                                         custom={"xStr": template, "yNum": template}),
                           event("review-create-negative"), NEGATIVE)
    assert ticket.subject and ticket.note
    assert len(ticket.note) <= NOTE_LIMIT


# ------------------------------------------------------------------------- limits


def test_note_is_cut_to_kustomers_limit_with_a_marker():
    long_body = "x" * 20_000
    validated = event("review-create-negative")
    validated = dataclasses.replace(validated, resource={**validated.resource, "body": long_body})
    note = render_ticket(settings_with(), validated, NEGATIVE).note
    assert len(note) == NOTE_LIMIT
    assert note.endswith("characters left out]")
    assert "note cut to Kustomer's 10,240 character limit" in note
    assert truncate_note("short") == "short"


@pytest.mark.parametrize("name, value, expected", [
    ("aNum", "3", 3), ("aNum", " 2.5 ", 2.5), ("aNum", "", None), ("aNum", 4, 4),
    ("aBool", "True", True), ("aBool", "no", False), ("aBool", False, False),
    ("aStr", "  hi ", "hi"), ("aStr", "", None),
    ("aTxt", "y" * 2000, "y" * 1023 + "…"), ("aStr", "s" * 1025, "s" * 1023 + "…"), ("aStr", "s" * 1024, "s" * 1024),
    ("aAt", "2026-11-02T09:14:03.221Z", "2026-11-02T09:14:03.221Z"),
    ("aUrl", "https://x.example/a", "https://x.example/a"),
])
def test_custom_values_convert_to_their_suffix_type(name, value, expected):
    assert convert_custom(name, value) == expected


@pytest.mark.parametrize("name, value", [
    ("aNum", "many"), ("aBool", "maybe"), ("aAt", "yesterday"), ("aUrl", "javascript:alert(1)")])
def test_custom_values_of_the_wrong_type_are_refused(name, value):
    with pytest.raises(ValueError):
        convert_custom(name, value)


def test_stars():
    assert stars(2) == "★★☆☆☆"
    assert stars(None) == "" and stars("5") == "" and stars(True) == ""
    assert stars(9) == "★★★★★"


# ------------------------------------------------------------------- ${ENV} syntax


def test_substitute_rules():
    env = {"A": "1", "EMPTY": ""}
    assert substitute("x${A}y", env).value == "x1y"
    assert substitute("${B:-fallback}", env).value == "fallback"
    assert substitute("${EMPTY:-fallback}", env).value == "fallback"
    assert substitute("${B:-}", env).value == ""
    missing = substitute("${B}/${C}/${B}", env)
    assert missing.value is None and missing.missing == ("B", "C")
    assert substitute("$${A} costs $5", env).value == "${A} costs $5"
    for bad in ["${}", "${not a name}", "${A", "${1A}"]:
        with pytest.raises(EnvReferenceError):
            substitute(bad, env)

