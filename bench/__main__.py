"""`python -m bench [--quick] [--only ingest,e2e,mapping,pacing,scale,history]`: run the benchmarks,
print the table, write it into docs/benchmarks.md (see bench/report.py).

Every process a benchmark starts is stopped before this exits (try/finally, and on
SIGINT/SIGTERM); throwaway databases are dropped. Only loopback addresses are used.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import e2e, history, ingest, loadgen, mapping_cost, mapping_pickup, pacing, report, scale, settle
from .harness import BACKEND_LABEL, Context
from .processes import DEFAULT_PG_ADMIN_URL, ROOT, loadavg, machine_info, new_secret, postgres_available, stop_all

BENCHMARKS = {m.NAME: m for m in (mapping_cost, mapping_pickup, ingest, e2e, scale, pacing, history)}  # run in this order


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs (ingest 8 s, e2e 20 s, pacing 300 events, scale 80 events)")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--databases", default="sqlite,postgres",
                        help="event stores to run on: sqlite, postgres (skipped when unreachable)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_ADMIN_URL),
                        help="PostgreSQL server to create throwaway databases on "
                             "(default $BENCH_DATABASE_URL or %(default)s)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="ingest load generator: wrk (installed with apt-get when root), or Python")
    parser.add_argument("--pacing-rpm", type=int, default=590,
                        help="KUSTOMER_REQUESTS_PER_MINUTE for the pacing benchmark (budget is 600)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="markdown file to update (default docs/benchmarks.md)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the markdown alone")
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs and request files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    backends = [b.strip() for b in args.databases.split(",") if b.strip()]
    if any(b not in BACKEND_LABEL for b in backends):
        print(f"--databases: use sqlite and/or postgres, not {args.databases!r}", file=sys.stderr)
        return 2

    def log(text: str) -> None:
        print(text, flush=True)

    pg_version = postgres_available(args.pg_url) if "postgres" in backends else None
    if "postgres" in backends and pg_version is None:
        log(f"PostgreSQL at {args.pg_url} does not answer: running on SQLite only")
        backends.remove("postgres")
    machine = machine_info(pg_version)
    mode = "quick run (--quick)" if args.quick else "full run"
    log(f"{mode}: {', '.join(n for n in BENCHMARKS if n in selected)} on "
        f"{', '.join(BACKEND_LABEL[b] for b in backends)}; load average {machine['loadavg_at_start']}")

    workdir = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    ctx = Context(workdir=workdir, quick=args.quick, backends=backends, pg_admin_url=args.pg_url,
                  secret=new_secret(), loadgen=args.loadgen, pacing_rpm=args.pacing_rpm, log=log)
    if "ingest" in selected and args.loadgen != "python":
        ctx.wrk = loadgen.ensure_wrk(log)
        if ctx.wrk is None and args.loadgen == "wrk":
            log("--loadgen wrk: wrk is not available")
            return 2

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    sections: list[report.Section] = []
    started = time.monotonic()
    try:
        for name, module in BENCHMARKS.items():
            if name not in selected:
                continue
            # Each figure measures the bridge, not the previous benchmark's residue (bench/settle.py).
            settled = settle.settle(args.pg_url if "postgres" in backends else None)
            log(f"\n== {name} (load average {loadavg()}; {settled.describe()})")
            try:
                section = module.run(ctx)
                section.note(f"Before this benchmark: {settled.describe()}.")
                sections.append(section)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - report it, run the others
                log(traceback.format_exc())
                failed = report.Section(name)
                failed.row("benchmark failed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}",
                           verdict="n/a")
                sections.append(failed)
            finally:
                stop_all()
    except KeyboardInterrupt:
        log("interrupted: stopping processes")
        return 130
    finally:
        stop_all()
        if args.keep_workdir:
            log(f"logs and request files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    command = "python -m bench" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    log("\n" + report.render_text(sections, machine, mode))
    log(f"\n(total {time.monotonic() - started:.0f} s)")
    if not args.no_write:
        partial = set(selected) != set(BENCHMARKS)
        output = Path(args.output)
        if partial and output.resolve() == (ROOT / "docs" / "benchmarks.md").resolve():
            log(f"only part of the benchmarks ran: {output} left alone (use --output to write elsewhere)")
        else:
            report.write_doc(output, report.render_markdown(sections, machine, mode, command.strip()))
            log(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
