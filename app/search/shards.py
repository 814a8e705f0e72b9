"""Honest reads on a cluster: a read that missed a shard is retried, then refused.

OpenSearch answers a search even when some of its shards could not be read: the reply
is a 200 with `_shards.successful < _shards.total` (`failed` counts shards that erred,
not shards with no copy to ask) and only the hits of the shards that answered. A
multi-get likewise answers 200 with an `error` in place of each document it could not
read. Taken at face value that is a lie to the caller: a list page or a search that
silently lacks one shard's contacts, a GET that answers 404 for a contact that exists,
a duplicate check that misses the duplicate.

It happens on a cluster for a few seconds after a node is lost: the coordinating node
already tries every copy of a shard, so a shard fails only when none of its copies
can answer (its primary's node has just died and the replica is not promoted yet, or
the index has no replicas). So such a reply is retried a few times over about two
seconds, long enough for a promotion; if a shard is still missing the read fails as a
503 (`TransportError` 503 -> `ServiceUnavailable` with `Retry-After` in app/errors.py)
and the client tries again. Partial results are never served as if they were whole.

Reads are safe to repeat; writes are not touched here (their `_shards` counts copies
written, and a write's failure is already an error reply).
"""

from __future__ import annotations

import functools
import logging
import time

from opensearchpy import OpenSearch, TransportError

log = logging.getLogger(__name__)

# Attempts after the first, and the pause before each: ~2 s in all, about what a
# replica's promotion takes after its primary's node is gone.
RETRY_PAUSES = (0.2, 0.6, 1.2)
READ_ENDPOINTS = ("_search", "_count", "_mget")


def missing_shards(endpoint: str, response: object) -> int:
    """Shards (search, count) or documents (multi-get) the reply could not read."""
    if not isinstance(response, dict):
        return 0
    if endpoint == "_mget":
        return sum(1 for doc in response.get("docs", ()) if "error" in doc)
    # An unassigned shard is counted in `total` but neither in `failed` nor `successful`;
    # shards skipped by the can-match phase count as successful.
    shards = response.get("_shards") or {}
    total, successful = int(shards.get("total") or 0), int(shards.get("successful") or 0)
    return max(int(shards.get("failed") or 0), total - successful)


def complete_reads(client: OpenSearch, pauses: tuple[float, ...] = RETRY_PAUSES) -> None:
    """Make `client` retry, then refuse with a 503, any read that missed a shard."""
    transport = client.transport
    if getattr(transport, "_complete_reads", False):
        return
    perform = transport.perform_request

    @functools.wraps(perform)
    def complete(method, url, *args, **kwargs):
        endpoint = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        response = perform(method, url, *args, **kwargs)
        if endpoint not in READ_ENDPOINTS:
            return response
        for pause in pauses:
            missing = missing_shards(endpoint, response)
            if not missing:
                return response
            log.warning("%s missed %d shard(s) or document(s); retrying", endpoint, missing)
            time.sleep(pause)
            response = perform(method, url, *args, **kwargs)
        missing = missing_shards(endpoint, response)
        if missing:
            raise TransportError(503, "shards_unavailable", {"missing": missing, "url": url})
        return response

    transport.perform_request = complete
    transport._complete_reads = True
