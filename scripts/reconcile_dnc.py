"""Compare each workspace's Redis DNC cache with the record in OpenSearch and repair it.

python scripts/reconcile_dnc.py [--workspace ws_abc123 ...] [--grace SECONDS]

Prints one line per workspace: whether the cache had to be rebuilt, marks of writes
that never finished, numbers missing from or extra in the cache, and contacts whose
indexed `dnc` flag was corrected. Exit status 0 when nothing had drifted, 1 when
something was repaired (useful from cron or a deploy check), 2 on failure.
"""

from __future__ import annotations

import argparse
import json
import sys

from app import create_app, services


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", action="append", help="repeat for several; default all")
    parser.add_argument("--grace", type=float, default=5.0, help="settle marks older than this")
    args = parser.parse_args()
    app = create_app()
    drifted = False
    with app.app_context():
        reconciler = services.dnc_reconciler()
        workspaces = args.workspace or services.dnc().workspaces()
        for workspace_id in workspaces:
            report = reconciler.reconcile(workspace_id, grace=args.grace)
            print(json.dumps(report))
            drifted |= any(report[k] for k in ("settledMarks", "missing", "extra", "flagsFixed"))
    return 1 if drifted else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # an operator's command: say what failed, exit non-zero
        print(f"reconcile failed: {exc}", file=sys.stderr)
        sys.exit(2)
