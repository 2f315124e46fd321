"""Starting and stopping the processes a benchmark measures, and the facts around them.

Processes are started the way tests/e2e/conftest.py starts them: `python -m bridge.cli ...`
as a child in its own session (so gunicorn's workers share its process group), output to a
log file, an HTTP readiness check with a deadline. Every process started here is recorded in
a module-level registry; `stop_all()` (called from a `finally` in `bench.__main__`) stops any
that a benchmark left running, first with SIGTERM, then SIGKILL, by process group id.

Also here: throwaway databases (a SQLite file in the run's temp dir, or a PostgreSQL
database `bridge_bench_<random>` created and dropped again), peak RSS from /proc, the
machine description and the load average.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import platform
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import requests

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Settings of the bridge that must come from the benchmark, never from the caller's shell.
_BRIDGE_VARS_PREFIXES = ("BRIDGE_", "KUSTOMER_", "OKENDO_", "GUNICORN_", "EMULATOR_")
_BRIDGE_VARS = {"DATABASE_URL", "QUEUE_URL", "REDIS_URL", "WEB_CONCURRENCY", "PORT", "LOG_LEVEL",
                "SECRET_KEY", "ADMIN_USERNAME", "ADMIN_PASSWORD", "FORWARDED_ALLOW_IPS"}

_RUNNING: list["Proc"] = []


def new_secret() -> str:
    """A fresh Standard Webhooks secret for this run (never a real one)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.1,
             what: str = "condition"):
    """Poll `predicate` until it returns something truthy; bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# ---- processes ---------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 25.0) -> int | None:
        """SIGTERM to the process group (gunicorn master and workers alike), then SIGKILL."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        # A worker that outlived its master (it should not) is still in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self in _RUNNING:
            _RUNNING.remove(self)
        return self.popen.returncode

    def cpu_seconds(self) -> float | None:
        """User + system CPU time this process has used so far (all its threads), or None."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def peak_rss(self) -> dict:
        """VmHWM (peak resident set) in MB of this process and of each of its children.

        For gunicorn: `main` is the master, `children` its workers (one app copy each)."""
        main = vm_hwm_mb(self.pid)
        kids = {pid: vm_hwm_mb(pid) for pid in children_of(self.pid)}
        kids = {pid: mb for pid, mb in kids.items() if mb is not None}
        return {"main": main, "children": kids,
                "max_child": max(kids.values()) if kids else None,
                "total": (main or 0) + sum(kids.values())}


def start(name: str, argv: list[str], env: dict, workdir: Path,
          ready_url: str | None = None, ready_timeout: float = 40.0) -> Proc:
    """Start `argv` in its own session, output to `workdir/<name>.log`; wait for `ready_url`."""
    log_path = workdir / f"{name}.log"
    log = open(log_path, "ab")
    try:
        popen = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()
    proc = Proc(name, popen, log_path)
    _RUNNING.append(proc)
    if ready_url:
        def up():
            if not proc.alive():
                raise RuntimeError(f"{name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
            try:
                return requests.get(ready_url, timeout=1).status_code == 200
            except requests.RequestException:
                return False
        try:
            wait_for(up, ready_timeout, 0.1, f"{name} at {ready_url}")
        except Exception:
            proc.stop()
            raise
    return proc


def bridge(name: str, args: list[str], env: dict, workdir: Path, **kwargs) -> Proc:
    """`bridge <args>` as a child process (python -m bridge.cli, like the e2e tests)."""
    return start(name, [PYTHON, "-m", "bridge.cli", *args], env, workdir, **kwargs)


def stop_all() -> None:
    """Stop every process still registered (newest first)."""
    for proc in list(reversed(_RUNNING)):
        proc.stop()


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (ppid) comes after the ")" that closes the command name.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(entry.name))
    return sorted(kids)


# ---- environments ------------------------------------------------------------------------

def base_env() -> dict:
    """The caller's environment without any bridge setting (those come from the benchmark)."""
    env = {k: v for k, v in os.environ.items()
           if k not in _BRIDGE_VARS and not k.startswith(_BRIDGE_VARS_PREFIXES)}
    # Run from a temp dir (no stray .env is read) but import this checkout.
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def bridge_env(database_url: str, workdir: Path, *, secret: str, web_port: int,
               emulator_url: str, **overrides) -> dict:
    """What `bridge web` / `bridge worker` get: the shipped defaults except where noted.

    Loopback only (BRIDGE_BIND); gunicorn's WEB_CONCURRENCY, GUNICORN_THREADS and access log
    are left to bridge/gunicorn_conf.py unless a benchmark overrides them."""
    env = base_env()
    env.update({
        "DATABASE_URL": database_url,
        "OKENDO_WEBHOOK_SECRET": secret,
        "KUSTOMER_API_KEY": "emulator-key",
        "KUSTOMER_API_BASE": emulator_url,
        "KUSTOMER_REVIEW_HOOK_URL": f"{emulator_url}/v1/hooks/web/reviews",
        "KUSTOMER_SURVEY_HOOK_URL": f"{emulator_url}/v1/hooks/web/surveys",
        "BRIDGE_MAPPING": str(ROOT / "config" / "mapping.yaml"),
        "BRIDGE_INSTANCE_DIR": str(workdir / "instance"),
        "BRIDGE_BIND": LOOPBACK,
        "PORT": str(web_port),
        "SECRET_KEY": secrets.token_hex(16),
    })
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    return env


