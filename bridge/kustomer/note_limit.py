"""Kustomer's limit on a note's body, and the one way the bridge cuts a note to fit it.

Every note the bridge writes is cut here, saying how much was left out, so an agent knows
the shopper wrote more (the whole text stays in the event's raw payload). The ticket
templates cut a note when they render it; the client cuts again, the same way, for a note
from anywhere else. Failure policy: never raises; a note within the limit is unchanged.
"""
from __future__ import annotations

from bridge.kustomer import contract

NOTE_BODY_LIMIT = contract.NOTE_BODY_LIMIT  # characters; the contract's operation file is its one home
TRUNCATION_MARKER = "characters left out]"  # how every cut note ends
_CUT = "\n\n[… note cut to Kustomer's {limit:,} character limit; {cut:,} " + TRUNCATION_MARKER


def truncate_note(note: str, limit: int = NOTE_BODY_LIMIT) -> str:
    """``note`` cut to ``limit`` characters, ending with a marker that says how many were cut."""
    if len(note) <= limit:
        return note
    # The marker's length depends on the count it prints: reserve room for the longest count
    # (nothing kept), then keep what a shorter count frees, until the two agree.
    keep = max(0, limit - len(_CUT.format(limit=limit, cut=len(note))))
    while (room := limit - len(_CUT.format(limit=limit, cut=len(note) - keep))) > keep:
        keep = room
    return note[:keep] + _CUT.format(limit=limit, cut=len(note) - keep)
