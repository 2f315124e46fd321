"""The README's Configuration and Commands tables name every environment variable the code
reads and every `bridge` command, so a newcomer finds each one (issue: they had drifted)."""
import re
from pathlib import Path

import click

from bridge.cli import main
from tests.unit.test_app_json import env_vars_read_by_code

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("|---")]


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, prefix + (name,))
        else:
            found.append(" ".join(prefix + (name,)))
    return found


def test_every_env_var_the_code_reads_is_in_a_settings_table():
    """In the Configuration table, or the table of the section that explains them (Alerts)."""
    first_columns = " ".join(row.split("|")[1] for row in table_rows(README))
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_columns))
    missing = env_vars_read_by_code() - listed
    assert not missing, f"no README table lists {sorted(missing)}"


def test_every_command_is_in_the_commands_table():
    first_columns = " ".join(row.split("|")[1] for row in table_rows(section("Commands")))
    missing = [name for name in commands(main) if f"`bridge {name}" not in first_columns]
    assert not missing, f"README's Commands table does not list {missing}"
