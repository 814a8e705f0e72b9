"""Kept for scripts/demo_reindex.py until it moves; the command is `contacts reindex`
(app/cli/indices.py)."""

from __future__ import annotations

import redis
from opensearchpy import OpenSearch

from app.cli.context import wiring
from app.cli.indices import ProgressBar

__all__ = ["ProgressBar", "clients"]


def clients() -> tuple[OpenSearch, redis.Redis]:
    """The command line's clients, from the wiring."""
    return wiring().opensearch, wiring().redis
