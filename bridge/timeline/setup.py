"""`bridge kustomer setup-timeline`: create the klasses the timeline cards need, if missing.

Idempotent: klasses that exist are found and left as they are (an admin may have changed
their icon or color in Kustomer); missing ones are created; the display names of their
attributes are set each time (a PUT of the same names changes nothing).
Failure policy: nothing raises for an answer Kustomer can give. Each step becomes a
line saying what was created, found or refused; a key without the role to read or create
klasses gets the role's name and the steps to create them by hand. ``ok`` is False when a
klass is still missing afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bridge.kustomer import kobjects, KustomerClient
from bridge.kustomer.errors import ConfigurationError, KustomerError
from bridge.timeline.catalog import READ_ROLE
from bridge.timeline.klasses import KLASSES, KlassDefinition

CREATE_ROLE = "org.permission.klass.create (legacy org.admin.klass.write)"
METADATA_ROLE = "org.permission.metadata.update (legacy org.admin.metadata.write)"


class KlassState(StrEnum):
    """Where a klass stands after setup; the report's words for it."""
    CREATED = "created"
    FOUND = "found"  # it existed already (or someone else created it meanwhile)
    MISSING = "missing"  # it could not be listed as existing nor created: setup is not ok


@dataclass
class SetupReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True
    klasses: dict[str, KlassState] = field(default_factory=dict)  # klass name -> its state

    def say(self, line: str) -> None:
        self.lines.append(line)


def setup_for_target(target) -> SetupReport:
    """``setup_timeline`` for a store's Kustomer org (a KustomerTarget), settings checked."""
    if not (target.api_key and target.api_base):
        report = SetupReport(ok=False)
        report.say(f"FAILED not set: {', '.join(target.missing_env) or 'KUSTOMER_API_KEY, KUSTOMER_API_BASE'}")
        return report
    return setup_timeline(KustomerClient(target.api_key, target.api_base, max_attempts=3, max_wait=10))


def setup_timeline(client) -> SetupReport:
    report = SetupReport()
    try:
        existing = {(k.get("attributes") or {}).get("name"): k for k in kobjects.list_klasses(client)}
    except KustomerError as exc:
        report.ok = False
        if isinstance(exc, ConfigurationError) and exc.status == 403:
            report.say(f"REFUSED the key may not list klasses: it lacks {READ_ROLE}.")
            report.say(manual_steps())
        else:
            report.say(f"FAILED listing klasses: {exc}")
        return report
    for klass in KLASSES:
        if klass.name in existing:
            report.klasses[klass.name] = KlassState.FOUND
            report.say(f"found    klass {klass.name} ({klass.display_name}), id {existing[klass.name].get('id')}")
        elif not _create(client, klass, report):
            continue
        _set_display_names(client, klass, report)
    missing = [k for k in KLASSES if report.klasses.get(k.name) == KlassState.MISSING]
    if missing:
        report.ok = False
        report.say(manual_steps(missing))
    return report


def _create(client, klass: KlassDefinition, report: SetupReport) -> bool:
    try:
        created = kobjects.create_klass(client, klass.create_body())
    except KustomerError as exc:
        if kobjects.is_duplicate(exc) and klass.name in kobjects.klass_names(kobjects.list_klasses(client)):
            report.klasses[klass.name] = KlassState.FOUND
            report.say(f"found    klass {klass.name} (created by someone else meanwhile)")
            return True
        report.klasses[klass.name] = KlassState.MISSING
        if isinstance(exc, ConfigurationError) and exc.status == 403:
            report.say(f"REFUSED creating klass {klass.name}: the key lacks {CREATE_ROLE} "
                       "(usually an administrator's key).")
        else:
            report.say(f"FAILED creating klass {klass.name}: {exc}")
        return False
    report.klasses[klass.name] = KlassState.CREATED
    report.say(f"created  klass {klass.name} ({klass.display_name}), id {created.get('id')}")
    return True


def _set_display_names(client, klass: KlassDefinition, report: SetupReport) -> None:
    try:
        kobjects.update_klass_metadata(client, klass.name, klass.metadata_properties())
    except KustomerError as exc:
        why = (f"the key lacks {METADATA_ROLE}" if isinstance(exc, ConfigurationError) else str(exc))
        report.say(f"note     attribute display names of {klass.name} not set ({why}); cards still "
                   "work, and Kustomer shows each attribute under its own name")
        return
    report.say(f"set      display names of {len(klass.attributes)} attributes of {klass.name}")


def manual_steps(klasses=KLASSES) -> str:
    """How to create the klasses by hand in Kustomer, for a key that may not."""
    lines = ["To create them by hand, as a Kustomer administrator: Settings > Platform > Klasses "
             "(custom objects) > Add Klass, once for each below (the name must be exactly this); "
             "then run this command again to check. Or make an API key with "
             f"{CREATE_ROLE} and {METADATA_ROLE}, run this command with it, and delete that key."]
    for klass in klasses:
        lines.append(f"  - name {klass.name}, display name {klass.display_name!r}, icon {klass.icon}, "
                     f"color {klass.color}; attributes: "
                     + ", ".join(f"{name} ({label})" for name, label in klass.attributes.items()))
    return "\n".join(lines)
