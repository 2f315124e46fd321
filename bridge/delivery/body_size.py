"""Fit a hook body under Kustomer's 400 KB limit by trimming its longest texts.

A hook body over the limit is refused by Kustomer with a 413 that no retry can
fix. Rather than lose the event, the longest string values (a review body, a
free-text answer) are cut, each ending with a marker, until the JSON fits; the
paths that were cut are recorded with the delivery so an admin can see it.
Failure policy: if the body cannot be made to fit by trimming texts (it is big
because of its structure, not its prose), `fit_to_limit` returns None and the
caller marks the event dead with that reason.
"""
from __future__ import annotations

import copy
import json

MARKER = " … [trimmed by okendo-kustomer-bridge: over Kustomer's 400 KB hook limit]"
SHORTEST_CUT = 200  # never trim a text below this many characters


def encoded_size(body) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode("utf-8"))


def fit_to_limit(body: dict, limit: int) -> tuple[dict, list[str]] | None:
    """(body, trimmed paths) with the body's JSON at most `limit` bytes, or None."""
    size = encoded_size(body)
    if size <= limit:
        return body, []
    body = copy.deepcopy(body)
    trimmed: list[str] = []
    while size > limit:
        path, parent, key, text = max(_strings(body), key=lambda leaf: len(leaf[3].encode("utf-8")),
                                      default=(None, None, None, ""))
        excess = size - limit
        keep = len(text) - excess - len(MARKER) - 16  # a little slack for multi-byte characters
        if parent is None or keep < SHORTEST_CUT:
            return None
        parent[key] = text[:keep] + MARKER
        trimmed.append(path)
        size = encoded_size(body)
    return body, sorted(set(trimmed))


def _strings(value, path: str = ""):
    """Every string leaf as (path, container, key, text)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        child_path = f"{path}.{key}" if path else str(key)
        if isinstance(child, str):
            yield child_path, value, key, child
        else:
            yield from _strings(child, child_path)
