"""requirements.txt (what Heroku installs) must stay in step with setup.cfg's install_requires.

Cheap on purpose: it compares names and ranges, it does not resolve anything over the
network. When it fails, run `make lock` and commit requirements.txt.
"""
import configparser
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)")
VIA_SETUP_CFG = "okendo-kustomer-bridge (setup.cfg)"


def install_requires() -> dict[str, Requirement]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in config["options"]["install_requires"].splitlines() if line.strip()]
    return {canonicalize_name(Requirement(line).name): Requirement(line) for line in lines}


def lock_file() -> tuple[dict[str, str], set[str], bool]:
    """(pinned versions by name, names pulled in by setup.cfg directly, every pin hashed)."""
    pins, direct, hashed = {}, set(), True
    current = None
    entries = (ROOT / "requirements.txt").read_text().split("\n")
    for number, line in enumerate(entries):
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = match.group(2)
            following = entries[number + 1] if number + 1 < len(entries) else ""
            hashed = hashed and line.rstrip().endswith("\\") and "--hash=sha256:" in following
        elif current and line.strip().startswith("#") and VIA_SETUP_CFG in line:
            direct.add(current)
    return pins, direct, hashed


def test_every_dependency_of_setup_cfg_is_pinned_within_its_range():
    pins, _, _ = lock_file()
    for name, requirement in install_requires().items():
        assert name in pins, f"{name} is in setup.cfg but not in requirements.txt: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.txt pins {name}=={pins[name]}, outside setup.cfg's {requirement.specifier}: "
            "run `make lock`")
        for extra in requirement.extras:  # psycopg[binary] -> psycopg-binary
            assert canonicalize_name(f"{name}-{extra}") in pins, f"{name}[{extra}] is not locked: run `make lock`"


def test_the_lock_has_nothing_setup_cfg_dropped():
    _, direct, _ = lock_file()
    stale = direct - set(install_requires())
    assert not stale, f"requirements.txt still pins {sorted(stale)} for setup.cfg, which no longer asks: run `make lock`"


def test_every_pin_is_exact_and_hashed():
    pins, _, hashed = lock_file()
    assert len(pins) >= len(install_requires())
    assert hashed, "every requirement needs --hash lines (make lock uses --generate-hashes)"
    text = (ROOT / "requirements.txt").read_text()
    # pip refuses a directory or an editable install in hash-checking mode: the Procfile
    # runs `python -m bridge` from the app's root instead of an installed console script.
    assert not re.search(r"^\s*(-e|\.)", text, re.MULTILINE)
