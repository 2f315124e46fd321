"""Event names and the patterns a mapping file lists: ``review.create``, ``review.*``,
``*.delete``, ``*.*``.

Failure policy: :func:`parse_pattern` raises :class:`ValueError` with a message an admin
can act on (what was wrong, what is allowed, the closest known name); matching never
raises.
"""

from __future__ import annotations

import difflib
from typing import Iterable

from bridge.okendo.schemas import KNOWN_RESOURCE_TYPES, KNOWN_TOPICS

WILDCARD = "*"

# Types a ticket can be about: the ones that carry a shopper's opinion.
FEEDBACK_TYPES = frozenset({"review", "survey_response"})


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'review'?)`` or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_pattern(text: str) -> tuple[str, str]:
    """``"review.*"`` -> ``("review", "*")``; raises ValueError for anything else."""
    resource_type, dot, topic = text.partition(".")
    if not dot or not resource_type or not topic:
        raise ValueError(
            f"{text!r} is not an event; write resourceType.topic, e.g. review.create,"
            " review.* or *.create"
        )
    if resource_type != WILDCARD and resource_type not in KNOWN_RESOURCE_TYPES:
        known = ", ".join(sorted(KNOWN_RESOURCE_TYPES))
        raise ValueError(
            f"{text!r}: unknown resource type {resource_type!r}"
            f"{did_you_mean(resource_type, KNOWN_RESOURCE_TYPES)}; use one of {known} or *"
        )
    if topic != WILDCARD and topic not in KNOWN_TOPICS:
        raise ValueError(
            f"{text!r}: unknown topic {topic!r}{did_you_mean(topic, KNOWN_TOPICS)};"
            f" use one of {', '.join(KNOWN_TOPICS)} or *"
        )
    return resource_type, topic


def matches(pattern: str, resource_type: str, topic: str) -> bool:
    """Whether an event of ``resource_type.topic`` is covered by ``pattern``."""
    pattern_type, _, pattern_topic = pattern.partition(".")
    return (pattern_type in (WILDCARD, resource_type)
            and pattern_topic in (WILDCARD, topic))


def matches_any(patterns: Iterable[str], resource_type: str, topic: str) -> bool:
    return any(matches(pattern, resource_type, topic) for pattern in patterns)


def resource_types_of(patterns: Iterable[str], universe: Iterable[str] = KNOWN_RESOURCE_TYPES
                      ) -> set[str]:
    """The known resource types the patterns can match (a wildcard means all of them)."""
    universe = set(universe)
    types: set[str] = set()
    for pattern in patterns:
        resource_type = pattern.partition(".")[0]
        if resource_type == WILDCARD:
            types |= universe
        elif resource_type in universe:
            types.add(resource_type)
    return types


def event_names_of(patterns: Iterable[str], universe: Iterable[str] = KNOWN_RESOURCE_TYPES
                   ) -> list[tuple[str, str]]:
    """Every (resource type, topic) the patterns match, sorted."""
    universe = sorted(set(universe))
    return [(resource_type, topic) for resource_type in universe for topic in KNOWN_TOPICS
            if matches_any(patterns, resource_type, topic)]
