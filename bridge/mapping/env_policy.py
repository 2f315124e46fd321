"""Where a mapping file may use ``${NAME}``, and which names.

``${NAME}`` reads the bridge's environment, which holds its secrets. Were it allowed in a
note template, ``${OKENDO_WEBHOOK_SECRET}`` would be sent to Kustomer in a ticket. So:

* in *key* fields (``stores.<id>.secret``, ``stores.<id>.kustomer.api_key``) any name:
  that is what they are for, and they are only ever sent as credentials;
* in *address* fields (a route's ``url``, ``api_base``, ``queue_id``, ``team_ids``) any
  name except the bridge's own secrets and names that look like one (``*SECRET*``,
  ``*PASSWORD*``, ``*TOKEN*``, ``*_KEY``, database and queue URLs), since these values
  travel in URLs and bodies;
* nowhere else: templates, filters, names, extra fields, tags.

Failure policy: :func:`refusal` returns the message the loader reports at the value's
``file:line:col`` (the value is then refused); None means the reference is allowed.
"""
from __future__ import annotations

import re

KEY_FIELDS = frozenset({"secret", "api_key"})
ADDRESS_FIELDS = frozenset({"url", "api_base", "queue_id", "team_ids"})
SECRET_NAMES = frozenset({
    "OKENDO_WEBHOOK_SECRET", "KUSTOMER_API_KEY", "ADMIN_PASSWORD", "ADMIN_PASSWORD_HASH", "SECRET_KEY",
    "METRICS_TOKEN", "DATABASE_URL", "REDIS_URL", "QUEUE_URL",
})
_SECRET_LOOKING = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|_KEY$|^KEY$|PRIVATE|CREDENTIAL|DATABASE_URL|REDIS")


def _field_of(path: tuple) -> str | None:
    """The field a value sits in: the last text step (list items belong to their list)."""
    for step in reversed(path):
        if isinstance(step, str):
            return step
    return None


def refusal(path: tuple, names: list[str]) -> str | None:
    """Why ``${...}`` of ``names`` may not stand at ``path``; None when it may."""
    field = _field_of(path)
    if field in KEY_FIELDS and path[:1] == ("stores",):
        return None
    if field in ADDRESS_FIELDS:
        secret = [name for name in names if name in SECRET_NAMES or _SECRET_LOOKING.search(name)]
        if secret:
            return (f"${{{secret[0]}}} looks like a secret; a secret may only be used in a"
                    " store's `secret` or `kustomer.api_key`, never in a URL or an id sent to Kustomer")
        return None
    return (f"${{{names[0]}}}: environment variables may only be used in url, api_base, queue_id,"
            " team_ids, and a store's secret and kustomer.api_key (so that no secret can reach a"
            " body or a ticket); write $${ for a literal ${")