# ---- databases ---------------------------------------------------------------------------

@contextlib.contextmanager
def temp_database(backend: str, workdir: Path, pg_admin_url: str) -> Iterator[str]:
    """A fresh, migrated event store; SQLite file or PostgreSQL database, removed afterwards."""
    from bridge.events.migrate import upgrade

    if backend == "sqlite":
        folder = workdir / f"sqlite-{secrets.token_hex(4)}"
        folder.mkdir(parents=True)
        url = f"sqlite:///{folder / 'bridge.db'}"
        upgrade(url)
        yield url
        return

    with throwaway_postgres(pg_admin_url, "bridge_bench") as url:
        upgrade(url)  # also creates the queue's tables (bridge/events/migrate.py)
        yield url


@contextlib.contextmanager
def throwaway_postgres(pg_admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database `<prefix>_<random>` on that server (its URL), dropped
    afterwards whatever happens. Every benchmark that needs one takes it here."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bridge.config import normalize_database_url

    admin_url = make_url(normalize_database_url(pg_admin_url))
    name = f"{prefix}_{secrets.token_hex(5)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def on_each_store(measure, pg_admin_url: str, prefix: str) -> None:
    """`measure(url, label)` on a throwaway SQLite file, then on a throwaway PostgreSQL
    database when that server answers (else SQLite's figures stand alone, and it says so)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{tmp}/bench.db", "SQLite")
    if postgres_available(pg_admin_url) is None:
        print("PostgreSQL skipped: no server at --pg-url")
        return
    with throwaway_postgres(pg_admin_url, prefix) as url:
        measure(url, "PostgreSQL")


def postgres_available(pg_admin_url: str) -> str | None:
    """The server version when PostgreSQL answers, else None."""
    from sqlalchemy import create_engine, text

    from bridge.config import normalize_database_url

    try:
        engine = create_engine(normalize_database_url(pg_admin_url), connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                return connection.execute(text("SHOW server_version")).scalar()
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return None


# ---- the machine -------------------------------------------------------------------------

def machine_info(pg_version: str | None) -> dict:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory": f"{mem_gb:.1f} GB" if mem_gb else "unknown",
        "cpu": cpu_model,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "sqlite": sqlite3.sqlite_version,
        "postgres": pg_version or "not available",
        "loadavg_at_start": loadavg(),
    }
