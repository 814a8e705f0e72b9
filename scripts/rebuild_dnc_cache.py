"""Rebuild the Redis DNC cache from OpenSearch, for some workspaces or all of them.

python scripts/rebuild_dnc_cache.py [--workspace ws_abc123 ...]

Each workspace gets a new cache generation that becomes live in one step when it is
complete; checks keep using the old one meanwhile (or OpenSearch, if there is none).
Safe to run at any time, e.g. after Redis lost its data or from cron.
"""

from __future__ import annotations

import argparse
import sys
import time

from flask import Flask

from app import create_app, services


def rebuild(app: Flask, workspaces: list[str] | None = None) -> list[dict]:
    """Rebuild each workspace's cache; a workspace being built elsewhere is skipped."""
    with app.app_context():
        service = services.dnc()
        results = []
        for workspace_id in workspaces or service.workspaces():
            started = time.perf_counter()
            stats = service.rebuild(workspace_id) or {"workspaceId": workspace_id, "busy": True}
            stats["seconds"] = round(time.perf_counter() - started, 2)
            results.append(stats)
        return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", action="append", help="repeat for several; default all")
    args = parser.parse_args()
    for stats in rebuild(create_app(), args.workspace):
        print(stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
