"""Issue 13 part 6: an admin-written template cannot freeze or exhaust the process."""
import pytest
from jinja2.exceptions import SecurityError

from bridge.mapping import MappingError
from bridge.mapping.loader import load_mapping_text
from bridge.mapping.templates import compile_template, render_template

HOSTILE = [
    "{{ 'x' * 10**9 }}",
    "{{ [1] * 10**8 }}",
    "{{ 9**(9**8) }}",
    "{{ (9**999) * (9**999) * (9**999) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999s' % 1 }}",
    "{{ '%*s' % (1000000000, 'x') }}",
    "{{ ('x' * 1000)|replace('x', 'y' * 100000) }}",
    "{{ (['x' * 100000] * 100)|join }}",
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in 'x' * 100000 %}{% for b in 'y' * 100000 %}{% endfor %}{% endfor %}",
    "{% for a in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_a_template_over_a_limit_is_refused_before_it_is_computed(source):
    with pytest.raises(SecurityError, match="over the template limit"):
        render_template(source, {})


def test_constants_in_a_branch_that_never_runs_are_not_folded_at_compile_time():
    # Jinja folds constant expressions while compiling; 9**(9**8) took over 60 s.
    template = compile_template("{% if false %}{{ 9**(9**8) }}{{ 'x' * 10**10 }}{% endif %}done")
    assert template.render() == "done"


def test_ordinary_templates_still_work():
    assert render_template("{{ 2**10 }} {{ 3*4 }} {{ 'a' + 'b' }} {{ '%s!' % 'hi' }} {{ '{} {}'.format(1, 2) }}"
                           " {% for i in range(3) %}{{ loop.index }}/{{ loop.length }} {% endfor %}"
                           "{{ 'ab'|center(6) }}|{{ range(4)|join('-') }}", {}) \
        == "1024 12 ab hi! 1 2 1/3 2/3 3/3   ab  |0-1-2-3"


def test_a_mapping_whose_template_breaks_a_limit_is_refused_with_its_line():
    text = """version: 1
tickets:
  events: [review.create]
  negative: {rating_at_most: 2}
  conversation:
    note: |
      Hello
      {{ 'x' * 10**9 }}
"""
    with pytest.raises(MappingError) as raised:
        load_mapping_text(text, "m.yaml", {"KUSTOMER_API_KEY": "k", "KUSTOMER_API_BASE": "https://a.example"})
    [problem] = [str(p) for p in raised.value.problems if "limit" in str(p)]
    assert problem.startswith("m.yaml:8:")


def test_a_route_filter_over_a_limit_is_refused_with_its_line():
    text = """version: 1
routes:
  - name: r
    events: [review.create]
    url: https://x.example/h
    body: passthrough
    when: "('x' * 10**9) != ''"
"""
    with pytest.raises(MappingError) as raised:
        load_mapping_text(text, "m.yaml", {})
    assert any(str(p).startswith("m.yaml:7:") and "limit" in str(p) for p in raised.value.problems)


def test_checking_a_mapping_has_a_time_limit_on_the_main_thread():
    from bridge.mapping.limits import CheckTimeout, time_limit

    with pytest.raises(CheckTimeout):
        with time_limit(0.2):
            while True:
                pass
