"""The packaged command line: `contacts` is installed, lists every command, and each
command explains itself and each of its options."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from app.cli import cli

ROOT = Path(__file__).resolve().parent.parent.parent
# pip puts the console script beside the interpreter of the environment it installs into.
CONTACTS = Path(sys.executable).with_name("contacts")
COMMANDS = (
    "serve",
    "worker",
    "init-indices",
    "reindex",
    "reindex-rollback",
    "rebuild-dnc-cache",
    "reconcile",
    "import",
    "export",
    "mint-token",
)


def contacts(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CONTACTS), *args], capture_output=True, text=True, timeout=60)


def test_pyproject_declares_the_console_script():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["contacts"] == "app.cli:main"


def test_contacts_help_lists_every_command_with_a_summary():
    result = contacts("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: contacts ")
    assert set(cli.commands) == set(COMMANDS)
    for name in COMMANDS:
        summary = cli.commands[name].get_short_help_str(limit=200)
        assert summary and f"{name} " in result.stdout, name


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_explains_itself_and_its_options(name):
    result = contacts(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: contacts {name} ")
    command = cli.commands[name]
    # A summary line and a paragraph that says more than the summary.
    assert command.help and len(command.help.split("\n\n")) >= 2, name
    assert command.help.splitlines()[0] in result.stdout
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts[0]} has no help"
            assert param.opts[0] in result.stdout


def test_an_unknown_command_is_a_usage_error():
    result = contacts("no-such-command")
    assert result.returncode == 2
    assert "No such command" in result.stderr
