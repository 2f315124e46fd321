"""A `requests.Session` that reads the environment once per origin instead of on every request.

requests consults the environment on every call (`Session.merge_environment_settings`: the
proxy variables and NO_PROXY, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE; on Linux each proxy
lookup walks the whole of `os.environ`, twice per request). Measured in the worker, that was
about a third of a hook post's CPU, a tenth of a whole round (issue 16). The bridge's clients
talk to a few origins fixed at start-up, and a process's environment does not change while it
runs, so the answer for one origin (scheme, host and port: all that proxy and NO_PROXY choices
depend on) is worked out once, by requests itself, and reused. Who sets HTTPS_PROXY, NO_PROXY
or a CA bundle gets exactly what requests would choose.

Not cached: a call that passes its own `proxies`, and a session with `trust_env` off (requests'
own path, unchanged). Change the session's `proxies`, `verify` or `cert` after its first request
and the cached answer is stale: the bridge's clients never do (they set none).

Failure policy: none of its own. What requests raises for a bad setting it raises as before,
and nothing is cached for that origin until an answer was worked out.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests


class EnvironmentOnceSession(requests.Session):
    """`requests.Session`, with `merge_environment_settings` remembered per origin."""

    def __init__(self) -> None:
        super().__init__()
        self._merged: dict[tuple, dict[str, Any]] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert) -> dict[str, Any]:
        if proxies or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        try:
            merged = self._merged.get(key)
        except TypeError:  # e.g. a cert given as a list: not a dict key, so not remembered
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if merged is None:  # two threads may both work it out: same answer, no lock needed
            merged = self._merged[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # A fresh dict of proxies each time: requests may add to the one it is given (redirects).
        return {**merged, "proxies": dict(merged["proxies"])}
