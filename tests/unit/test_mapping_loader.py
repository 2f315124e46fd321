"""Loading and checking mapping files: every problem is reported as file:line:col."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bridge.mapping import MappingError, check_config, load_mapping, load_mapping_text
from bridge.mapping.samples import bundled_samples
from bridge.mapping.templates import DEFAULT_NOTE, DEFAULT_SUBJECT, render_template, template_context

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "tests" / "mappings" / "default.yaml"  # the fixture copy, not config/
MULTI_STORE = ROOT / "config" / "examples" / "multi-store.yaml"
STORE = "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21"
HOOK = "https://acme.api.kustomerapp.com/v1/hooks/web/abc123"


def yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems_of(text: str, env: dict | None = None) -> list[str]:
    with pytest.raises(MappingError) as caught:
        load_mapping_text(yaml(text), "m.yaml", env or {})
    return [str(problem) for problem in caught.value.problems]


GOOD = """
    version: 1
    routes:
      - name: reviews
        events: [review.create, review.update, review.delete]
        url: https://acme.api.kustomerapp.com/v1/hooks/web/abc123
        body: native-review
        when: "rating is none or rating <= 3"
        extra: {source: okendo-bridge}
        rename: {reviewerEmail: email}
      - name: surveys
        events: [survey_response.*]
        url: ${SURVEY_HOOK}
        body: survey
    tickets:
      events: [review.create, survey_response.create]
      negative:
        rating_at_most: 2
        sentiments: [negative]
        nps_categories: [detractor]
      conversation:
        subject: "Bad: {{ review.title if review else survey.surveyName }}"
        priority: 4
        tags: [okendo]
        custom: {okendoRatingNum: "{{ review.rating if review else '' }}", okendoFlagBool: true}
    stores:
      "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21":
        name: Acme
        tickets: {negative: {rating_at_most: 3}, conversation: {priority: 5}}
"""


# ------------------------------------------------------------------------- good files


def test_good_file_loads_into_the_model():
    mapping = load_mapping_text(yaml(GOOD), "m.yaml", {"SURVEY_HOOK": "https://x.example/s"})
    reviews, surveys = mapping.routes
    assert reviews.key == "hook:reviews"
    assert reviews.events == ("review.create", "review.update", "review.delete")
    assert reviews.url == HOOK
    assert reviews.extra == {"source": "okendo-bridge"}
    assert reviews.rename == {"reviewerEmail": "email"}
    assert reviews.stores is None
    assert surveys.url == "https://x.example/s" and surveys.missing_env == ()
    assert mapping.tickets.negative.rating_at_most == 2
    assert mapping.tickets.negative.sentiments == ("negative",)
    assert mapping.tickets.conversation.priority == 4
    assert mapping.tickets.conversation.status == "open"  # default
    assert mapping.tickets.conversation.note == DEFAULT_NOTE  # left out: built-in
    store = mapping.stores[STORE]
    assert store.name == "Acme"
    # deep merge: the override changes only what it names
    assert store.tickets.negative.rating_at_most == 3
    assert store.tickets.negative.sentiments == ("negative",)
    assert store.tickets.conversation.priority == 5
    assert store.tickets.conversation.tags == ("okendo",)
    assert mapping.tickets_for("someone-else") is mapping.tickets


def test_shipped_mapping_is_valid_and_only_warns_about_unset_variables():
    result = check_config(SHIPPED, env={})
    assert result.ok, result.errors
    text = SHIPPED.read_text()
    line = next(number for number, content in enumerate(text.splitlines(), 1)
                if "url: ${KUSTOMER_REVIEW_HOOK_URL}" in content)
    col = text.splitlines()[line - 1].index("${") + 1
    assert (f"{SHIPPED}:{line}:{col}: routes[0].url: ${{KUSTOMER_REVIEW_HOOK_URL}} is not set"
            in result.warnings[0])
    assert any("KUSTOMER_SURVEY_HOOK_URL" in warning for warning in result.warnings)
    mapping = result.mapping
    assert [route.name for route in mapping.routes] == ["reviews", "surveys"]
    assert mapping.routes[0].body == "native-review" and mapping.routes[1].body == "survey"
    assert mapping.tickets.events == ("review.create", "review.update", "review.delete",
                                      "survey_response.create")
    assert mapping.tickets.negative.rating_at_most == 2
    assert mapping.tickets.negative.sentiments == ("negative",)
    assert mapping.tickets.negative.nps_categories == ("detractor",)


def test_shipped_mapping_with_variables_set_has_no_warnings():
    env = {"KUSTOMER_REVIEW_HOOK_URL": HOOK, "KUSTOMER_SURVEY_HOOK_URL": HOOK + "s",
           "KUSTOMER_API_KEY": "key", "KUSTOMER_API_BASE": "https://acme.api.kustomerapp.com/"}
    mapping = load_mapping(SHIPPED, env)
    assert mapping.warnings == ()
    assert mapping.routes[0].url == HOOK
    assert mapping.kustomer.api_key == "key"
    assert mapping.kustomer.api_base == "https://acme.api.kustomerapp.com"


def test_shipped_templates_render_like_the_built_in_fallbacks():
    # The fallback used when an admin's template fails is the shipped one, so an agent
    # sees the same layout either way.
    conversation = load_mapping(SHIPPED, {}).tickets.conversation
    for name, event in bundled_samples().items():
        context = template_context(event, clause="why", negative=True)
        assert render_template(conversation.note, context) == render_template(DEFAULT_NOTE, context), name
        assert (" ".join(render_template(conversation.subject, context).split())
                == " ".join(render_template(DEFAULT_SUBJECT, context).split())), name


def test_multi_store_example_loads_with_two_kustomer_orgs():
    env = {"ACME_KUSTOMER_API_KEY": "acme-key", "ACME_KUSTOMER_API_BASE": "https://acme.api.kustomerapp.com",
           "GLOBEX_KUSTOMER_API_KEY": "globex-key",
           "GLOBEX_KUSTOMER_API_BASE": "https://globex.api.kustomerapp.com"}
    mapping = load_mapping(MULTI_STORE, env)
    acme, globex = mapping.stores.values()
    assert (acme.kustomer.api_key, acme.kustomer.api_base) == ("acme-key", "https://acme.api.kustomerapp.com")
    assert globex.kustomer.api_key == "globex-key"
    assert globex.tickets.negative.rating_at_most == 3
    assert globex.tickets.negative.sentiments == ("negative",)  # inherited
    assert globex.tickets.conversation.priority == 5
    assert "okendoEventStr" not in globex.tickets.conversation.custom  # removed by null
    assert acme.tickets.conversation.tags == ("okendo", "negative-feedback", "acme")
    assert [route.stores for route in mapping.routes] == [
        (acme.subscriber_id,), (acme.subscriber_id,), (globex.subscriber_id,)]


# ---------------------------------------------------------------- positions of errors


def test_bad_body_shape_points_at_the_value():
    assert problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create]
            url: https://x.example/hook
            body: native
    """) == ["m.yaml:6:11: routes[0].body: 'native' is not a body shape;"
             " use one of native-review, passthrough, survey"]


