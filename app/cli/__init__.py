"""The `contacts` command line (declared in pyproject.toml as a console script).

One small module per command group; each command builds what it needs through the
composition root (app/wiring.py), as the API and the worker do, so a command gets the
same clients (metrics, the reindex write-freeze retry) and the same service checks.
Settings come from the environment like the API's (OPENSEARCH_HOSTS, REDIS_URL,
INDEX_PREFIX, REDIS_KEY_PREFIX, JWT_SECRET, ...).
"""

from __future__ import annotations

import click

from app.cli import contacts, dnc, indices, server, tokens


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Operate the Contacts API: serve it, run its worker, manage indices, the DNC cache,
    imports and exports, and mint development tokens.

    Settings come from the environment (OPENSEARCH_HOSTS, REDIS_URL, INDEX_PREFIX,
    REDIS_KEY_PREFIX, JWT_SECRET, ...); see app/config.py."""


for command in (
    *server.commands,
    *indices.commands,
    *dnc.commands,
    *contacts.commands,
    *tokens.commands,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="contacts")
