"""Where the bridge runs, and what that means for trusting proxy headers.

Heroku: the router is the only way to reach a dyno, it sets `DYNO`, and it appends the
client's address to `X-Forwarded-For` and sets `X-Forwarded-Proto`. So its headers are
trusted from any peer (`*`). A bare server: only a proxy on the same machine may set
them (`127.0.0.1,::1`); anyone else could claim any address or `https`.

Failure policy: pure functions of the environment, never raise. `FORWARDED_ALLOW_IPS`
overrides the default either way (a list of addresses, or `*`).
"""
from __future__ import annotations

import os
from typing import Mapping

LOCAL_PROXY = "127.0.0.1,::1"


def on_heroku(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("DYNO"))


def forwarded_allow_ips(env: Mapping[str, str] | None = None) -> str:
    """gunicorn's `forwarded_allow_ips`: `*` on Heroku, the local proxy elsewhere."""
    env = os.environ if env is None else env
    return env.get("FORWARDED_ALLOW_IPS") or ("*" if on_heroku(env) else LOCAL_PROXY)


def client_ip(wsgi: Mapping[str, object], allow: str) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the last
    `X-Forwarded-For` entry (the one that proxy appended; earlier ones are the client's word)."""
    peer = str(wsgi.get("REMOTE_ADDR") or "unknown")
    trusted = allow.strip() == "*" or peer in {part.strip() for part in allow.split(",")}
    forwarded = str(wsgi.get("HTTP_X_FORWARDED_FOR") or "")
    if trusted and forwarded.strip():
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer
