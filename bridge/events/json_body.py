"""Parse a stored webhook body into Python data that every later step can handle.

Two things JSON allows that the rest of the bridge cannot carry:

* a *lone surrogate* (``"\\ud800"``): what a sender produces when it cuts a text in the
  middle of an emoji. Python keeps it in a ``str``, but it cannot be encoded as UTF-8,
  so the hook POST, the database and the admin page all fail on it. It is replaced by
  U+FFFD (the replacement character), deterministically, and the places that were
  repaired are reported so the event can say so.
* very deep nesting (``[[[[...]]]]`` 5,000 levels): ``json.loads`` and every recursive
  walk after it raise RecursionError. A genuine Okendo body is a few levels deep.

Failure policy: :func:`parse` never raises anything but :class:`BodyError` (a ValueError),
whose message says what is wrong; the caller stores the event as ``invalid``. The raw
bytes are never changed (the signature covers them): only the parsed copy is repaired.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Far deeper than any Okendo payload (about 5 levels), far below Python's recursion limit.
MAX_DEPTH = 64
REPLACEMENT = "\ufffd"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyError(ValueError):
    """The body cannot become usable data: not JSON, or nested too deep."""


@dataclass
class Parsed:
    data: Any
    repaired: list[str] = field(default_factory=list)  # paths where text was repaired


def parse(body: bytes | str) -> Parsed:
    """JSON text -> :class:`Parsed`, with lone surrogates replaced (see the module doc)."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise BodyError(f"not valid JSON: nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(f"not valid JSON: {exc}") from None
    if _nothing_to_repair(body):
        return Parsed(data)
    repaired: list[str] = []
    data = _repair(data, repaired)
    return Parsed(data, repaired)


# What a lone surrogate looks like in UTF-8 JSON text: a \uD800-\uDFFF escape, or the bytes
# ED A0-BF (json.loads decodes bytes with "surrogatepass"). Surrogate pairs match too; they
# just take the walk.
_MAY_HOLD_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _nothing_to_repair(body: bytes | str) -> bool:
    """True when the raw text proves the walk would change nothing: no value nests deeper than
    the count of opening brackets, and no string can hold a lone surrogate without one of the
    sequences above. Two scans in C instead of a walk in Python (a webhook pays this, issue 16).
    Only UTF-8 bytes qualify; anything else (str, UTF-16/32) takes the walk."""
    return (isinstance(body, bytes) and body.count(b"{") + body.count(b"[") <= MAX_DEPTH
            and json.detect_encoding(body) == "utf-8" and not _MAY_HOLD_SURROGATE.search(body))


def repair_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    return _LONE_SURROGATE.sub(REPLACEMENT, text)


def _repair(root: Any, repaired: list[str]) -> Any:
    """Walk without recursion (a deep body must not be able to raise RecursionError here),
    refusing depth over MAX_DEPTH, repairing strings (keys too) in place."""
    holder = [root]
    stack: list[tuple[Any, Any, str, int]] = [(holder, 0, "$", 0)]
    while stack:
        parent, key, path, depth = stack.pop()
        value = parent[key]
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                parent[key] = repair_text(value)
                repaired.append(path)
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_DEPTH:
            raise BodyError(f"not valid JSON for the bridge: nested deeper than {MAX_DEPTH} levels (at {path})")
        if isinstance(value, dict):
            if any(_LONE_SURROGATE.search(k) for k in value):
                fixed = {repair_text(k): v for k, v in value.items()}
                repaired.append(path + " (keys)")
                parent[key] = value = fixed
            for child in value:
                stack.append((value, child, f"{path}.{child}", depth + 1))
        else:
            for index in range(len(value)):
                stack.append((value, index, f"{path}[{index}]", depth + 1))
    repaired.sort()
    return holder[0]
