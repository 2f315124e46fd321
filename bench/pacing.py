"""Pacing: a burst far over the org's budget is delivered as fast as the budget allows.

The emulator limits the org to 600 requests per rolling 60 s (rate_limit_per_minute and
hook_limit_per_minute both 600; a request is refused with 429 when 600 already arrived in
the last 60 s). A burst of 2,000 events (300 with --quick) is posted to `bridge web` from 16
connections as fast as it answers; `bridge worker` (4 threads) delivers them, paced by
KUSTOMER_REQUESTS_PER_MINUTE (default here 590: see below).

Measured: from the first POST of the burst to the emulator recording the last hook; and the
429s the emulator sent. Compared with two floors computed from the budget B = 600/min:

* steady-rate floor: a sender spreading calls evenly at B/60 per second, after a first
  burst of B//60 calls (what the bridge's GCRA pacer allows), needs (N - B//60) / (B/60) s;
* rolling-window floor: the window itself would also accept B calls at once and B more
  every 60 s, so the absolute least is floor((N-1)/B) × 60 s. For N ≤ B that is ~0: then
  only the steady-rate floor is meaningful.

The bridge's own schedule at the pace used is also computed exactly by running
`bridge.kustomer.pacing.Pacer` on a virtual clock. Why 590 and not 600: the pacer counts its
grants on the worker's clock; the emulator counts arrivals. A grant and its arrival are a
few ms apart, and the gap varies (2 cores shared with the web server taking the burst), so
at exactly 600 the 601st call can reach the window a hair before the 1st has left it and
get a 429. Ten calls per minute of margin (1.7 % slower) absorb that.
"""
from __future__ import annotations

import math
import re
import time

from bridge.kustomer.pacing import Pacer

from .harness import Context, Sender, Stack
from .processes import loadavg, temp_database
from .report import Section, num, verdict

NAME = "pacing"
BUDGET = 600
HANDFUL = 5


def pacer_schedule_seconds(rpm: int, count: int) -> float:
    """When the bridge's pacer would grant the `count`-th call of a backlog (virtual clock)."""
    now = [0.0]
    pacer = Pacer(rpm, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(count):
        pacer.acquire()
    return now[0]


def floors(count: int, budget: int = BUDGET) -> tuple[float, float]:
    steady = max(0, count - budget // 60) / (budget / 60)
    window = math.floor((count - 1) / budget) * 60.0
    return steady, window


def _sweeper_reenqueued(log_text: str) -> int:
    return sum(int(n) for n in re.findall(r"sweeper re-enqueued (\d+) event", log_text))


def run(ctx: Context) -> Section:
    count = 300 if ctx.quick else 2000
    rpm = ctx.pacing_rpm
    steady, window = floors(count)
    own = pacer_schedule_seconds(rpm, count)
    section = Section("Pacing")
    avg = loadavg()
    section.note(f"{'QUICK run: ' if ctx.quick else ''}burst of {count:,} events; emulator budget {BUDGET}/min "
                 f"(rolling 60 s) for hooks and API; KUSTOMER_REQUESTS_PER_MINUTE={rpm}; worker threads 4; "
                 f"SQLite; load average at start {avg}")
    ctx.log(f"  {count} events at {rpm}/min against a {BUDGET}/min budget (load average {avg})")
    backend = "sqlite"
    with temp_database(backend, ctx.workdir, ctx.pg_admin_url) as database_url, \
            Stack(ctx, database_url,
                  emulator_args=["--rate-limit", str(BUDGET), "--hook-limit", str(BUDGET)],
                  env_overrides={"KUSTOMER_REQUESTS_PER_MINUTE": rpm}) as stack:
        stack.start_emulator()
        stack.start_web()
        stack.start_worker()
        sender = Sender(stack.webhook_url, ctx.secret)
        started = time.time()
        sent = sender.burst(count, 16)
        posted = time.time() - started
        ctx.log(f"    burst posted in {posted:.1f} s; waiting for delivery (about {own:.0f} s)")
        got = stack.wait_hooks(count, own * 1.5 + 120)
        hooks = stack.received_hooks()
        stats = stack.emulator_stats()
        reenqueued = _sweeper_reenqueued(stack.worker.log_tail(50_000_000))
    times = sorted(h["received_at"] for h in hooks)
    took = times[-1] - started if len(times) >= count else float("nan")
    first = times[0] - started if times else float("nan")
    not_202 = sum(1 for s in sent if s.status != 202)
    over_steady = took / steady - 1 if steady else float("nan")
    section.row(f"{count:,} events: time to deliver", num(took, "s", 1),
                f"steady-rate floor at {BUDGET}/min {num(steady, 's', 1)} ({over_steady:+.1%})",
                "within 10 %", verdict(got >= count and took <= steady * 1.10))
    if window > 0:
        over_window = took / window - 1
        section.row(f"{count:,} events: vs rolling-window floor", num(took, "s", 1),
                    f"window floor {num(window, 's', 0)} ({over_window:+.1%})", "—", "—")
    section.row("429s received", num(stats["throttled"]), f"{stats['requests']:,} requests to the emulator",
                f"≤ {HANDFUL}", verdict(stats["throttled"] <= HANDFUL))
    section.note(f"bridge pacer's own schedule at {rpm}/min for {count:,} calls: last grant at {own:.1f} s "
                 f"(at {BUDGET}/min: {pacer_schedule_seconds(BUDGET, count):.1f} s); "
                 f"burst posted in {posted:.1f} s ({not_202} not 202); first hook after {first:.2f} s; "
                 f"hooks recorded {got:,}; sweeper re-enqueued {reenqueued:,} events still waiting for the pacer")
    return section
