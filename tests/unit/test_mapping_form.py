"""The common-settings form: reads the tickets section, writes it back with comments kept."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from bridge.mapping import load_mapping_text
from bridge.mapping.form import CommonSettings, FormError, apply_settings, read_settings, settings_from_form
from bridge.mapping.impact import MAX_EVENTS, clamp

FIXTURE = Path(__file__).resolve().parents[1] / "mappings" / "default.yaml"

MINIMAL = textwrap.dedent("""\
    version: 1  # the format
    routes:
      - name: reviews   # posts reviews
        events: [review.create]
        url: https://acme.api.kustomerapp.com/v1/hooks/web/abc
        body: native-review
    """)


def test_a_mapping_without_tickets_gets_a_tickets_section_and_keeps_its_comments():
    text = apply_settings(MINIMAL, CommonSettings(rating_at_most=1, keywords=["refund"], priority=5,
                                                  tags=["okendo"]))
    assert text.startswith(MINIMAL)  # everything before is untouched, comments included
    mapping = load_mapping_text(text, "m.yaml", {})
    assert mapping.tickets.events == ("review.create", "review.update", "review.delete", "survey_response.create")
    assert mapping.tickets.negative.rating_at_most == 1
    assert mapping.tickets.negative.keywords == ("refund",)
    assert mapping.tickets.conversation.priority == 5 and mapping.tickets.conversation.tags == ("okendo",)


def test_an_empty_rating_turns_the_rating_clause_off_and_unchanged_lists_keep_their_text():
    original = FIXTURE.read_text()
    values = read_settings(original)
    values.rating_at_most = None
    text = apply_settings(original, values)
    assert "\n    rating_at_most:" not in text and "\n    rating_at_most: 2\n" in original
    assert "    sentiments: [negative]\n" in text
    assert load_mapping_text(text, "m.yaml", {}).tickets.negative.rating_at_most is None
    values.rating_at_most = 2
    assert read_settings(apply_settings(text, values)) == read_settings(original)


def test_form_values_are_parsed_and_bad_ones_name_their_field():
    form = MultiDict([("rating_at_most", " 3 "), ("sentiments", "negative"), ("sentiments", "evil"),
                      ("keywords", "refund, not happy\nbroken"), ("priority", ""), ("tags", ""),
                      ("queue_id", "  ")])
    values = settings_from_form(form)
    assert values.rating_at_most == 3 and values.sentiments == ["negative"]
    assert values.keywords == ["refund", "not happy", "broken"]
    assert values.priority is None and values.queue_id is None
    with pytest.raises(FormError, match="Priority: 'high' is not a whole number"):
        settings_from_form(MultiDict([("priority", "high")]))


@pytest.mark.parametrize("text", ["routes: [\n", "- a list\n", "tickets: [1, 2]\n"])
def test_a_text_the_form_cannot_edit_says_to_use_the_editor(text):
    with pytest.raises(FormError, match="editor"):
        apply_settings(text, CommonSettings())


def test_the_impact_preview_reads_at_most_1000_events():
    assert (clamp("5000"), clamp("0"), clamp("abc"), clamp(None), clamp(50)) == (MAX_EVENTS, 1, 200, 200, 50)
