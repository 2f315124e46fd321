"""The figures table: printed to the terminal and written into docs/benchmarks.md.

docs/benchmarks.md is partly hand-written (method, findings). A run replaces only what lies
between the two marker comments below; when the file or the markers are missing, it writes a
fresh file with a short method section around them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

START = "<!-- bench:results:start (written by `make bench`; edits here are overwritten) -->"
END = "<!-- bench:results:end -->"


@dataclass
class Row:
    figure: str
    measured: str
    reference: str = "—"
    target: str = "—"
    verdict: str = "—"  # "met", "missed", "—" (no target) or "n/a" (not measured)


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def row(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row

    def note(self, text: str) -> None:
        self.details.append(text)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "met" if ok else "MISSED"


def ms(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def num(value: float, unit: str = "", digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip()


# ---- rendering ------------------------------------------------------------------------------

HEADERS = ("Benchmark", "Figure", "Measured", "Reference (same run)", "Target", "")


def _table_rows(sections: list[Section]) -> list[tuple[str, ...]]:
    rows = []
    for section in sections:
        for i, row in enumerate(section.rows):
            rows.append((section.title if i == 0 else "", row.figure, row.measured, row.reference,
                         row.target, row.verdict))
    return rows


def render_text(sections: list[Section], machine: dict, mode: str) -> str:
    rows = _table_rows(sections)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    line = "  ".join("-" * w for w in widths)
    out = [f"Benchmarks ({mode}), {machine['date']}: {machine['cores']} cores, {machine['memory']}, "
           f"{machine['cpu']}, Python {machine['python']}", "",
           "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths)), line]
    for r in rows:
        if r[0] and len(out) > 4:
            out.append(line)
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    out.append("")
    for section in sections:
        if section.details:
            out.append(f"{section.title}:")
            out.extend(f"  - {d}" for d in section.details)
    return "\n".join(out)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(sections: list[Section], machine: dict, mode: str, command: str) -> str:
    out = [
        f"Run of **{machine['date']}** (`{command}`, {mode}).",
        "",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['memory']} memory, "
        f"{machine['os']}, Python {machine['python']}, SQLite {machine['sqlite']}, "
        f"PostgreSQL {machine['postgres']}. Load average (1/5/15 min) at the start of the run: "
        f"{machine['loadavg_at_start']}; at the start of each benchmark: see its notes.",
        "",
        "| " + " | ".join(HEADERS[:-1]) + " | Met? |",
        "|" + "---|" * len(HEADERS),
    ]
    for r in _table_rows(sections):
        cells = [f"**{_md_escape(r[0])}**" if r[0] else ""] + [_md_escape(c) for c in r[1:]]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    for section in sections:
        if section.details:
            out.append(f"**{section.title}**")
            out.append("")
            out.extend(f"- {d}" for d in section.details)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


FRESH_DOC = """# Benchmarks

`make bench` (or `.venv/bin/python -m bench`, `--quick` for a short run, `--only
ingest,e2e,mapping,pacing,scale` to select) runs every benchmark below against real
processes on this machine and rewrites the results section of this file. No test asserts a
timing; each figure stands beside its reference from the same run and its target.

## Results

{results}

## Method

See `bench/` (one module per benchmark); the module docstrings say what is measured where.
"""


def write_doc(path: Path, results_markdown: str) -> None:
    block = f"{START}\n{results_markdown}{END}"
    if path.exists():
        text = path.read_text()
        start, end = text.find(START), text.find(END)
        if start != -1 and end > start:
            path.write_text(text[:start] + block + text[end + len(END):])
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FRESH_DOC.format(results=block))
