"""No process a test started outlives it: after each test's teardown, whatever is left is
killed and the test errors, naming what was left.

A process left running after its test (a worker whose stop was skipped because the stack
failed to start, an orphaned gunicorn worker, a second worker started under a name that
replaced the first in `Stack.processes`) keeps claiming events, and the next test that
meets it on a shared resource gets a result it cannot explain. Stacks no longer share a
database (`tests/conftest.py`), so such a process could only waste CPU; this guard makes
sure it does not do even that unnoticed.

How a process is recognised: before each test, this plugin puts a marker unique to the test
(`BRIDGE_TEST_PROCESS_MARK`, this pytest process's pid and a counter) into `os.environ`;
every process a test starts inherits it (the stacks' environments start from
`os.environ`), and so do their children, orphaned or not. After the test's last fixture is
torn down, every process of this user whose environment holds the marker is still running
only if something forgot to stop it. Reading `/proc/<pid>/environ` of a few hundred
processes costs milliseconds. Linux only; elsewhere the guard does nothing.

A stack that a module's tests share (`tests/e2e/conftest.py`, `SharedStack`) outlives each
of its tests by design: its processes carry a marker of their own (`shared_mark()`), not the
test's, and `check_gone(mark)` holds them to the same rule when the module's fixture ends.

Failure policy: leftovers are SIGKILLed (again and again, for up to 5 s, until none is left) and
the test's teardown fails with their command lines; a process that is already a zombie
(exited, not yet reaped) is not counted, it holds nothing.
"""
from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

import pytest

VARIABLE = "BRIDGE_TEST_PROCESS_MARK"
PROC = Path("/proc")
_counter = itertools.count(1)


def _marked(mark: bytes) -> dict[int, str]:
    """pid -> command line of every live process whose environment holds `mark`."""
    found = {}
    me = os.getpid()
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
            if state in (b"Z", b"X"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # another user's process, or one that just exited
            continue
        found[int(entry.name)] = command.strip()[:200]
    return found


def _kill(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    if PROC.is_dir():
        os.environ[VARIABLE] = f"{os.getpid()}-{next(_counter)}"
    return (yield)


def shared_mark() -> str:
    """A marker value for processes shared by several tests (put it in their environment as
    `VARIABLE`); the fixture that owns them calls `check_gone` on it when it ends."""
    return f"{os.getpid()}-shared-{next(_counter)}"


def check_gone(value: str, owner: str = "this test") -> None:
    """Kill every live process carrying marker `value` and fail, naming them, if there was any."""
    mark = f"{VARIABLE}={value}".encode()
    left = _marked(mark)
    if not left:
        return
    deadline = time.monotonic() + 5
    alive = left
    while alive and time.monotonic() < deadline:  # a child may fork while we kill
        _kill(alive)
        time.sleep(0.05)
        alive = _marked(mark)
        left.update(alive)
    listing = "\n".join(f"  {pid}: {command}" for pid, command in sorted(left.items()))
    raise AssertionError(f"{len(left)} process(es) {owner} started were still running after "
                         f"its teardown; killed them (tests/process_guard.py):\n{listing}")


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        value = os.environ.pop(VARIABLE, None)
        if value is not None:
            check_gone(value)
