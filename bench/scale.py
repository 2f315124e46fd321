"""Scale: delivery throughput with 1, 2 and 4 worker threads when Kustomer is slow.

The emulator answers every call after 100 ms (`--latency-ms 100`), so one thread can deliver
at most ~10 hooks/s and T threads ~10·T/s: the figure shows whether threads, the queue and
the database let the worker use that. For each T, a backlog of positive reviews (300, or 80
with --quick) is stored through `bridge web` while no worker runs, then `bridge worker
--threads T` starts; throughput = (hooks − 1) / (last received_at − first received_at) at the
emulator. Pacing is off (KUSTOMER_REQUESTS_PER_MINUTE=0): the limit under test is latency.
"Linear" is T × the 1-thread figure.

Peak RSS (VmHWM from /proc/<pid>/status) of the worker (one process: huey consumer threads
and the sweeper) is read after its run, and of `bridge web` (gunicorn master and each worker
process, reported per process) after the backlog was posted.
"""
from __future__ import annotations

from .harness import BACKEND_LABEL, Context, Sender, Stack
from .processes import loadavg, temp_database
from .report import Section, num, verdict

NAME = "scale"
LATENCY_MS = 100
THREADS = (1, 2, 4)
TARGET_RSS_MB = 120


def run(ctx: Context) -> Section:
    count = 80 if ctx.quick else 300
    section = Section("Scale")
    section.note(f"emulator latency {LATENCY_MS} ms per call; {count} events per thread count; pacing off; "
                 f"ideal = threads × 1000/{LATENCY_MS} hooks/s")
    for backend in ctx.backends:
        label = BACKEND_LABEL[backend]
        avg = loadavg()
        ctx.log(f"  {label} (load average {avg})")
        rates: dict[int, float] = {}
        worker_rss: dict[int, float] = {}
        with temp_database(backend, ctx.workdir, ctx.pg_admin_url) as database_url, \
                Stack(ctx, database_url, emulator_args=["--latency-ms", str(LATENCY_MS)],
                      env_overrides={"KUSTOMER_REQUESTS_PER_MINUTE": 0}) as stack:
            stack.start_emulator()
            stack.start_web()
            sender = Sender(stack.webhook_url, ctx.secret)
            for threads in THREADS:
                stack.emulator_reset()  # forgets faults too: set the latency again
                stack.emulator_faults(latency_ms=LATENCY_MS)
                sent = sender.burst(count, 16)
                bad = sum(1 for s in sent if s.status != 202)
                worker = stack.start_worker(threads, name=f"worker-{backend}-{threads}")
                try:
                    timeout = count * LATENCY_MS / 1000 / threads * 3 + 60
                    got = stack.wait_hooks(count, timeout)
                    worker_rss[threads] = worker.peak_rss()["main"]
                finally:
                    worker.stop()
                times = sorted(h["received_at"] for h in stack.received_hooks())
                rates[threads] = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")
                ctx.log(f"    {threads} thread(s): {rates[threads]:.1f} hooks/s ({got} hooks, {bad} not 202)")
            web_rss = stack.web.peak_rss()
        base = rates[1]
        for threads in THREADS:
            ideal = threads * 1000 / LATENCY_MS
            linear = threads * base
            section.row(f"{label}: {threads} thread{'s' if threads > 1 else ''}",
                        num(rates[threads], "hooks/s", 1),
                        f"linear {num(linear, '/s', 1)} ({rates[threads] / linear:.0%}); ideal {ideal:.0f}/s",
                        "near-linear" if threads > 1 else "—",
                        verdict(rates[threads] >= 0.85 * linear) if threads > 1 else "—")
        top = max(worker_rss.values())
        section.row(f"{label}: worker peak RSS", num(top, "MB", 0),
                    "per thread count: " + ", ".join(f"{t}: {num(v, 'MB', 0)}" for t, v in worker_rss.items()),
                    f"< {TARGET_RSS_MB} MB", verdict(top < TARGET_RSS_MB))
        section.row(f"{label}: web peak RSS (per process)",
                    f"{num(web_rss['max_child'], 'MB', 0)} worker, {num(web_rss['main'], 'MB', 0)} master",
                    f"{len(web_rss['children'])} gunicorn workers, {num(web_rss['total'], 'MB', 0)} in all",
                    f"< {TARGET_RSS_MB} MB each",
                    verdict(max(web_rss['max_child'] or 0, web_rss['main'] or 0) < TARGET_RSS_MB))
        section.note(f"{label}: load average at start {avg}; 'near-linear' is read as ≥ 85 % of linear")
    return section
