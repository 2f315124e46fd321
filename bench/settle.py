"""Let the machine settle before a benchmark, so that its figures measure the bridge and not
the previous benchmark's residue.

Why: a full `make bench` once reported PostgreSQL's end-to-end p95 at 4.4 s where a run on
its own, on the same quiet machine, gave 53 ms: the e2e benchmark had started right after
the ingest benchmark (load average 2.9), while PostgreSQL was still writing out and vacuuming
what ingest had stored. So before each benchmark (and before each store inside one), `settle`

1. asks PostgreSQL for a `CHECKPOINT` (when a benchmark uses it), so the previous run's dirty
   pages are written now rather than during the next measurement;
2. waits until the CPUs are quiet: the idle share from /proc/stat (idle only; iowait counts as
   busy, since a disk still flushing is residue too) at or above `IDLE_SHARE` in `QUIET_WINDOWS`
   consecutive windows of `WINDOW_SECONDS`, for at most `MAX_WAIT_SECONDS`.

It reports what it saw (`Settled.describe()`, which the benchmarks put in their notes):
how long it waited, the idle share of the last window, and, honestly, when the machine never
settled within the cap (then the figures were taken on a busy machine, and the note says so).

Failure policy: never raises. No /proc/stat (not Linux) means no wait ("idle share unknown");
a failed CHECKPOINT (no server, no privilege) is noted and the wait goes on without it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

IDLE_SHARE = 0.85  # of all CPUs' time: on 2 cores, at most ~0.3 of a core busy
WINDOW_SECONDS = 1.0
QUIET_WINDOWS = 2
MAX_WAIT_SECONDS = 60.0


@dataclass
class Settled:
    waited_s: float
    idle_share: float | None  # of the last window measured; None when /proc/stat is unreadable
    quiet: bool  # the machine was quiet for QUIET_WINDOWS windows before the cap
    checkpoint: str | None = None  # "done", an error, or None when PostgreSQL was not asked

    def describe(self) -> str:
        idle = "idle share unknown (no /proc/stat)" if self.idle_share is None \
            else f"CPU idle {self.idle_share:.0%} at start"
        text = f"settled {self.waited_s:.0f} s before it, {idle}"
        if not self.quiet and self.idle_share is not None:
            text += (f" (the machine NEVER settled: below {IDLE_SHARE:.0%} idle for the whole "
                     f"{MAX_WAIT_SECONDS:.0f} s cap, so these figures are a busy machine's)")
        if self.checkpoint is not None:
            text += f"; PostgreSQL CHECKPOINT {self.checkpoint}"
        return text


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs since boot, or None."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    # in user/nice, so it is left out of the total.
    return fields[3], sum(fields[:8])


def idle_share(seconds: float = WINDOW_SECONDS) -> float | None:
    """The share of all CPUs' time spent idle over the next `seconds`, or None."""
    before = _cpu_times()
    time.sleep(seconds)
    after = _cpu_times()
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def checkpoint(pg_url: str) -> str:
    """Run CHECKPOINT on the server at `pg_url`; "done" or why not (never raises)."""
    try:
        from sqlalchemy import create_engine, text

        from bridge.config import normalize_database_url

        engine = create_engine(normalize_database_url(pg_url), isolation_level="AUTOCOMMIT",
                               connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as connection:
                connection.execute(text("CHECKPOINT"))
        finally:
            engine.dispose()
        return "done"
    except Exception as exc:  # noqa: BLE001 - see the failure policy
        return f"failed ({type(exc).__name__})"


def settle(pg_url: str | None = None, *, threshold: float = IDLE_SHARE,
           max_wait: float = MAX_WAIT_SECONDS) -> Settled:
    """CHECKPOINT (when `pg_url`), then wait for a quiet machine (see module docstring)."""
    started = time.monotonic()
    done = checkpoint(pg_url) if pg_url else None
    quiet_in_row, share = 0, None
    while True:
        share = idle_share()
        if share is None:
            return Settled(time.monotonic() - started, None, False, done)
        quiet_in_row = quiet_in_row + 1 if share >= threshold else 0
        if quiet_in_row >= QUIET_WINDOWS:
            return Settled(time.monotonic() - started, share, True, done)
        if time.monotonic() - started >= max_wait:
            return Settled(time.monotonic() - started, share, False, done)