def test_unknown_key_points_at_the_key_and_suggests_the_right_one():
    problems = problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create]
            url: https://x.example/hook
            bdy: native-review
    """)
    assert problems[0] == "m.yaml:3:5: routes[0]: 'body' is required"
    assert problems[1].startswith(
        "m.yaml:6:5: routes[0].bdy: unknown key 'bdy' (did you mean 'body'?); allowed here: name,")


def test_unknown_top_level_key():
    assert problems_of("""
        version: 1
        ticket: {}
    """)[0].startswith("m.yaml:2:1: ticket: unknown key 'ticket' (did you mean 'tickets'?)")


def test_unknown_event_name_points_at_the_list_item():
    problems = problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create, reveiw.update, review.creat]
            url: https://x.example/hook
            body: native-review
    """)
    assert problems[0].startswith("m.yaml:4:29: routes[0].events[1]: 'reveiw.update':"
                                  " unknown resource type 'reveiw' (did you mean 'review'?)")
    assert problems[1].startswith("m.yaml:4:44: routes[0].events[2]: 'review.creat':"
                                  " unknown topic 'creat' (did you mean 'create'?)")


def test_yaml_syntax_error_has_ruamel_position():
    problems = problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create
            url: https://x.example/hook
    """)
    assert problems == ["m.yaml:5:8: YAML syntax error: expected ',' or ']', but got ':'"
                        " (while parsing a flow sequence started at line 4, column 13)"]


def test_duplicate_yaml_key_is_an_error():
    assert problems_of("version: 1\nversion: 1\n")[0].startswith(
        "m.yaml:2:1: YAML syntax error: found duplicate key \"version\"")


def test_duplicate_route_names():
    problems = problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create]
            url: https://x.example/a
            body: native-review
          - name: reviews
            events: [review.update]
            url: https://x.example/b
            body: native-review
    """)
    assert problems == ["m.yaml:7:11: routes[1].name: duplicate route name 'reviews'"
                        " (routes[0] has it already)"]


