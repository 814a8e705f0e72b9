"""Readiness: every backing service answers and the indices exist."""

from __future__ import annotations

import time

from flask import current_app

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


def readiness() -> dict:
    client = current_app.extensions["opensearch"]
    redis_client = current_app.extensions["redis"]
    prefix = current_app.config["INDEX_PREFIX"]
    aliases = [IndexNames(prefix, name).read for name in index_names()]
    return {
        "opensearch": _timed(lambda: client.cluster.health(request_timeout=2)["status"] != "red"),
        "indices": _timed(lambda: all(client.indices.exists_alias(name=a) for a in aliases)),
        "redis": _timed(redis_client.ping),
    }
