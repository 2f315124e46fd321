"""What a unit test may not do: start a process.

Unit tests run in-process (Flask's test client, `responses`, the emulator's test client), so
`make test-fast` stays quick and runs anywhere. A test that starts gunicorn, the worker, the
emulator or any other program belongs in tests/e2e (marked `e2e` there), where `make test`
runs it. An audit hook turns starting a process during a unit test into an error that says
so, instead of a slow test in the wrong place.
"""
from __future__ import annotations

import sys

import pytest

PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.spawn", "os.exec", "os.fork",
                            "os.forkpty", "os.system"})
_guard = {"on": False}


def _refuse_processes(event: str, args) -> None:
    if _guard["on"] and event in PROCESS_EVENTS:
        raise RuntimeError(f"a unit test started a process ({event} {str(args)[:200]}): "
                           "tests that start processes belong in tests/e2e")


sys.addaudithook(_refuse_processes)  # an audit hook cannot be removed: it checks the flag


@pytest.fixture(autouse=True)
def _no_processes_in_unit_tests():
    _guard["on"] = True
    try:
        yield
    finally:
        _guard["on"] = False