def test_body_shape_must_fit_the_routes_events():
    problems = problems_of("""
        version: 1
        routes:
          - name: everything
            events: [review.create, survey_response.create]
            url: https://x.example/a
            body: native-review
    """)
    assert problems == ["m.yaml:6:11: routes[0].body: body shape 'native-review' does not apply"
                        " to survey_response.create (it describes review only);"
                        " use passthrough, or split the route"]


def test_filter_syntax_error():
    assert problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create]
            url: https://x.example/a
            body: native-review
            when: "rating <="
    """) == ["m.yaml:7:11: routes[0].when: filter syntax error: unexpected 'end of template'"]


def test_filter_with_a_misspelt_field():
    problems = problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create]
            url: https://x.example/a
            body: native-review
            when: "ratng <= 3"
    """)
    assert problems[0].startswith("m.yaml:7:11: routes[0].when: unknown name 'ratng'"
                                  " (did you mean 'rating'?)")


def test_filter_that_fails_on_a_sample_is_a_config_error():
    # A deleted review has no rating: `rating <= 3` would crash on every delete.
    problems = problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.*]
            url: https://x.example/a
            body: native-review
            when: "rating <= 3"
    """)
    assert problems == ["m.yaml:7:11: routes[0].when: fails on sample review-delete: TypeError:"
                        " '<=' not supported between instances of 'NoneType' and 'int'"]


def test_rename_of_a_key_the_body_does_not_have():
    problems = problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create]
            url: https://x.example/a
            body: native-review
            rename: {reviewerEmial: email}
    """)
    assert problems[0].startswith("m.yaml:7:14: routes[0].rename.reviewerEmial: 'reviewerEmial'"
                                  " is not a top-level key of the native-review body")


def test_template_syntax_error_points_at_the_template_line():
    problems = problems_of("""
        version: 1
        tickets:
          events: [review.create]
          negative: {rating_at_most: 2}
          conversation:
            note: |
              Hello
              {{ review.title
              bye
    """)
    assert problems == ["m.yaml:9:7: tickets.conversation.note: template syntax error"
                        " (template line 3): expected token 'end of print statement', got 'bye'"]


def test_template_with_a_misspelt_name():
    problems = problems_of("""
        version: 1
        tickets:
          events: [review.create]
          negative: {rating_at_most: 2}
          conversation:
            subject: "{{ reveiw.title }}"
    """)
    assert problems[0].startswith("m.yaml:6:14: tickets.conversation.subject: unknown name"
                                  " 'reveiw' (did you mean 'review'?)")


def test_template_runtime_error_is_caught_at_check_time():
    problems = problems_of("""
        version: 1
        tickets:
          events: [review.create]
          negative: {rating_at_most: 2}
          conversation:
            note: |
              {{ review.title.split(1) }}
    """)
    # The line inside the template where it failed (issue 13: a limit is refused with its line).
    assert problems == ["m.yaml:7:7: tickets.conversation.note: fails on sample"
                        " review-create-negative: TypeError: must be str or None, not int"]


@pytest.mark.parametrize("template, attribute", [
    ("{{ ''.__class__.__mro__ }}", "__class__"),
    ("{{ cycler.__init__.__globals__ }}", "__init__"),
    ("{{ review.__class__.__subclasses__() }}", "__class__"),
    ("{{ '{0.__class__}'.format(review) }}", "__class__"),
    ("{{ resource.clear() }}", "clear"),  # the immutable sandbox: no changing the event
    ("{{ (review.items() | list)[0].__class__ }}", "__class__"),
])
def test_sandbox_escapes_are_config_errors(template, attribute):
    problems = problems_of(f"""
        version: 1
        tickets:
          events: [review.create]
          negative: {{rating_at_most: 2}}
          conversation:
            subject: "{template}"
    """)
    assert len(problems) == 1
    assert problems[0].startswith("m.yaml:6:14: tickets.conversation.subject: fails on sample")
    assert f"SecurityError: access to attribute '{attribute}'" in problems[0]


def test_sandbox_escape_in_a_filter_is_a_config_error():
    problems = problems_of("""
        version: 1
        routes:
          - name: reviews
            events: [review.create]
            url: https://x.example/a
            body: native-review
            when: "title.__class__.__mro__"
    """)
    assert "routes[0].when: fails on sample" in problems[0]
    assert "SecurityError" in problems[0]


