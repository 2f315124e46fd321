"""Ingest: `POST /webhooks/okendo` through gunicorn with the shipped config, 16 clients.

Measured: requests/second, p50/p99 latency and non-202 answers of the bridge's webhook
endpoint (valid signed ~1.8 KB reviews, every webhook-id unique), on SQLite and on
PostgreSQL; the reference is bench/bare_app.py, a Flask endpoint that only reads the body
and answers 202, under the same gunicorn settings (bridge/gunicorn_conf.py: WEB_CONCURRENCY
processes × GUNICORN_THREADS threads, gthread, access log on) in the same run.

Only `bridge web` runs (no worker): what is timed is verify the signature → parse and
check the envelope → one INSERT (+ NOTIFY in its transaction on PostgreSQL) → COMMIT → 202;
the resource's full validation is the worker's (issue 16). The load generator is wrk
(closed loop, 16 connections, 2 threads) with bench/wrk_requests.lua, installed by
scripts/install-wrk.sh when missing (root only), or else the Python fallback
(bench/loadgen.py); the notes and the log say which ran. Each target gets a short warm-up
first (imports, connection pools). Requests are signed right before each run.
"""
from __future__ import annotations

from sqlalchemy import create_engine, text

from . import loadgen, payloads
from .harness import BACKEND_LABEL, Context
from .processes import LOOPBACK, PYTHON, base_env, bridge, bridge_env, free_port, loadavg, start, temp_database
from .report import Section, ms, num, verdict
from .settle import settle

NAME = "ingest"
CONNECTIONS = 16
TARGET_SHARE = 0.50
TARGET_P99_MS = 25.0


def _load(ctx: Context, url: str, requests_file, template_file, duration: float) -> loadgen.LoadResult:
    if ctx.wrk:
        return loadgen.run_wrk(ctx.wrk, url, requests_file, template_file, connections=CONNECTIONS,
                               duration=duration)
    return loadgen.run_python(url, requests_file, template_file, connections=CONNECTIONS, duration=duration)


def _measure(ctx: Context, url: str, label: str, duration: float, expected_rps: float) -> loadgen.LoadResult:
    """Warm up, sign a fresh request file big enough for the run, then load `url`."""
    folder = ctx.workdir / "ingest"
    folder.mkdir(exist_ok=True)
    template_file = folder / "template.json"
    warm = folder / f"{label}-warmup.txt"
    payloads.write_request_file(warm, template_file, ctx.secret, 3000)
    _load(ctx, url, warm, template_file, 2 if ctx.quick else 3)
    requests_file = folder / f"{label}.txt"
    count = int(max(20_000, expected_rps * duration * 1.5))
    took = payloads.write_request_file(requests_file, template_file, ctx.secret, count)
    ctx.log(f"    signed {count:,} requests in {took:.1f} s; loading {url} for {duration:.0f} s")
    return _load(ctx, url, requests_file, template_file, duration)


def _stored_events(database_url: str) -> int:
    from bridge.config import normalize_database_url

    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM events")).scalar()
    finally:
        engine.dispose()


def _rss_text(rss: dict) -> str:
    return (f"master {num(rss['main'], 'MB', 0)}, {len(rss['children'])} workers max "
            f"{num(rss['max_child'], 'MB', 0)} each, {num(rss['total'], 'MB', 0)} in all")


