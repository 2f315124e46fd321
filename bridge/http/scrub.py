"""Keep a credential out of text a server echoed back (error bodies, exception texts)."""
from __future__ import annotations


def scrub(text: str, secret: str | None, marker: str) -> str:
    """`text` with every copy of `secret` replaced by `marker` (unchanged when there is no
    secret). Each client keeps its own marker: its messages are part of its interface."""
    return text.replace(secret, marker) if secret else text
