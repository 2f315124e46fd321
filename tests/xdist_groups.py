"""How `make test` (`--dist loadgroup`) hands tests to its xdist workers: one at a time, as
they fall free, except that every test of a module in `SAME_WORKER` goes to one worker.

Those modules share a stack per backend (`SharedStack`, tests/e2e/conftest.py): spread over
four workers they would start up to four of them, each about 9 s of CPU.

Why not `@pytest.mark.xdist_group`: pytest-xdist 3.8 puts a test in its group by appending
"@name" to `item._nodeid`, which pytest 9 no longer reads (a node's id is built from
`item._id`). Every such mark was silently ignored and `loadgroup` scheduled like `load`. This
scheduler is xdist's own `loadgroup` (LoadScopeScheduling, one scope per test) with the
group taken from the module's path instead of the mark.
"""
from __future__ import annotations

import pytest

SAME_WORKER = ("tests/e2e/test_flow.py", "tests/e2e/test_relay_and_tickets.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path in SAME_WORKER else nodeid

    return ModuleGroupScheduling(config, log)