def test_ticket_checks_priority_status_teams_and_custom_names():
    problems = problems_of("""
        version: 1
        tickets:
          events: [review.create, loyalty_customer.create]
          negative: {profanity: yes}
          conversation:
            priority: 7
            status: closed
            custom: {rating: 1, okendoRatingNum: "{{ review.title }}"}
    """)
    assert problems == [
        "m.yaml:3:27: tickets.events[1]: tickets are only opened for feedback: review,"
        " survey_response events (loyalty_customer carries no rating or answers to judge)",
        "m.yaml:4:25: tickets.negative.profanity: must be true or false, not 'yes'",
        "m.yaml:6:15: tickets.conversation.priority: must be from 1 (lowest) to 5 (highest)",
        "m.yaml:7:13: tickets.conversation.status: 'closed' is not a conversation status;"
        " use one of open, done",
        "m.yaml:8:14: tickets.conversation.custom.rating: custom attribute 'rating' needs a"
        " Kustomer type suffix (Str, Txt, Num, At, Bool, Url), e.g. 'ratingStr';"
        " and only letters and digits",
    ]


def test_custom_value_that_does_not_fit_its_type_fails_on_samples():
    problems = problems_of("""
        version: 1
        tickets:
          events: [review.create]
          negative: {rating_at_most: 2}
          conversation:
            custom: {okendoTitleNum: "{{ review.title }}"}
    """)
    assert problems == ["m.yaml:6:30: tickets.conversation.custom.okendoTitleNum: fails on"
                        " sample review-create-negative: ValueError: 'Zip broke in a week'"
                        " is not a number"]


def test_a_rule_without_clauses_is_an_error():
    assert problems_of("""
        version: 1
        tickets:
          events: [review.create]
          negative: {}
    """)[0].startswith("m.yaml:4:13: tickets.negative: names no clause")


def test_store_keys_and_overrides_are_checked():
    problems = problems_of("""
        version: 1
        tickets:
          events: [review.create]
          negative: {rating_at_most: 2}
        stores:
          acme:
            name: Acme
          "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21":
            tickets: {conversation: {priority: 9}}
            kustomer: {api_base: "not a url"}
    """)
    assert problems[0].startswith("m.yaml:6:3: stores.acme: 'acme' is not an Okendo subscriberId")
    assert problems[1] == ("m.yaml:9:40: stores.5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21.tickets"
                           ".conversation.priority: must be from 1 (lowest) to 5 (highest)")
    assert problems[2] == ("m.yaml:10:26: stores.5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21.kustomer"
                           ".api_base: 'not a url' is not an http(s) URL")


def test_version_and_shapes():
    assert problems_of("""
        version: 2
        routes: {}
    """) == ["m.yaml:1:10: version: version 2 is not supported; this bridge reads version 1",
             "m.yaml:2:9: routes: must be a list, e.g. [a, b]"]
    assert problems_of("") == ["m.yaml:1:1: the file is empty; start it with `version: 1`"]
    assert problems_of("- a\n") == ["m.yaml:1:1: the top level must be a mapping of keys"
                                    " (version, routes, tickets, stores)"]


def test_all_problems_are_reported_at_once_in_file_order():
    problems = problems_of("""
        version: 1
        routes:
          - name: a
            events: [nope]
            url: ftp://x
            body: native
    """)
    assert [problem.split(": ")[0] for problem in problems] == [
        "m.yaml:4:14", "m.yaml:5:10", "m.yaml:6:11"]


# ------------------------------------------------------------------------ environment


ROUTE_WITH_URL = """
    version: 1
    routes:
      - name: reviews
        events: [review.create]
        url: {url}
        body: native-review
"""


def test_env_variable_is_substituted():
    mapping = load_mapping_text(yaml(ROUTE_WITH_URL.format(url="${HOOK_URL}")), "m.yaml",
                                {"HOOK_URL": HOOK})
    assert mapping.routes[0].url == HOOK and mapping.routes[0].missing_env == ()


def test_unset_env_variable_is_a_warning_not_an_error():
    mapping = load_mapping_text(yaml(ROUTE_WITH_URL.format(url="${HOOK_URL}")), "m.yaml",
                                {"KUSTOMER_API_KEY": "k", "KUSTOMER_API_BASE": "https://a.example"})
    route = mapping.routes[0]
    assert route.url is None and route.missing_env == ("HOOK_URL",)
    assert [str(warning) for warning in mapping.warnings] == [
        "m.yaml:5:10: routes[0].url: ${HOOK_URL} is not set; events for route 'reviews'"
        " will be marked dead with that message until it is set"]


def test_env_default_is_used_when_unset_or_empty():
    text = yaml(ROUTE_WITH_URL.format(url="${HOOK_URL:-https://default.example/h}"))
    assert load_mapping_text(text, "m.yaml", {}).routes[0].url == "https://default.example/h"
    assert load_mapping_text(text, "m.yaml", {"HOOK_URL": ""}).routes[0].url == "https://default.example/h"
    assert load_mapping_text(text, "m.yaml", {"HOOK_URL": HOOK}).routes[0].url == HOOK


