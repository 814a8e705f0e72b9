"""`contacts init-indices`, `contacts reindex` and `contacts reindex-rollback`.

Reindexing builds the next versioned index from index_mappings/, copies the documents,
and swaps the aliases in one call (app/search/reindex.py holds the phases and what each
guarantees); rollback points the aliases back and copies the writes made since.
"""

from __future__ import annotations

import json
import sys
import time

import click

from app.cli.context import wiring
from app.search.indices import ensure_all, index_names, outdated_fields
from app.search.reindex import reindex, rollback
from app.search.reindex_steps import ReindexError


class ProgressBar:
    """A one-line progress bar on stderr; one line every few seconds when not a terminal."""

    def __init__(self, width: int = 40) -> None:
        self.width = width
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == "copy" and done < total and now - self.last < (0.2 if self.tty else 5):
            return
        self.last = now
        share = done / total if total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[reindex] {phase:<9}[{bar}] {done:>9,}/{total:,}"
        if self.tty:
            end = "\n" if phase != "copy" or done >= total else ""
            print(f"\r{line}", end=end, file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


@click.command("init-indices")
@click.option(
    "--upgrade",
    is_flag=True,
    help="Reindex (no downtime) every index older than its mapping file.",
)
def init_indices(upgrade: bool) -> None:
    """Create the indices and their aliases (idempotent).

    One versioned index per file of index_mappings/, behind its read and write aliases;
    existing ones are left as they are. An existing index that lacks fields its file now
    defines refuses writes that carry them (the mappings are strict): it is named with
    the fields, and --upgrade reindexes it to the file's version (`make run` does)."""
    built = wiring()
    prefix = built.config["INDEX_PREFIX"]
    outdated = []
    for name, index in ensure_all(built.opensearch, prefix).items():
        missing = outdated_fields(built.opensearch, prefix, name)
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        click.echo(
            f"[indices] {prefix}{name} -> {index}" + (f" (lacks {shown})" if missing else "")
        )
        if missing:
            outdated.append(name)
    if outdated and not upgrade:
        click.echo(
            f"[indices] older than index_mappings/: {', '.join(outdated)}; run "
            f"`contacts reindex --index NAME` (make reindex INDEX=NAME) or init-indices --upgrade",
            err=True,
        )
    elif outdated:
        reindex_command.callback(tuple(outdated), False, False, None)


index_option = click.option(
    "--index",
    "indices",
    multiple=True,
    type=click.Choice(index_names()),
    help="Logical index; repeat for several (default: all of index_mappings/).",
)
dry_run_option = click.option("--dry-run", is_flag=True, help="Print the plan, change nothing.")


def _run_each(indices: tuple[str, ...], step) -> None:
    """Run `step(name)` for each index; report each result; exit 1 if any failed."""
    failed = False
    for name in indices or index_names():
        try:
            result = step(name)
        except ReindexError as exc:
            click.echo(f"[reindex] {name}: FAILED: {exc}", err=True)
            failed = True
            continue
        verb = "would move" if result.dry_run else "moved"
        click.echo(f"[reindex] {name}: {verb} aliases {result.source} -> {result.target}")
        click.echo(json.dumps(result.as_dict()))
    if failed:
        sys.exit(1)


@click.command("reindex")
@index_option
@click.option("--delete-old", is_flag=True, help="Delete the previous version after the swap.")
@dry_run_option
@click.option("--requests-per-second", type=float, help="Throttle the server-side copy (docs/s).")
def reindex_command(
    indices: tuple[str, ...], delete_old: bool, dry_run: bool, requests_per_second: float | None
) -> None:
    """Build the next index version; swap the aliases to it.

    No downtime: the next version is built from index_mappings/, every document copied,
    and the aliases swapped in one call (writes pause briefly and are retried, not
    lost). Exit status 1 if any index failed (its aliases are left unmoved)."""
    built = wiring()
    config = built.config

    def step(name: str):
        return reindex(
            built.opensearch,
            built.redis,
            config["INDEX_PREFIX"],
            config["REDIS_KEY_PREFIX"],
            name,
            delete_old=delete_old,
            dry_run=dry_run,
            progress=ProgressBar(),
            requests_per_second=requests_per_second,
        )

    _run_each(indices, step)


@click.command("reindex-rollback")
@index_option
@click.option(
    "--aliases-only",
    is_flag=True,
    help="Move the aliases back without copying back the writes made since the swap.",
)
@dry_run_option
def rollback_command(indices: tuple[str, ...], aliases_only: bool, dry_run: bool) -> None:
    """Point the aliases back to the previous index version.

    Undoes a reindex; the writes made since the swap are copied back unless
    --aliases-only. Exit status 1 if any index failed."""
    built = wiring()
    config = built.config

    def step(name: str):
        return rollback(
            built.opensearch,
            built.redis,
            config["INDEX_PREFIX"],
            config["REDIS_KEY_PREFIX"],
            name,
            aliases_only=aliases_only,
            dry_run=dry_run,
            progress=ProgressBar(),
        )

    _run_each(indices, step)


commands = (init_indices, reindex_command, rollback_command)
