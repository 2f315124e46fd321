"""Hold `responses`-mocked Kustomer calls to Kustomer's contract (bridge.kustomer.contract).

A mock answers whatever it is told to, so a client that sends a shape Kustomer refuses would
pass every unit test. `checked_mock()` is a RequestsMock that, when the test ends, checks the
body of every request it captured for a Kustomer host against the contract and fails the
test with each violation.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
import responses

from bridge.kustomer import contract

KUSTOMER_HOST_SUFFIXES = (".kustomerapp.com",)


def is_kustomer(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith(KUSTOMER_HOST_SUFFIXES)


def request_violations(request) -> list[str]:
    """What Kustomer's contract says is wrong with one captured `requests` request."""
    raw = request.body
    if raw is None or (isinstance(raw, (bytes, str)) and not raw.strip()):
        body = contract.NO_BODY
    else:
        try:
            body = json.loads(raw)
        except ValueError:
            return [f"{request.method} {urlsplit(request.url).path}: the body is not JSON"]
    return contract.violations(request.method, request.url, body)


def calls_violations(calls) -> list[str]:
    found = []
    for call in calls:
        if is_kustomer(call.request.url):
            found.extend(request_violations(call.request))
    return found


def assert_calls_follow_contract(calls) -> None:
    problems = calls_violations(calls)
    if problems:
        pytest.fail("requests outside Kustomer's contract:\n  " + "\n  ".join(problems),
                    pytrace=False)


@contextmanager
def checked_mock(**options):
    """`responses.RequestsMock(**options)` whose captured Kustomer requests must follow the contract."""
    with responses.RequestsMock(**options) as mock:
        yield mock
        assert_calls_follow_contract(mock.calls)
