"""Benchmarks for the bridge: `python -m bench` (or `make bench`).

One module per benchmark (ingest, e2e, mapping_cost, pacing, scale), plus
`processes` (starting and stopping real processes, databases, machine facts),
`loadgen` (wrk, or a Python fallback), `payloads` (signed Okendo events) and
`report` (the table and docs/benchmarks.md). Nothing here asserts a timing:
every figure is printed beside its reference and its target, and that is all.
"""
