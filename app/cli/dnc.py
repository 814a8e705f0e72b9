"""`contacts rebuild-dnc-cache` and `contacts reconcile`: the Redis DNC cache and its record.

Redis is a cache of the DNC list, never its record: both commands are safe at any time
(after Redis lost its data, from cron, during traffic).
"""

from __future__ import annotations

import json
import sys
import time

import click

from app.cli.context import wiring
from app.services.dnc import DncService

workspace_option = click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    help="Workspace id; repeat for several (default: every workspace with a list or cache).",
)


def rebuild(service: DncService, workspaces: list[str] | None = None) -> list[dict]:
    """Rebuild each workspace's cache; a workspace being built elsewhere is reported busy."""
    results = []
    for workspace_id in workspaces or service.workspaces():
        started = time.perf_counter()
        stats = service.rebuild(workspace_id) or {"workspaceId": workspace_id, "busy": True}
        stats["seconds"] = round(time.perf_counter() - started, 2)
        results.append(stats)
    return results


@click.command("rebuild-dnc-cache")
@workspace_option
def rebuild_dnc_cache(workspaces: tuple[str, ...]) -> None:
    """Rebuild the Redis DNC cache from OpenSearch.

    Each workspace gets a new cache generation that becomes live in one step when it is
    complete; checks keep using the old one meanwhile (or OpenSearch, if there is none).
    Prints one JSON line per workspace.
    """
    for stats in rebuild(wiring().dnc, list(workspaces)):
        click.echo(json.dumps(stats))


@click.command("reconcile")
@workspace_option
@click.option(
    "--grace",
    type=float,
    default=5.0,
    show_default=True,
    help="Settle write marks older than this many seconds (writes that never finished).",
)
def reconcile(workspaces: tuple[str, ...], grace: float) -> None:
    """Check the DNC caches against the record; repair drift.

    Compares each workspace's Redis DNC cache with the list in OpenSearch and repairs
    both the cache and the contacts' `dnc` flags. Prints one JSON line per workspace:
    whether the cache had to be rebuilt, marks of writes that never finished, numbers
    missing from or extra in the cache, and contacts whose flag was corrected.

    Exit status 0 when nothing had drifted, 1 when something was repaired (for cron or
    a deploy check), 2 on failure.
    """
    try:
        built = wiring()
        drifted = False
        for workspace_id in workspaces or built.dnc.workspaces():
            report = built.dnc_reconciler.reconcile(workspace_id, grace=grace, full=True)
            click.echo(json.dumps(report))
            drifted |= any(report[k] for k in ("settledMarks", "missing", "extra", "flagsFixed"))
    except Exception as exc:  # an operator's command: say what failed, exit non-zero
        click.echo(f"reconcile failed: {exc}", err=True)
        sys.exit(2)
    sys.exit(1 if drifted else 0)


commands = (rebuild_dnc_cache, reconcile)
