"""bridge.events.json_body: the shortcut that skips the repair walk never changes a result."""
import json

import pytest
from hypothesis import given, settings, strategies as st

from bridge.events import json_body
from tests.hypothesis_profiles import examples

TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F64F), max_size=6) \
    | st.sampled_from(["\ud83d", "cut \udc00", "\ud83d\ude00", "\\ud800", "{[", "é"])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                    lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(TEXT, children, max_size=3), max_leaves=12)


def walked(body: bytes) -> tuple:
    """What parse gave before the shortcut: always the walk."""
    repaired: list[str] = []
    try:
        data = json_body._repair(json.loads(body), repaired)
    except json_body.BodyError as exc:
        return "error", str(exc)
    return data, repaired


def parsed(body: bytes) -> tuple:
    try:
        result = json_body.parse(body)
    except json_body.BodyError as exc:
        return "error", str(exc)
    return result.data, result.repaired


@settings(max_examples=examples(300), deadline=None)
@given(value=JSON, ascii_only=st.booleans())
def test_parse_gives_what_the_walk_gives(value, ascii_only):
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert parsed(body) == walked(body)


@pytest.mark.parametrize("depth", [63, 64, 65, 66])
def test_the_depth_limit_holds_at_the_edge(depth):
    for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        assert parsed(body) == walked(body)
    assert (parsed(b"[" * depth + b"]" * depth)[0] == "error") == (depth > json_body.MAX_DEPTH)


@pytest.mark.parametrize("body", [b'["\\ud83d"]', b'["\\uDC00 x"]', b'{"\\ud800": 1}', b'["\xed\xa0\x80"]',
                                  '["\ud800"]'.encode("utf-16", "surrogatepass")])
def test_lone_surrogates_are_still_found_and_repaired(body):
    data, repaired = parsed(body)
    assert repaired and "\ufffd" in json.dumps(data, ensure_ascii=False)
