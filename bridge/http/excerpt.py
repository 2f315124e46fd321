"""The one way the bridge's HTTP clients quote a server's reply text in their messages.

An error body can be a whole HTML page; a message needs the gist on one line. Both clients
(`bridge.kustomer.errors`, `bridge.okendo.api`) quote replies through `excerpt`, so their
messages read alike and are equally bounded. Scrubbing a credential out of the text is
`scrub`'s job and comes first. Failure policy: never raises; text within the limit only
has its whitespace collapsed.
"""
from __future__ import annotations

EXCERPT_LIMIT = 500  # characters, the ellipsis included: the gist of an error body, not a page


def excerpt(text: str, limit: int = EXCERPT_LIMIT) -> str:
    """``text`` on one line (runs of whitespace collapsed to one space), cut to ``limit``
    characters, the last of which is "…" when something was cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1] + "…"