def run(ctx: Context) -> Section:
    duration = 8.0 if ctx.quick else 20.0
    section = Section("Ingest")
    ctx.log(f"  load generator: {'wrk ' + ctx.wrk if ctx.wrk else 'Python asyncio fallback (bench/loadgen.py)'}")
    section.note(f"load generator: {'wrk (bench/wrk_requests.lua)' if ctx.wrk else 'Python asyncio fallback'}, "
                 f"{CONNECTIONS} connections, {duration:.0f} s per target after a warm-up; "
                 f"body {payloads.body_size():,} bytes (positive review, unique reviewId and webhook-id)")

    # -- the ceiling: bare Flask under the same gunicorn settings --
    ctx.log(f"  bare Flask endpoint (load average {loadavg()})")
    port = free_port()
    env = base_env()
    env.update(BRIDGE_BIND=LOOPBACK, PORT=str(port))
    bare = start("bare", [PYTHON, "-m", "gunicorn", "--config", "python:bridge.gunicorn_conf",
                          "bench.bare_app:app"], env, ctx.workdir,
                 ready_url=f"http://{LOOPBACK}:{port}/healthz")
    try:
        bare_result = _measure(ctx, f"http://{LOOPBACK}:{port}/webhooks/okendo", "bare", duration, 3000)
        bare_rss = bare.peak_rss()
    finally:
        bare.stop()
    section.note(f"bare Flask: {bare_result.requests:,} requests in {bare_result.duration_s:.1f} s, "
                 f"p90 {ms(bare_result.p90_ms)}, max {ms(bare_result.max_ms)}; peak RSS {_rss_text(bare_rss)}")

    for backend in ctx.backends:
        label = BACKEND_LABEL[backend]
        # wrk and the run before this one leave work behind (PostgreSQL's checkpoint, the OS's
        # writeback): settle (bench/settle.py), so bare Flask and each store start alike.
        settled = settle(ctx.pg_admin_url if backend == "postgres" else None)
        avg = loadavg()
        ctx.log(f"  bridge on {label} (load average {avg}; {settled.describe()})")
        with temp_database(backend, ctx.workdir, ctx.pg_admin_url) as database_url:
            port = free_port()
            env = bridge_env(database_url, ctx.workdir, secret=ctx.secret, web_port=port,
                             emulator_url=f"http://{LOOPBACK}:{free_port()}")
            web = bridge(f"web-{backend}", ["web"], env, ctx.workdir,
                         ready_url=f"http://{LOOPBACK}:{port}/healthz")
            try:
                result = _measure(ctx, f"http://{LOOPBACK}:{port}/webhooks/okendo", backend, duration,
                                  bare_result.rps)
                rss = web.peak_rss()
            finally:
                web.stop()
            stored = _stored_events(database_url)
        share = result.rps / bare_result.rps if bare_result.rps else float("nan")
        section.row(f"{label}: throughput", num(result.rps, "req/s"),
                    f"bare Flask {num(bare_result.rps, 'req/s')} (bridge = {share:.0%})",
                    f"≥ {TARGET_SHARE:.0%} of bare", verdict(share >= TARGET_SHARE))
        section.row(f"{label}: latency p50 / p99", f"{ms(result.p50_ms)} / {ms(result.p99_ms)}",
                    f"bare {ms(bare_result.p50_ms)} / {ms(bare_result.p99_ms)}",
                    f"p99 < {TARGET_P99_MS:.0f} ms", verdict(result.p99_ms < TARGET_P99_MS))
        bad = {k: v for k, v in result.statuses.items() if k != "202"}
        bad.update(result.socket_errors)
        section.row(f"{label}: errors (not 202)", f"{result.errors:,} of {result.requests:,}"
                    + (f" {bad}" if bad else ""), f"bare {bare_result.errors:,}", "0",
                    verdict(result.errors == 0))
        section.row(f"{label}: web peak RSS (per process)",
                    f"{num(rss['max_child'], 'MB', 0)} worker, {num(rss['main'], 'MB', 0)} master",
                    f"bare {num(bare_rss['max_child'], 'MB', 0)} worker", "< 120 MB each",
                    verdict(max(rss['max_child'] or 0, rss['main'] or 0) < 120))
        misses = []
        if share < TARGET_SHARE:
            misses.append(f"throughput by {(TARGET_SHARE - share) * 100:.0f} points of bare "
                          f"({result.rps * (TARGET_SHARE / share - 1) if share else float('nan'):,.0f} req/s more needed)")
        if not result.p99_ms < TARGET_P99_MS:
            misses.append(f"p99 by {result.p99_ms - TARGET_P99_MS:.0f} ms")
        if misses:
            section.note(f"{label}: missed {'; '.join(misses)} (docs/design-notes.md, 'Ingest', says what is next)")
        section.note(f"{label}: load average at start {avg}; {settled.describe()}; {result.requests:,} requests in "
                     f"{result.duration_s:.1f} s, p90 {ms(result.p90_ms)}, max {ms(result.max_ms)}; "
                     f"events stored (warm-up included) {stored:,}; "
                     f"wrapped request files {result.wrapped}; peak RSS {_rss_text(rss)}")
    return section
