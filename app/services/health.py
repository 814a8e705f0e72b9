"""Readiness: every backing service answers and the indices exist."""

from __future__ import annotations

import time

from app.search.indices import IndexNames, index_names


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        ok = bool(check())
        error = None
    except Exception as exc:  # any failure of a probe means "not ready"
        ok, error = False, exc.__class__.__name__
    result = {"ok": ok, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if error:
        result["error"] = error
    return result


# Without OpenSearch (or its aliases) nothing can be served: take the instance out of
# rotation. Redis is a cache and a coordinator: the DNC check falls back to OpenSearch
# and rate limits to per-process buckets, so a Redis outage degrades but does not gate
# traffic (every instance shares that Redis; gating on it would turn a degraded service
# into a total outage).
REQUIRED = ("opensearch", "indices")


def readiness(client, redis_client, prefix: str) -> dict:
    """Each probe's answer and time; the clients are the process's own (from the wiring)."""
    aliases = [
        alias
        for name in index_names()
        for alias in (IndexNames(prefix, name).read, IndexNames(prefix, name).write)
    ]
    return {
        "opensearch": _timed(lambda: client.cluster.health(request_timeout=2)["status"] != "red"),
        # Reads and writes both go through aliases: a half-finished setup is not ready.
        "indices": _timed(
            lambda: client.indices.exists_alias(name=",".join(aliases), request_timeout=2)
        ),
        "redis": _timed(redis_client.ping),
    }


def status_of(checks: dict) -> str:
    """ready, degraded (serving without an optional dependency) or unavailable."""
    if not all(checks[name]["ok"] for name in REQUIRED):
        return "unavailable"
    return "ready" if all(check["ok"] for check in checks.values()) else "degraded"
