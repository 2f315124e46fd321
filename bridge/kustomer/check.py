"""`bridge kustomer check`: prove the key, region, roles and hook URLs work, creating nothing.

What it does: reads the key's token (`GET /v1/auth/tokens/current`, allowed for any
role), compares its roles with what the mapping needs, checks the base URL is a
Kustomer host in the key's region (and, when the key is refused, asks the other
regions which one knows it), and checks each hook URL's shape and region. It
never posts to a hook: a hook POST triggers the org's workflows.
Failure policy: every problem becomes a Finding with a plain-words fix; nothing raises.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from bridge.kustomer.errors import ConfigurationError, KustomerError, redact_url

REGIONAL_HOSTS = {
    "api.kustomerapp.com": "US",
    "api.prod2.kustomerapp.com": "EU",
    "api.prod4.kustomerapp.com": "India",
}
HOOK_ROLES = {"org.hooks", "org.hook"}
# Each role tickets need, with the legacy names old keys carry instead (Kustomer's docs list
# them as "Legacy" beside each endpoint's role; either one works).
TICKET_ROLES = {
    "org.permission.customer.read": ("org.user.customer.read",),
    "org.permission.customer.create": ("org.user.customer.write",),
    "org.permission.conversation.create": ("org.user.conversation.write",),
    "org.permission.conversation.read": ("org.user.conversation.read",),
    "org.permission.conversation.update": ("org.user.conversation.write",),
    "org.permission.note.create": ("org.user.note.write",),
}
# Timeline cards (bridge.timeline), each with its legacy name, which old keys carry instead.
TIMELINE_ROLES = {
    "org.permission.klass.read": "org.user.klass.read", "org.permission.kobject.read": "org.user.kobject.read",
    "org.permission.kobject.create": "org.user.kobject.write", "org.permission.kobject.update": "org.user.kobject.write",
}
# Not required: lets a retried note be looked for before it is posted again (else it is
# posted, and may show twice).
NOTE_READ_ROLES = ("org.permission.note.read", "org.user.note.read")
# A web hook needs the key; a form hook takes no auth. Kustomer's docs show form hooks both
# with and without the org segment.
HOOK_PATH = re.compile(r"^/v1/hooks/(?P<kind>web|form)/[^/]+(?:/[^/]+)?/?$")
WEB_HOOK_PATH = re.compile(r"^/v1/hooks/web/[^/]+/?$")


@dataclass(frozen=True)
class Finding:
    ok: bool | None  # True fine, False must be fixed, None worth knowing
    message: str

    def __str__(self) -> str:
        return {True: "ok   ", False: "FAIL ", None: "note "}[self.ok] + self.message


def region_of(url: str) -> str | None:
    """'US'/'EU'/'India' for a regional host; 'org' for <org>.api.kustomerapp.com; None otherwise."""
    host = (urlparse(url).hostname or "").lower()
    if host in REGIONAL_HOSTS:
        return REGIONAL_HOSTS[host]
    if host.endswith(".api.kustomerapp.com"):
        return "org"
    return None


def check(target, hooks: list[tuple[str, str | None, tuple[str, ...]]], tickets_enabled: bool,
          make_client, timeline_enabled: bool = False) -> list[Finding]:
    """`hooks` is [(route name, url or None, missing env names)]; `make_client(key, base)`."""
    findings: list[Finding] = []
    if not target.api_key:
        return [Finding(False, "KUSTOMER_API_KEY is not set: create a key in Kustomer (Settings > Security > "
                               "API Keys) with the org.hooks role and set it")]
    base = target.api_base
    if not base:
        findings.append(Finding(False, "KUSTOMER_API_BASE is not set: use your org's host, e.g. "
                                       "https://acme.api.kustomerapp.com (tickets need it)"))
        roles = None
    else:
        findings += _check_base(base)
        roles, token_findings = _read_roles(target.api_key, base, make_client)
        findings += token_findings
    if roles is not None:
        web_hooks = [url for _, url, _ in hooks if url and WEB_HOOK_PATH.match(urlparse(url).path)]
        if roles & HOOK_ROLES:
            findings.append(Finding(True, "the key may post to web hooks (org.hooks)"))
        elif web_hooks:
            findings.append(Finding(False, "the key lacks org.hooks: web hooks will answer 403; make a key "
                                           "with the org.hooks role"))
        missing = [role for role, legacy in TICKET_ROLES.items() if not roles & {role, *legacy}]
        if tickets_enabled and missing:
            findings.append(Finding(False, "tickets are enabled but the key lacks " + ", ".join(missing)))
        elif tickets_enabled:
            findings.append(Finding(True, "the key has every role tickets need"))
            if not roles & set(NOTE_READ_ROLES):
                findings.append(Finding(None, "the key lacks org.permission.note.read: after a lost answer a note "
                                              "is posted again without first looking for it, so it may show twice"))
        lacking = [r for r, legacy in TIMELINE_ROLES.items() if r not in roles and legacy not in roles]
        if timeline_enabled and lacking:
            findings.append(Finding(None, "a timeline route is on but the key lacks " + ", ".join(lacking)
                                    + ": no cards are written (run `bridge kustomer setup-timeline` to check)"))
        elif timeline_enabled:
            findings.append(Finding(True, "the key has every role timeline cards need"))
    for name, url, missing_env in hooks:
        findings += _check_hook(name, url, missing_env, base)
    return findings


def _check_base(base: str) -> list[Finding]:
    parsed = urlparse(base)
    if parsed.scheme != "https" and parsed.hostname not in ("127.0.0.1", "localhost"):
        return [Finding(False, f"KUSTOMER_API_BASE={base} is not https")]
    region = region_of(base)
    if region == "org":
        return [Finding(True, f"{base} is an org host (Kustomer routes it to the org's region)")]
    if region:
        return [Finding(True, f"{base} is Kustomer's {region} regional host")]
    return [Finding(None, f"{base} is not a Kustomer host (fine for the emulator)")]


def _read_roles(key: str, base: str, make_client):
    try:
        token = make_client(key, base).current_token()
    except ConfigurationError:
        return None, [Finding(False, f"Kustomer refused the key at {base}: " + _where_key_works(key, base, make_client))]
    except KustomerError as exc:
        return None, [Finding(False, f"could not ask Kustomer about the key: {exc}")]
    attributes = (token or {}).get("attributes") or {}
    roles = attributes.get("roles")
    if not isinstance(roles, list):
        return None, [Finding(True, "the key is valid"),
                      Finding(None, "Kustomer did not list the key's roles; check them in Settings > Security")]
    return set(roles), [Finding(True, f"the key is valid at {base} ({len(roles)} roles)")]


def _where_key_works(key: str, base: str, make_client) -> str:
    if region_of(base) is None:
        return "check KUSTOMER_API_KEY"
    for host, region in REGIONAL_HOSTS.items():
        candidate = f"https://{host}"
        if urlparse(base).hostname == host:
            continue
        try:
            make_client(key, candidate).current_token()
        except KustomerError:
            continue
        return f"the key works in the {region} region: set KUSTOMER_API_BASE to your org host there ({candidate})"
    return "the key is not valid in any region: check KUSTOMER_API_KEY (copy it again from Kustomer)"


def _check_hook(name: str, url: str | None, missing_env, base: str | None) -> list[Finding]:
    if not url:
        return [Finding(False, f"route {name}: {', '.join(missing_env) or 'its url'} is not set")]
    parsed = urlparse(url)
    shown = redact_url(url)
    shape = HOOK_PATH.match(parsed.path)
    if not shape or (shape["kind"] == "web" and not WEB_HOOK_PATH.match(parsed.path)):
        return [Finding(False, f"route {name}: {shown} is not a Kustomer hook URL (expected /v1/hooks/web/<hash>, "
                               "/v1/hooks/form/<org>/<hash> or /v1/hooks/form/<hash>)")]
    hook_region, base_region = region_of(url), region_of(base or "")
    if hook_region and base_region and "org" not in (hook_region, base_region) and hook_region != base_region:
        return [Finding(False, f"route {name}: the hook is in the {hook_region} region but KUSTOMER_API_BASE is "
                               f"{base_region}: a key only works in its own region")]
    if parsed.scheme != "https" and parsed.hostname not in ("127.0.0.1", "localhost"):
        return [Finding(False, f"route {name}: {shown} is not https")]
    return [Finding(True, f"route {name}: {shown} looks right (not posted to: that would run workflows)")]
