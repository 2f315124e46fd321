"""Kustomer client for the bridge. See ``client`` for the failure policy."""

from .client import (
    HOOK_BODY_LIMIT,
    AttemptInfo,
    HookResult,
    KustomerClient,
    stop_when_total_wait_would_exceed,
    wait_for_server_hint_or,
)
from .errors import (
    ConfigurationError,
    KustomerError,
    PermanentError,
    TransientError,
    classify,
    parse_error_body,
    redact_url,
)
from .note_limit import NOTE_BODY_LIMIT
from .pacing import Pacer

__all__ = [
    "HOOK_BODY_LIMIT",
    "NOTE_BODY_LIMIT",
    "AttemptInfo",
    "ConfigurationError",
    "HookResult",
    "KustomerClient",
    "KustomerError",
    "Pacer",
    "PermanentError",
    "TransientError",
    "classify",
    "parse_error_body",
    "redact_url",
    "stop_when_total_wait_would_exceed",
    "wait_for_server_hint_or",
]
