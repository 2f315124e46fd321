"""End-to-end fixtures: the real processes a user runs.

`stack` starts the web server (gunicorn, as `bridge web` runs it) and `bridge worker` as
child processes, and the Kustomer emulator in a thread of the test process
(`Stack.start_emulator`), on free ports, against the test database (SQLite on disk, or
PostgreSQL when TEST_DATABASE_URL is set), and stops them afterwards. Each process's output
goes to a file that is printed when a test fails, so a failure explains itself.

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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import text
from werkzeug.serving import WSGIRequestHandler, make_server

from click.testing import CliRunner

from bridge.cli import GUNICORN_ARGS, _event_summary
from bridge.cli import main as cli_main
from bridge.config import normalize_database_url
from bridge.devtools.emulator.app import emulator_app_from_env
from bridge.events import store
from bridge.events.db import Database
from tests.conftest import BACKENDS, e2e_database, make_env
from tests.process_guard import VARIABLE as PROCESS_MARK
from tests.process_guard import check_gone, shared_mark
from tests.xdist_groups import SAME_WORKER

ROOT = Path(__file__).resolve().parents[2]
# Hang guards, not expectations: a process starts in seconds and a CLI run ends in one or
# two, but on the shared 2-core machine at load 15-20 a start took over 30 s and a
# `bridge kustomer setup-timeline` over 60 s, and each such timeout failed a sound test.
START_TIMEOUT = 90
CLI_TIMEOUT = 180
# An event in one of these statuses is done: no process will touch it again by itself.
FINAL = {"delivered", "dead", "skipped", "invalid"}


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
    # name -> the emulator's HTTP server, served from a thread of this process
    servers: dict = field(default_factory=dict, repr=False)
    # Every process started, including one whose name a restart gave to its successor.
    started: list = field(default_factory=list, repr=False)
    _db: Database | None = field(default=None, repr=False)

    @property
    def webhook_url(self) -> str:
        return f"{self.web_url}/webhooks/okendo"

    def start(self, name: str, *args: str, ready_url: str | None = None, wait: bool = True) -> subprocess.Popen:
        """Start `bridge ARGS` as `name`; with `ready_url`, wait until it answers 200 there
        (or, with wait=False, leave that to `wait_ready`, so several start side by side)."""
        process = self._spawn(name, "-m", "bridge.cli", *args)
        if ready_url and wait:
            self.wait_ready(name, ready_url)
        return process

    def _spawn(self, name: str, *python_args: str) -> subprocess.Popen:
        """`python PYTHON_ARGS` in this stack's environment, in a process group of its own,
        its output in `name`.log."""
        log = open(self.tmp / f"{name}.log", "ab")
        process = subprocess.Popen([sys.executable, *python_args], env=self.env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        self.started.append(process)
        return process

    def start_web_server(self, name: str = "web", wait: bool = True) -> subprocess.Popen:
        """The web process as `bridge web` leaves it: gunicorn with the shipped settings, on
        this stack's PORT, ready when /healthz answers. Started directly, not through `bridge
        web`, whose own part (the migration check and the lines it logs, then exec) is about
        0.8 s of CPU per stack and is the subject of tests/e2e/test_deploy.py, which starts the
        Procfile's own command."""
        process = self._spawn(name, *GUNICORN_ARGS)
        if wait:
            self.wait_ready(name, f"{self.web_url}/healthz")
        return process

    def start_emulator(self, name: str = "emulator") -> None:
        """The Kustomer emulator (a test double: users never run it beside the bridge) on
        `emulator_url`, served by werkzeug's threaded server from a thread of this process:
        real HTTP, the app `bridge kustomer-emulator` serves, configured from this stack's
        environment the same way (EMULATOR_API_KEY, ..._RATE_LIMIT, ..._HOOK_LIMIT). Its own
        interpreter and gunicorn cost about a second of CPU per stack; the emulator under
        gunicorn is tested by tests/e2e/test_emulator_serve.py. Ready when this returns (the
        port is bound)."""
        port = int(self.emulator_url.rsplit(":", 1)[1])
        server = make_server("127.0.0.1", port, emulator_app_from_env(self.env), threaded=True,
                             request_handler=_QuietHandler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name=f"{name}-{port}", daemon=True).start()
        self.servers[name] = server

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
        """Stop every process this stack started, then its database handle. All are signalled
        first and then waited for, so their graceful shutdowns overlap instead of adding up."""
        signalled = [process for process in reversed(self.started) if _signal(process)]
        for process in signalled:
            _wait_or_kill(process)
        for server in self.servers.values():
            server.shutdown()
            server.server_close()
        self.servers.clear()
        self.close_db()

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`bridge ARGS`: the command's own code, run in this process through Click's runner
        with this stack's environment. A new interpreter per command cost 1-2 s of CPU
        (about 15 a backend) and proved nothing more: the command reads and writes the
        database and calls the emulator the processes use. `cli_process` runs a real one.
        The whole environment is put back afterwards: the command loads `.env` and a demo's
        instance/demo.env into os.environ (`load_dotenv_if_present`), which Click's runner
        would leave in this process for every later stack to inherit."""
        saved = dict(os.environ)
        try:
            result = CliRunner().invoke(cli_main, list(args), env=self.env)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if check and result.exit_code != 0:
            raise AssertionError(f"bridge {' '.join(args)} failed ({result.exit_code}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return subprocess.CompletedProcess(["bridge", *args], result.exit_code, result.stdout, result.stderr)

    def cli_process(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`bridge ARGS` in an interpreter of its own, as a user runs it (for the tests whose
        subject is the command as deployed)."""
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
        return json.loads(self.cli_process("events", "list", "--json", "--limit", "100000").stdout)

    def received(self) -> dict:
        return requests.get(f"{self.emulator_url}/__emulator/received", timeout=5).json()

    def faults(self, **settings) -> None:
        requests.post(f"{self.emulator_url}/__emulator/faults", json=settings, timeout=5).raise_for_status()

    def send(self, sample_path: Path, webhook_id: str | None = None) -> subprocess.CompletedProcess:
        """`bridge send-sample FILE --url ...` (through `cli`, in this process: the stack's
        processes receive the same signed POST)."""
        args = ["send-sample", str(sample_path), "--url", self.webhook_url]
        if webhook_id:
            args += ["--webhook-id", webhook_id]
        return self.cli(*args)

    def wait_until_settled(self, count: int, timeout: float = 60) -> list[dict]:
        def settled():
            rows = self.events()
            return rows if len(rows) >= count and all(r["status"] in FINAL for r in rows) else None
        return wait_for(settled, timeout, interval=0.1, what=f"{count} events to settle")


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
    """Signal the process's whole group (gunicorn's workers too) and wait; SIGKILL after
    `timeout`. A leader that already exited may leave children in its group: they get
    SIGKILL."""
    return _wait_or_kill(process, timeout) if _signal(process, sig) else process.returncode


def _signal(process: subprocess.Popen, sig: int = signal.SIGTERM) -> bool:
    """Send `sig` to the process's group; False (and SIGKILL to what is left of the group)
    when the leader already exited."""
    if process.poll() is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return False
    os.killpg(process.pid, sig)
    return True


def _wait_or_kill(process: subprocess.Popen, timeout: float = 30) -> int | None:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(5)


class _QuietHandler(WSGIRequestHandler):
    """No line per request on this process's stderr (gunicorn's access log was off too)."""

    def log_request(self, *args, **kwargs) -> None:
        pass


# For a test whose subject is not the web process (it is only the way in): one gunicorn worker
# instead of the shipped two saves about a second of CPU per stack. Tests of ingest, of the
# deployed config and of what two processes share keep the shipped 2.
ONE_WEB_WORKER = {"WEB_CONCURRENCY": "1"}


def stack_env(database_url: str, tmp: Path, web_port: int, emulator_port: int, **overrides) -> dict:
    emulator = f"http://127.0.0.1:{emulator_port}"
    env = dict(os.environ)
    env.update(make_env(database_url, **{
        "KUSTOMER_API_KEY": "emulator-key",
        "KUSTOMER_API_BASE": emulator,
        "KUSTOMER_REVIEW_HOOK_URL": f"{emulator}/v1/hooks/web/reviews",
        "KUSTOMER_SURVEY_HOOK_URL": f"{emulator}/v1/hooks/web/surveys",
        "PORT": str(web_port),
        "BRIDGE_INSTANCE_DIR": str(tmp / "instance"),
        "BRIDGE_RETRY_SCHEDULE": "0.5,1,1",
        "BRIDGE_SWEEP_INTERVAL": "1",
        "BRIDGE_STALE_AFTER": "3",
        "BRIDGE_LEASE_SECONDS": "10",
        "WEB_CONCURRENCY": "2",  # the shipped default (bridge/gunicorn_conf.py)
        "GUNICORN_ACCESS_LOG": "",
        **overrides,
    }))
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
    """Start web and the worker side by side, and the emulator: none of the three needs
    another to start (they meet at the database and at the emulator's URL only when events
    flow)."""
    stack.start_web_server(wait=False)
    stack.start("worker", "worker")
    stack.start_emulator()
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


# -- one stack for the tests of a module --------------------------------------------------

# What flows through a stack: emptied between the tests that share it. What its processes
# loaded at start (mapping versions, stored settings) stays, as it would for a fresh stack.
FLOW_TABLES = ("attempts", "actions", "tickets", "events", "signature_refusals", "metric_counts")


class SharedStack:
    """A stack shared by the tests of one module that take the default stack as it is (no
    setting of their own): a stack start is about 9 s of CPU on 2 cores, most of an e2e
    test's cost.

    Isolation, before each test but the first: every event must be final (nothing in
    flight), then the flow's rows are deleted and the emulator is reset (`POST
    /__emulator/reset`: records, counters, faults, config). So each test sees only its own
    events, hooks and conversations, as on a fresh stack. A stack that is not sound for
    the next test is replaced by a fresh one: after a failed test (setup or call), when a
    process exited (a test that stopped one and did not start it again), when web does not
    answer, or when its events do not settle. Its processes carry a marker of the module's
    (`tests/process_guard.py`), checked when the module ends.
    """

    def __init__(self, database_url: str, directory: Path, **overrides):
        self.database_url = database_url
        self.overrides = overrides
        self.directory = directory
        self.mark = shared_mark()
        self.stack: Stack | None = None
        self.starts = 0

    def for_test(self, request):
        """Fixture body: a sound stack, reset for this test (or fresh), then judged after it."""
        if self.stack is not None and not self._reset():
            self.discard()
        if self.stack is None:
            self._start()
        try:
            yield self.stack
        finally:
            if any(getattr(request.node, f"rep_{when}", None) is not None
                   and getattr(request.node, f"rep_{when}").failed for when in ("setup", "call")):
                print_logs(self.stack)
                self.discard()

    def _start(self) -> None:
        self.starts += 1
        directory = self.directory / f"stack{self.starts}"
        directory.mkdir()
        stack = new_stack(self.database_url, directory, **self.overrides)
        stack.env[PROCESS_MARK] = self.mark
        self.stack = stack
        try:
            _empty_flow_tables(stack)  # a stack replaced after a failure: its rows go too
            start_all(stack)
        except BaseException:
            print_logs(stack)
            self.discard()
            raise

    def _reset(self) -> bool:
        """Make the running stack as a fresh one for the next test; False if it cannot be."""
        stack = self.stack
        if any(process.poll() is not None for process in stack.processes.values()) or not stack.servers:
            return False
        try:
            if requests.get(f"{stack.web_url}/healthz", timeout=5).status_code != 200:
                return False
            wait_for(lambda: all(row["status"] in FINAL for row in stack.events()), 30,
                     what="the previous test's events to be final")
            _empty_flow_tables(stack)
            requests.post(f"{stack.emulator_url}/__emulator/reset", timeout=5).raise_for_status()
        except (AssertionError, requests.RequestException):
            return False
        return True

    def discard(self) -> None:
        if self.stack is not None:
            self.stack.close()
            self.stack = None

    def close(self) -> None:
        self.discard()
        check_gone(self.mark, owner="a module's shared stack")


def _empty_flow_tables(stack: Stack) -> None:
    """Delete every row of `FLOW_TABLES` (DELETE, not TRUNCATE: it takes no lock that would
    wait for, or deadlock with, the stack's idle connections)."""
    with stack.db.session() as session:
        for table in FLOW_TABLES:
            session.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="module", params=BACKENDS)
def shared_stack(request, tmp_path_factory):
    """A `SharedStack` per module and backend (pytest orders a module's tests by backend, so
    there is one stack per backend unless a test leaves it unsound). A module that uses it
    defines `stack` from it and is listed in tests/xdist_groups.py, so that its tests share one
    xdist worker; its `SHARED_STACK_ENV` (if any) goes into the stack's environment."""
    assert request.node.nodeid in SAME_WORKER, f"add {request.node.nodeid} to tests/xdist_groups.py SAME_WORKER"
    directory = tmp_path_factory.mktemp("shared-stack")
    with e2e_database(request, request.param, directory) as url:
        shared = SharedStack(url, directory, **getattr(request.module, "SHARED_STACK_ENV", {}))
        try:
            yield shared
        finally:
            shared.close()


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
