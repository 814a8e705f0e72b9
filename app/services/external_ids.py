"""ExternalIdClaims: one request at a time gives a contact a given external id outside
its key chain.

A contact created with an external id sits in that key's chain of ids
(app/services/keys.py): racing creates and upserts of one key compute the same id and
exactly one of them wins. A PATCH that gives an existing contact an external id cannot
move it into the chain (its id stays); it is found by a search of the keyword field,
which sees it only after a refresh. Two such assignments of one external id, or one
and a single create, checking at the same moment would each find the id free and both
write it: two contacts of the workspace with one externalId.

So both hold a claim on (workspace, external id) across the check, the write and its
refresh: a short Redis lock (app/locks.py, the service's one lock) named after a digest
of the id, so a 255-character or non-ASCII id makes a short, plain key. The second
request waits for the first (a PATCH with an external id answers only after the
refresh, about a second at most) and then finds the first's contact: 409. A claim that
stays taken longer than CLAIM_WAIT_SECONDS is a 409 too ("retry"), never a write.

Batch update and upsert (one bulk of up to 1,000 items) do not take claims: they check
and write under the same rules without them, so a batch racing a PATCH on the very same
new external id is the one case this does not order.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import redis

from app.errors import Conflict, ServiceUnavailable
from app.locks import RenewableLock

# A claim lives this long unless renewed (its holder renews it while it works).
CLAIM_SECONDS = 10
# How long a request waits for another's claim on the same external id.
CLAIM_WAIT_SECONDS = 5
CLAIM_POLL_SECONDS = 0.05


class ExternalIdClaims:
    def __init__(self, client: redis.Redis, key_prefix: str) -> None:
        self.client = client
        self.key_prefix = key_prefix

    def key(self, workspace_id: str, external_id: str) -> str:
        digest = hashlib.sha256(external_id.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.key_prefix}xid:{{{workspace_id}}}:{digest[:32]}"

    @contextmanager
    def claim(self, workspace_id: str, external_id: str | None) -> Iterator[None]:
        """Hold the claim on `external_id` of the workspace for the block (no claim for
        None: clearing an external id cannot collide)."""
        if not external_id:
            yield
            return
        lock = RenewableLock(self.client, self.key(workspace_id, external_id), CLAIM_SECONDS)
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        try:
            while not lock.acquire():
                if time.monotonic() >= deadline:
                    raise Conflict(
                        "Another request is giving a contact this externalId; retry.",
                        details=[{"field": "externalId", "message": "Being assigned."}],
                    )
                time.sleep(CLAIM_POLL_SECONDS)
        except redis.RedisError as exc:
            raise ServiceUnavailable("Redis is unavailable; nothing was written.") from exc
        try:
            yield
        finally:
            lock.release()


class _NoClaims:
    def claim(self, workspace_id: str, external_id: str | None):
        return nullcontext()


NO_CLAIMS = _NoClaims()
