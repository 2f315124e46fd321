"""Closed-loop HTTP load: N connections, each sending its next request as soon as the
previous answer arrives, for a fixed time. Two implementations, same request stream:

* wrk (C, event loop; https://github.com/wg/wrk) with bench/wrk_requests.lua, which cycles
  through a file of pre-signed requests. Preferred: it costs the server little CPU. When
  `wrk` is missing, `ensure_wrk()` runs scripts/install-wrk.sh (Debian's package; root only).
* a Python asyncio client (this module), used when wrk cannot be had. It is documented
  as the fallback and the output says which one ran: being Python, it spends more CPU per
  request than wrk, on the same 2 cores as the server, so its figures run lower.

Latency is measured per request from the first byte written to the last byte read, on
keep-alive connections (gunicorn's keepalive is 5 s).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LUA_SCRIPT = Path(__file__).with_name("wrk_requests.lua")
INSTALL_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install-wrk.sh"


@dataclass
class LoadResult:
    tool: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict = field(default_factory=dict)
    socket_errors: dict = field(default_factory=dict)
    wrapped: int = 0

    @property
    def errors(self) -> int:
        """Anything but a 202: other statuses (duplicates included) and socket errors."""
        not_202 = sum(v for k, v in self.statuses.items() if k != "202")
        return not_202 + sum(self.socket_errors.values())


def ensure_wrk(log=print) -> str | None:
    """Path to wrk; when missing, runs scripts/install-wrk.sh (Debian's package, as root).
    None when that is impossible: the caller falls back to the Python generator."""
    found = shutil.which("wrk")
    if found:
        return found
    log(f"wrk is not installed; trying {INSTALL_SCRIPT.relative_to(INSTALL_SCRIPT.parents[1])}")
    try:
        result = subprocess.run(["bash", str(INSTALL_SCRIPT)], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                                capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log(f"  could not run it: {exc}")
        return None
    found = shutil.which("wrk")
    if found:
        log(f"installed {found}")
    else:
        log(f"could not install wrk ({(result.stderr or result.stdout).strip()[-300:]}): "
            "using the Python load generator")
    return found


def run_wrk(wrk: str, url: str, requests_file: Path, template_file: Path, *, connections: int,
            duration: float, threads: int = 2) -> LoadResult:
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{int(round(duration))}s", "--timeout", "10s",
            "-s", str(LUA_SCRIPT), url, "--", str(requests_file), str(template_file), str(threads)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    line = next((l for l in result.stdout.splitlines() if l.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(line[len("BENCH_JSON "):])
    seconds = data["duration_us"] / 1e6
    latency = data["latency_us"]
    statuses = {k: v for k, v in data["statuses"].items() if v}
    errors = {k: v for k, v in data["errors"].items() if v and k != "status"}
    return LoadResult(
        tool=f"wrk {threads} threads", connections=connections, duration_s=seconds,
        requests=data["requests"], rps=data["requests"] / seconds,
        p50_ms=latency["p50"] / 1000, p90_ms=latency["p90"] / 1000, p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000, statuses=statuses, socket_errors=errors, wrapped=data["wrapped"])


# ---- the Python fallback -----------------------------------------------------------------

def run_python(url: str, requests_file: Path, template_file: Path, *, connections: int,
               duration: float) -> LoadResult:
    lines = [line.split() for line in requests_file.read_text().splitlines() if line.strip()]
    prefix, _, suffix = template_file.read_text().partition("@@REVIEW_ID@@")
    return asyncio.run(_run_async(url, lines, prefix.encode(), suffix.encode(), connections, duration))


async def _run_async(url, lines, prefix, suffix, connections, duration) -> LoadResult:
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port or 80, parts.path or "/"
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    wrapped = [0]
    started = time.perf_counter()
    stop_at = started + duration

    async def one_connection(index: int) -> None:
        position = index
        reader = writer = None
        while time.perf_counter() < stop_at:
            if position >= len(lines):
                position %= len(lines)
                wrapped[0] += 1
            webhook_id, timestamp, signature, review_id = lines[position]
            position += connections
            body = prefix + review_id.encode() + suffix
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"webhook-id: {webhook_id}\r\nwebhook-timestamp: {timestamp}\r\n"
                    f"webhook-signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n")
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
                t0 = time.perf_counter()
                writer.write(head.encode() + body)
                status, close = await asyncio.wait_for(_read_response(reader), 10)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if close:
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                kind = "timeout" if isinstance(exc, asyncio.TimeoutError) else "read"
                errors[kind] = errors.get(kind, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(one_connection(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000

    return LoadResult(
        tool="python asyncio (fallback)", connections=connections, duration_s=elapsed,
        requests=len(latencies), rps=len(latencies) / elapsed, p50_ms=pct(50), p90_ms=pct(90),
        p99_ms=pct(99), max_ms=ordered[-1] * 1000, statuses=statuses, socket_errors=errors,
        wrapped=wrapped[0])


async def _read_response(reader: asyncio.StreamReader) -> tuple[str, bool]:
    status_line = await reader.readuntil(b"\r\n")
    status = status_line.split()[1].decode()
    length, close = 0, False
    while True:
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close
