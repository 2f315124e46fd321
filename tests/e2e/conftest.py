"""End-to-end fixtures: the real processes a user runs.

`stack` starts `bridge kustomer-emulator`, `bridge web` (gunicorn) and
`bridge worker` as child processes on free ports, against the test database
(SQLite on disk, or PostgreSQL when TEST_DATABASE_URL is set), and stops them
afterwards. Each process's output goes to a file that is printed when a test
fails, so a failure explains itself.

Waiting for the processes to get somewhere reads the database directly (`Stack.events`,
the rows `bridge events list --json` prints), not through a new CLI interpreter per poll:
polling through the CLI cost a second of CPU per look on a 2-core machine.
`Stack.events_from_cli` is the CLI's own answer, for the test that checks the two agree.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from click.testing import CliRunner

from bridge.cli import _event_summary
from bridge.cli import main as cli_main
from bridge.config import normalize_database_url
from bridge.events import store
from bridge.events.db import Database
from tests.conftest import make_env

ROOT = Path(__file__).resolve().parents[2]
# Hang guards, not expectations: a process starts in seconds and a CLI run ends in one or
# two, but on the shared 2-core machine at load 15-20 a start took over 30 s and a
# `bridge kustomer setup-timeline` over 60 s, and each such timeout failed a sound test.
START_TIMEOUT = 90
CLI_TIMEOUT = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


@dataclass
class Stack:
    env: dict
    tmp: Path
    web_url: str = ""
    emulator_url: str = ""
    processes: dict = field(default_factory=dict)
    # Every process started, including one whose name a restart gave to its successor.
    started: list = field(default_factory=list, repr=False)
    _db: Database | None = field(default=None, repr=False)

    @property
    def webhook_url(self) -> str:
        return f"{self.web_url}/webhooks/okendo"

    def start(self, name: str, *args: str, ready_url: str | None = None, wait: bool = True) -> subprocess.Popen:
        """Start `bridge ARGS` as `name`; with `ready_url`, wait until it answers 200 there
        (or, with wait=False, leave that to `wait_ready`, so several start side by side)."""
        log = open(self.tmp / f"{name}.log", "ab")
        process = subprocess.Popen([sys.executable, "-m", "bridge.cli", *args], env=self.env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        self.started.append(process)
        if ready_url and wait:
            self.wait_ready(name, ready_url)
        return process

    def wait_ready(self, name: str, ready_url: str, timeout: float = START_TIMEOUT) -> None:
        process = self.processes[name]

        def up():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}:\n{self.log(name)}")
            try:
                return requests.get(ready_url, timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_for(up, timeout, what=f"{name} at {ready_url}")

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        process = self.processes.get(name)
        return None if process is None else _stop(process, sig, timeout)

    def close(self) -> None:
        """Stop every process this stack started (newest first), then its database handle."""
        for process in reversed(self.started):
            _stop(process)
        self.close_db()

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "bridge.cli", *args], env=self.env, cwd=ROOT,
                                capture_output=True, text=True, timeout=CLI_TIMEOUT)
        if check and result.returncode != 0:
            raise AssertionError(f"bridge {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    @property
    def db(self) -> Database:
        """The stack's database, opened by the test process (for reads while polling)."""
        if self._db is None:
            self._db = Database(normalize_database_url(self.env["DATABASE_URL"]))
        return self._db

    def close_db(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None

    def events(self) -> list[dict]:
        """Every stored event, newest first, as `bridge events list --json` shows it."""
        with self.db.session() as session:
            return [_event_summary(e) for e in store.list_events(session, limit=100_000)]

    def events_from_cli(self) -> list[dict]:
        """The same list from a real `bridge events list --json` run."""
        return json.loads(self.cli("events", "list", "--json", "--limit", "100000").stdout)

    def received(self) -> dict:
        return requests.get(f"{self.emulator_url}/__emulator/received", timeout=5).json()

    def faults(self, **settings) -> None:
        requests.post(f"{self.emulator_url}/__emulator/faults", json=settings, timeout=5).raise_for_status()

    def send(self, sample_path: Path, webhook_id: str | None = None) -> subprocess.CompletedProcess:
        """`bridge send-sample FILE --url ...`: the command's own code, run in this process
        through Click's runner (a new interpreter per webhook cost a second of CPU and
        proved nothing more: the stack's processes receive the same signed POST)."""
        args = ["send-sample", str(sample_path), "--url", self.webhook_url]
        if webhook_id:
            args += ["--webhook-id", webhook_id]
        result = CliRunner().invoke(cli_main, args, env=self.env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if result.exit_code != 0:
            raise AssertionError(f"bridge {' '.join(args)} failed ({result.exit_code}):\n{result.output}")
        return subprocess.CompletedProcess(["bridge", *args], result.exit_code, result.stdout, result.stderr)

    def wait_until_settled(self, count: int, timeout: float = 60) -> list[dict]:
        final = {"delivered", "dead", "skipped", "invalid"}

        def settled():
            rows = self.events()
            return rows if len(rows) >= count and all(r["status"] in final for r in rows) else None
        return wait_for(settled, timeout, interval=0.1, what=f"{count} events to settle")


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
    """Signal the process's whole group (gunicorn's workers too) and wait; SIGKILL after
    `timeout`. A leader that already exited may leave children in its group: they get
    SIGKILL."""
    if process.poll() is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return process.returncode
    os.killpg(process.pid, sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(5)


def stack_env(database_url: str, tmp: Path, web_port: int, emulator_port: int, **overrides) -> dict:
    emulator = f"http://127.0.0.1:{emulator_port}"
    env = dict(os.environ)
    env.update(make_env(
        database_url,
        KUSTOMER_API_KEY="emulator-key",
        KUSTOMER_API_BASE=emulator,
        KUSTOMER_REVIEW_HOOK_URL=f"{emulator}/v1/hooks/web/reviews",
        KUSTOMER_SURVEY_HOOK_URL=f"{emulator}/v1/hooks/web/surveys",
        PORT=str(web_port),
        BRIDGE_INSTANCE_DIR=str(tmp / "instance"),
        BRIDGE_RETRY_SCHEDULE="0.5,1,1",
        BRIDGE_SWEEP_INTERVAL="1",
        BRIDGE_STALE_AFTER="3",
        BRIDGE_LEASE_SECONDS="10",
        WEB_CONCURRENCY="2",
        GUNICORN_ACCESS_LOG="",
        **overrides,
    ))
    env.pop("QUEUE_URL", None)  # the real backend for this database, not the in-memory one
    if "QUEUE_URL" in overrides:
        env["QUEUE_URL"] = overrides["QUEUE_URL"]
    return env


def new_stack(database_url, tmp_path, **overrides) -> Stack:
    """A Stack on free ports with nothing started; ``overrides`` go into its environment."""
    web_port, emulator_port = free_port(), free_port()
    stack = Stack(env=stack_env(database_url, tmp_path, web_port, emulator_port, **overrides), tmp=tmp_path)
    stack.web_url = f"http://127.0.0.1:{web_port}"
    stack.emulator_url = f"http://127.0.0.1:{emulator_port}"
    return stack


def start_all(stack: Stack) -> Stack:
    """Start the emulator, web and worker side by side: none of the three needs another to
    start (they meet at the database and at the emulator's URL only when events flow)."""
    stack.start("emulator", "kustomer-emulator", "--port", stack.emulator_url.rsplit(":", 1)[1], wait=False)
    stack.start("web", "web", wait=False)
    stack.start("worker", "worker")
    stack.wait_ready("emulator", f"{stack.emulator_url}/__emulator/health")
    stack.wait_ready("web", f"{stack.web_url}/healthz")
    return stack


def print_logs(stack: Stack, tail: int = 5000) -> None:
    for name in stack.processes:
        print(f"----- {name} log (last {tail} chars) -----\n{stack.log(name)[-tail:]}")


def started_stack(request, stack: Stack):
    """Fixture body: start `stack`, yield it, then stop everything it started; also when
    starting it failed (no process outlives its test). Prints each process's log when
    starting or the test failed."""
    try:
        start_all(stack)
    except BaseException:
        stack.close()
        print_logs(stack)
        raise
    try:
        yield stack
    finally:
        stack.close()
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print_logs(stack)


@pytest.fixture
def stack(database_url, tmp_path, request):
    yield from started_stack(request, new_stack(database_url, tmp_path))


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/e2e `e2e` (a conftest's pytestmark would not), so
    `-m 'not e2e'` leaves out everything that starts processes."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
