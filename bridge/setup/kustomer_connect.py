"""Check the Kustomer settings in use, as `bridge kustomer check` does (one place for both).

Failure policy: never raises for a Kustomer answer: every problem is a `Finding` with a fix
in plain words (`bridge.kustomer.check`).
"""
from __future__ import annotations

from bridge.kustomer import KustomerClient
from bridge.kustomer.check import Finding, check


def check_all(mapping) -> list[tuple[str, list[Finding]]]:
    """[(which org, findings)] for the live mapping's default org and each store with its own."""
    hooks = [(r.name, r.url, r.missing_env) for r in mapping.routes if r.is_hook]
    timeline = any(not r.is_hook for r in mapping.routes)
    results = []
    for store_id, target in mapping.kustomer_orgs():
        findings = check(target, hooks if store_id is None else [], mapping.tickets.enabled,
                         lambda key, base: KustomerClient(key, base, max_attempts=2, max_wait=5),
                         timeline_enabled=timeline)
        results.append((f"store {store_id}" if store_id else "all stores", findings))
    return results


def passed(results: list[tuple[str, list[Finding]]]) -> bool:
    return not any(f.ok is False for _, findings in results for f in findings)
