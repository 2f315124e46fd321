"""Helpers shared by the tests: signing like Okendo, loading samples."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from bridge.web import signatures

SAMPLES = Path(__file__).parent / "samples" / "okendo"
# A fixed test secret (not used anywhere real).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> dict:
    return json.loads(sample_bytes(name))


def signed_headers(body: bytes, secret: str = SECRET, webhook_id: str | None = None,
                   timestamp: int | None = None, prefix: str = "webhook") -> dict:
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        f"{prefix}-id": webhook_id,
        f"{prefix}-timestamp": str(timestamp),
        f"{prefix}-signature": signatures.sign(secret, webhook_id, timestamp, body),
        "Content-Type": "application/json",
    }


def with_sequence(payload: dict, sequence: int, **resource_changes) -> bytes:
    payload = json.loads(json.dumps(payload))
    payload["sequenceNumber"] = str(sequence)
    payload["resource"].update(resource_changes)
    return json.dumps(payload).encode()
