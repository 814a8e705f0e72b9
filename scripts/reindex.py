"""Reindex without downtime, or roll back to the previous index version.

    python scripts/reindex.py [--index contacts] [--delete-old] [--dry-run]
    python scripts/reindex.py rollback [--index contacts] [--aliases-only] [--dry-run]

`make reindex` runs the first form for every index in index_mappings/; pass
`INDEX=contacts` or `ARGS=--dry-run` through make. The settings come from the
environment like the API's (OPENSEARCH_HOSTS, REDIS_URL, INDEX_PREFIX, REDIS_KEY_PREFIX).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import redis
from opensearchpy import OpenSearch

from app.config import Config
from app.search.indices import index_names
from app.search.reindex import ReindexError, reindex, rollback


class ProgressBar:
    """A one-line progress bar on stderr; quiet when stderr is not a terminal."""

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


def clients(config=Config) -> tuple[OpenSearch, redis.Redis]:
    # Long server-side calls (health waits, task polls) need more than the API's timeout.
    search = OpenSearch(
        hosts=config.OPENSEARCH_HOSTS, timeout=max(60, config.OPENSEARCH_TIMEOUT), pool_maxsize=8
    )
    return search, redis.Redis.from_url(config.REDIS_URL, socket_connect_timeout=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=("reindex", "rollback"), default="reindex")
    parser.add_argument("--index", action="append", help="logical index (default: all)")
    parser.add_argument("--delete-old", action="store_true", help="delete the old version")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "--aliases-only",
        action="store_true",
        help="rollback: move the aliases without copying back the writes made since the swap",
    )
    parser.add_argument(
        "--requests-per-second", type=float, help="throttle the server-side copy (docs/s)"
    )
    args = parser.parse_args(argv)
    search, cache = clients()
    progress = ProgressBar()
    status = 0
    for name in args.index or index_names():
        try:
            if args.command == "rollback":
                result = rollback(
                    search,
                    cache,
                    Config.INDEX_PREFIX,
                    Config.REDIS_KEY_PREFIX,
                    name,
                    aliases_only=args.aliases_only,
                    dry_run=args.dry_run,
                    progress=progress,
                )
            else:
                result = reindex(
                    search,
                    cache,
                    Config.INDEX_PREFIX,
                    Config.REDIS_KEY_PREFIX,
                    name,
                    delete_old=args.delete_old,
                    dry_run=args.dry_run,
                    progress=progress,
                    requests_per_second=args.requests_per_second,
                )
        except ReindexError as exc:
            print(f"[reindex] {name}: FAILED: {exc}", file=sys.stderr)
            status = 1
            continue
        verb = "would move" if result.dry_run else "moved"
        print(f"[reindex] {name}: {verb} aliases {result.source} -> {result.target}")
        print(json.dumps(result.as_dict()))
    return status


if __name__ == "__main__":
    sys.exit(main())