def test_env_reference_inside_a_string_and_escaping():
    text = yaml(ROUTE_WITH_URL.format(url="https://${ORG}.api.kustomerapp.com/v1/hooks/web/x"))
    assert (load_mapping_text(text, "m.yaml", {"ORG": "acme"}).routes[0].url
            == "https://acme.api.kustomerapp.com/v1/hooks/web/x")
    # Partly unset: the whole value is unusable.
    assert load_mapping_text(text, "m.yaml", {}).routes[0].missing_env == ("ORG",)
    mapping = load_mapping_text(yaml("""
        version: 1
        routes:
          - name: r
            events: [review.create]
            url: https://x.example/h
            body: native-review
            extra: {price: "$${{ amount }}"}
    """), "m.yaml", {})
    assert mapping.routes[0].extra == {"price": "${{ amount }}"}


def test_unset_variable_where_a_value_is_required_is_an_error():
    problems = problems_of("""
        version: 1
        routes:
          - name: ${ROUTE_NAME}
            events: [review.create]
            url: "https://x/${not valid}"
            body: passthrough
    """)
    assert problems == [
        # Issue 13: ${NAME} is refused outright outside URL, id and key fields.
        "m.yaml:3:11: routes[0].name: ${ROUTE_NAME}: environment variables may only be used in url,"
        " api_base, queue_id, team_ids, and a store's secret and kustomer.api_key (so that no secret"
        " can reach a body or a ticket); write $${ for a literal ${",
        "m.yaml:5:10: routes[0].url: '${not valid}' is not a ${NAME} or ${NAME:-default}"
        " reference; write $${ for a literal ${",
    ]


def test_store_kustomer_target_never_falls_back_to_the_default_key():
    mapping = load_mapping_text(yaml("""
        version: 1
        stores:
          "5f0c2a7e-1b7d-4c1e-9a51-3a3c1f0e9b21":
            kustomer: {api_key: "${ACME_KEY}"}
    """), "m.yaml", {"KUSTOMER_API_KEY": "default-key", "KUSTOMER_API_BASE": "https://d.example"})
    target = mapping.kustomer_for(STORE)
    # An unset store key must not send this store's data to the default org.
    assert target.api_key is None and target.missing_env == ("ACME_KEY",)
    assert target.api_base == "https://d.example"  # left out: the default applies
    assert "default-key" not in repr(mapping)
    assert mapping.kustomer_for("other").api_key == "default-key"


# ------------------------------------------------------------------------ check_config


def test_check_config_on_a_missing_file(tmp_path):
    result = check_config(tmp_path / "nope.yaml", env={})
    assert not result.ok
    assert result.errors == [f"{tmp_path / 'nope.yaml'}: mapping file not found; set BRIDGE_MAPPING"
                             " to the mapping file's path, or copy config/mapping.yaml there"]


def test_check_config_reports_errors_with_the_path(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("version: 1\nroutes:\n  - name: a\n    events: [review.create]\n"
                    "    url: https://x.example/h\n    body: native\n")
    result = check_config(path, env={})
    assert not result.ok and result.warnings == []
    assert result.errors[0].startswith(f"{path}:6:11: routes[0].body: 'native' is not a body shape")


def test_the_commented_out_examples_in_the_shipped_file_are_valid():
    # An admin uncomments them as they are: they must not be broken examples.
    text = SHIPPED.read_text()
    route_example = [line for line in text.splitlines()
                     if line.startswith(("  # - ", "  #   "))]
    head, stores_example = text.split("# stores:\n")
    uncommented_routes = "\n".join(line.replace("  # ", "  ", 1) for line in route_example)
    head = head.replace("routes:\n", "routes:\n" + uncommented_routes + "\n", 1)
    stores = "stores:\n" + "\n".join(line[2:] for line in stores_example.splitlines())
    mapping = load_mapping_text(head + stores, "m.yaml", {})
    assert [route.name for route in mapping.routes] == ["low-ratings", "reviews", "surveys"]
    assert mapping.routes[0].when == "rating is not none and rating <= 2"
    store = mapping.stores[STORE]
    assert store.name == "Acme Outdoor"
    assert store.kustomer.missing_env == ("ACME_KUSTOMER_API_KEY", "ACME_KUSTOMER_API_BASE")
    assert store.tickets.negative.rating_at_most == 3
    assert store.tickets.conversation.priority == 5
