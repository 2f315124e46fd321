"""What the process-driving benchmarks share: the run's context, starting the emulator,
`bridge web` and `bridge worker`, sending signed events, and reading what the emulator got."""
from __future__ import annotations

import math
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

from . import payloads
from .processes import LOOPBACK, Proc, base_env, bridge, bridge_env, free_port, wait_for


@dataclass
class Context:
    workdir: Path
    quick: bool
    backends: list[str]
    pg_admin_url: str
    secret: str
    loadgen: str  # "auto", "wrk" or "python"
    pacing_rpm: int
    log: Callable[[str], None] = print
    wrk: str | None = None  # resolved path when wrk is used


BACKEND_LABEL = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# ---- processes -----------------------------------------------------------------------------

@dataclass
class Stack:
    """An emulator and (optionally) a web and a worker process against one database."""

    ctx: Context
    database_url: str
    emulator_args: list[str] = field(default_factory=list)
    env_overrides: dict = field(default_factory=dict)
    emulator: Proc | None = None
    web: Proc | None = None
    worker: Proc | None = None

    def __post_init__(self):
        self.emulator_port, self.web_port = free_port(), free_port()
        self.emulator_url = f"http://{LOOPBACK}:{self.emulator_port}"
        self.web_url = f"http://{LOOPBACK}:{self.web_port}"
        self.env = bridge_env(self.database_url, self.ctx.workdir, secret=self.ctx.secret,
                              web_port=self.web_port, emulator_url=self.emulator_url,
                              **self.env_overrides)

    @property
    def webhook_url(self) -> str:
        return f"{self.web_url}/webhooks/okendo"

    def start_emulator(self) -> Proc:
        self.emulator = bridge("emulator", ["kustomer-emulator", "--host", LOOPBACK, "--port",
                                            str(self.emulator_port), *self.emulator_args],
                               base_env(), self.ctx.workdir,
                               ready_url=f"{self.emulator_url}/__emulator/health")
        return self.emulator

    def start_web(self) -> Proc:
        self.web = bridge("web", ["web"], self.env, self.ctx.workdir, ready_url=f"{self.web_url}/healthz")
        return self.web

    def start_worker(self, threads: int | None = None, name: str = "worker") -> Proc:
        args = ["worker"] + (["--threads", str(threads)] if threads else [])
        proc = bridge(name, args, self.env, self.ctx.workdir)
        wait_for(lambda: _worker_started(proc), 40, 0.1, f"{name} to start")
        self.worker = proc
        return proc

    def stop(self) -> None:
        for proc in (self.worker, self.web, self.emulator):
            if proc is not None:
                proc.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- the emulator's side --
    def emulator_stats(self) -> dict:
        return requests.get(f"{self.emulator_url}/__emulator/stats", timeout=10).json()

    def emulator_reset(self) -> None:
        requests.post(f"{self.emulator_url}/__emulator/reset", timeout=10).raise_for_status()

    def emulator_faults(self, **faults) -> None:
        requests.post(f"{self.emulator_url}/__emulator/faults", json=faults, timeout=10).raise_for_status()

    def received_hooks(self) -> list[dict]:
        return requests.get(f"{self.emulator_url}/__emulator/received", timeout=60).json()["hooks"]

    def wait_hooks(self, count: int, timeout: float) -> int:
        """Wait until the emulator has `count` hooks; returns how many it has (maybe fewer)."""
        deadline = time.monotonic() + timeout
        got = 0
        while time.monotonic() < deadline:
            got = self.emulator_stats()["hooks"]
            if got >= count:
                break
            time.sleep(0.2)
        return got


def _worker_started(proc: Proc) -> bool:
    if not proc.alive():
        raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
    return "worker started" in proc.log_tail(20000)


def review_id_of(hook: dict) -> str | None:
    """The reviewId in a hook body the emulator recorded (native-review shape)."""
    data = hook.get("transaction", {}).get("attributes", {}).get("data")
    if isinstance(data, dict) and isinstance(data.get("review"), dict):
        return data["review"].get("reviewId")
    return None


# ---- sending events ------------------------------------------------------------------------

@dataclass
class Sent:
    review_id: str
    sent_at: float  # epoch seconds, just before the request was written
    status: int | None
    answer_ms: float | None
    lag_s: float = 0.0  # how late against the schedule (open-loop sending only)


class Sender:
    """Signs and POSTs review events; one requests.Session per thread (keep-alive)."""

    def __init__(self, url: str, secret: str):
        self.url, self.secret = url, secret
        self.template = payloads.template()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send_one(self, scheduled: float | None = None) -> Sent:
        review_id = str(uuid.uuid4())
        body = payloads.review_body(review_id, self.template)
        headers = payloads.signed_headers(self.secret, body)
        sent_at = time.time()
        lag = sent_at - scheduled if scheduled is not None else 0.0
        started = time.perf_counter()
        try:
            status = self._session().post(self.url, data=body, headers=headers, timeout=15).status_code
        except requests.RequestException:
            status = None
        return Sent(review_id, sent_at, status, (time.perf_counter() - started) * 1000, lag)

    def burst(self, count: int, concurrency: int = 16) -> list[Sent]:
        """`count` events as fast as `concurrency` keep-alive connections allow."""
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(lambda _: self.send_one(), range(count)))

    def steady(self, rate: float, count: int, concurrency: int = 8) -> list[Sent]:
        """Open loop: event i is sent at start + i/rate, whatever the answers take."""
        start = time.time() + 0.2
        futures = []
        with ThreadPoolExecutor(concurrency) as pool:
            for i in range(count):
                scheduled = start + i / rate
                delay = scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self.send_one, scheduled))
            return [f.result() for f in futures]
