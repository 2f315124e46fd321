"""Where an event's end-to-end time goes, phase by phase (the e2e benchmark's breakdown).

Every timestamp below is taken on the same machine's clock, by the process that lived the
moment, so the phases of one event add up to its latency (sent -> at the emulator), and the
ones after it (the worker's writes) say what keeps a worker thread from its next event:

  web       sender writes the request -> `events.received_at` (the web's parse and signature
            check, before its INSERT)
  wake      received_at -> the worker's round starts (the INSERT's commit, the wake-up: NOTIFY or
            the SQLite change check, the claim query, and any wait for a free worker thread)
  prepare   round start -> `attempts.started_at` (the read before the actions, validate, map,
            the client's pacer)
  post      attempts.started_at -> the emulator's `received_at` (the hook POST on the wire and
            the emulator's handling up to its record)
  answer    the emulator's record -> the worker has the answer (started_at + latency_ms)
  record    answer -> `events.completed_at` (the outcome's transaction, then the final
            UPDATE's values are taken)
  finish    completed_at -> the round ends (the final transaction's commit)

The round's start is read from the worker's metric line ("event N processed: ... in X ms",
`bridge.delivery.metrics_log`): its timestamp minus X (the line's timestamp has millisecond
resolution, so `wake` and `prepare` are within a millisecond).

Failure policy: this only reads; an event missing any timestamp is left out of the phases
it lacks (and counted in `incomplete`).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from .harness import percentile

PHASES = ("web", "wake", "prepare", "post", "answer", "record", "finish")


def _epoch(value) -> float | None:
    """Epoch seconds of a timestamp column (SQLite hands back text or naive UTC datetimes)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def rounds(worker_log: Path) -> dict[int, tuple[float, float]]:
    """event id -> (start, end) in epoch seconds of its last round, from the worker's metric lines."""
    found: dict[int, tuple[float, float]] = {}
    try:
        lines = worker_log.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        if '"bridge.metrics"' not in line or "processed" not in line:
            continue
        try:
            record = json.loads(line)
            ended = datetime.fromisoformat(record["ts"]).timestamp()
            found[int(record["event_id"])] = (ended - float(record["latency_ms"]) / 1000, ended)
        except (ValueError, KeyError, TypeError):
            continue
    return found


def measure(database_url: str, worker_log: Path, sent_at: dict[str, float],
            at_emulator: dict[str, float]) -> dict:
    """Per-phase lists of milliseconds over the events sent in the measured run (`sent_at`:
    reviewId -> epoch seconds), plus `incomplete`, the events some timestamp was missing for."""
    from sqlalchemy import create_engine, text

    from bridge.config import normalize_database_url

    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT e.id, e.resource_id, e.received_at, e.completed_at, a.started_at, a.latency_ms "
                "FROM events e LEFT JOIN attempts a ON a.event_id = e.id")).all()
    finally:
        engine.dispose()
    spans = rounds(worker_log)
    phases: dict[str, list[float]] = {name: [] for name in PHASES}
    incomplete = 0
    for event_id, review_id, received, completed, started, latency in rows:
        sent = sent_at.get(review_id)
        if sent is None:
            continue  # the warm-up's events
        round_start, round_end = spans.get(event_id, (None, None))
        posted = _epoch(started)
        answered = posted + latency / 1000 if posted is not None and latency is not None else None
        marks = [sent, _epoch(received), round_start, posted, at_emulator.get(review_id), answered,
                 _epoch(completed), round_end]
        if any(m is None for m in marks):
            incomplete += 1
        for name, (a, b) in zip(PHASES, zip(marks, marks[1:])):
            if a is not None and b is not None:
                phases[name].append((b - a) * 1000)
    phases["incomplete"] = incomplete
    return phases


def describe(phases: dict) -> str:
    """One line: each phase's p50 / p95 in ms."""
    parts = []
    for name in PHASES:
        values = phases.get(name) or []
        if values:
            parts.append(f"{name} {percentile(values, 50):.1f} / {percentile(values, 95):.1f}")
    text = "phases p50 / p95 (ms, bench/e2e_phases.py): " + ", ".join(parts)
    if phases.get("incomplete"):
        text += f" ({phases['incomplete']} events lacked a timestamp)"
    return text
