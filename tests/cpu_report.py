"""`--cpu-report=N`: the N tests that cost the most CPU, with the processes they started.

`--durations` shows wall time, which on a shared 2-core machine says as much about the other
sessions as about the test. This shows what a test costs whatever the load: CPU seconds
(user + system) of the pytest process itself plus every process the test started and waited
for (the stacks' emulator, gunicorn and its workers, the worker, CLI runs), measured from the
start of its setup to the end of its teardown. A module- or session-scoped fixture is charged
to the test that set it up and to the one whose teardown ended it.

It works under pytest-xdist (each worker measures its own tests; the numbers travel in the
reports' `user_properties`). Loaded from tests/conftest.py; off unless asked for.
"""
from __future__ import annotations

import resource

import pytest

KEY = "cpu_seconds"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_addoption(parser):
    parser.addoption("--cpu-report", type=int, default=None, metavar="N",
                     help="list the N tests that cost the most CPU (theirs and their processes')")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item._cpu_started = _cpu()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    started = getattr(item, "_cpu_started", None)
    if call.when == "teardown" and started is not None:
        report.user_properties.append((KEY, _cpu() - started))


def pytest_terminal_summary(terminalreporter, config):
    count = config.getoption("--cpu-report")
    if count is None or hasattr(config, "workerinput"):
        return
    costs = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "teardown":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == KEY:
                    costs.append((value, report.nodeid))
    if not costs:
        return
    costs.sort(reverse=True)
    total = sum(cost for cost, _ in costs)
    terminalreporter.write_sep("=", f"CPU per test (own + its processes): {total:.0f} s in all, "
                                    f"top {min(count, len(costs)) if count else len(costs)}")
    for cost, nodeid in costs[:count or None]:
        terminalreporter.write_line(f"{cost:8.2f}s  {nodeid}")
