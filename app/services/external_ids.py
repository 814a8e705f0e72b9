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
refresh: a Redis key named after a digest of the id (a 255-character or non-ASCII id
makes a short, plain key), taken with SET NX and freed only by its holder's token, as
app/locks.py's lock is; written here as one script over many keys, so a batch takes
all of its claims in one round trip, and never renewed (see CLAIM_SECONDS). The second
request waits for the first (a PATCH with an external id answers only after the
refresh, about a second at most) and then finds the first's contact: 409. A claim that
stays taken longer than CLAIM_WAIT_SECONDS is a 409 too ("retry"), never a write.

Writes of many contacts claim only the ids they are about to give: a batch (create,
update, upsert) in its plan, an import per chunk, through GiveClaims
(app/services/external_id_gives.py): an item that creates a contact under an id, or moves
an id onto a contact that does not hold it, is claimed with `claim_many` (one round trip
per call), and the holders are read again once claimed. Items that keep their contact's
current id take no claim: claiming every id a batch names serialized concurrent batches
that only update those ids' holders (tests/api/test_batch_changes.py forces such an
interleaving). Claims last CLAIM_SECONDS and are freed at the end of the call (or lapse,
if the process dies).

A batch item creating a contact under the id's own slot of its chain claims it shared (a
set of holders' tokens instead of one): racing creates of one id need no claim among
themselves, the slot lets exactly one win, so two batches creating the same new ids (a
sync retrying a call that is still running, overlapping workers) go side by side
instead of the second waiting for the first and answering 409s. A claim held alone (a
PATCH, a single create, a create outside the chain) and a shared one exclude each other.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext

import redis

from app.errors import Conflict, ServiceUnavailable

# A claim lives this long unless freed first: past the slowest call (a batch's bulk
# times out after 30 s).
CLAIM_SECONDS = 90
# How long a request waits for another's claim on the same external id.
CLAIM_WAIT_SECONDS = 5
CLAIM_POLL_SECONDS = 0.05

# Take free keys for ARGV[1]; 1 per key taken, 0 per key not taken. ARGV[4] has one
# letter per key: "x" takes it alone (SET NX PX: free only when nobody holds it), "s"
# shares it (a set of holders' tokens: free unless someone holds it alone). In order
# (ARGV[3] == '1', KEYS sorted) it stops at the first key it cannot take: a caller then
# waits only for a key above every key it holds, so two callers never wait on each
# other (taking every free key and waiting for the rest deadlocks two batches that want
# two keys each hold one of, until the wait runs out).
_TAKE = """
local taken, stop = {}, false
for i, key in ipairs(KEYS) do
  taken[i] = 0
  if not stop then
    local got = false
    if string.sub(ARGV[4], i, i) == 's' then
      local kind = redis.call('TYPE', key).ok
      if kind == 'none' or kind == 'set' then
        redis.call('SADD', key, ARGV[1])
        redis.call('PEXPIRE', key, ARGV[2])
        got = true
      end
    else
      got = redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2])
    end
    if got then
      taken[i] = 1
    elseif ARGV[3] == '1' then
      stop = true
    end
  end
end
return taken
"""
# Free the keys ARGV[1] holds, alone or shared (never another holder's; a set whose
# last token goes is deleted by Redis).
_FREE = """
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'string' then
    if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
  elseif kind == 'set' then
    redis.call('SREM', key, ARGV[1])
  end
end
return 0
"""


def being_assigned() -> Conflict:
    return Conflict(
        "Another request is giving a contact this externalId; retry.",
        details=[{"field": "externalId", "message": "Being assigned."}],
    )


class ExternalIdClaims:
    def __init__(self, client: redis.Redis, key_prefix: str) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self._take = client.register_script(_TAKE)
        self._free = client.register_script(_FREE)

    def key(self, workspace_id: str, external_id: str) -> str:
        digest = hashlib.sha256(external_id.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.key_prefix}xid:{{{workspace_id}}}:{digest[:32]}"

    @contextmanager
    def claim(self, workspace_id: str, external_id: str | None) -> Iterator[None]:
        """Hold the claim on `external_id` of the workspace for the block, or 409 (no
        claim for None: clearing an external id cannot collide)."""
        if not external_id:
            yield
            return
        with self.claim_many(workspace_id, [external_id]) as held:
            if not held:
                raise being_assigned()
            yield

    @contextmanager
    def claim_many(
        self, workspace_id: str, external_ids: Iterable[str], shared: Iterable[str] = ()
    ) -> Iterator[set[str]]:
        """Claims on as many of `external_ids` as are free within CLAIM_WAIT_SECONDS, held
        for the block; yields the ids claimed (the caller refuses the others). Taken in
        key order while waiting; the last attempt takes whatever is free (it waits no
        more, so it cannot deadlock).

        The ids in `shared` are claimed shared: by a create under the id's own slot in
        its key chain (app/services/keys.py), where racing creates of one id meet on one
        document id and exactly one wins, so they need not wait for each other; they
        wait only for a claim held alone (a PATCH or a create outside the chain), and
        such a claim waits for every shared one to go."""
        names = {self.key(workspace_id, x): x for x in set(external_ids)}
        modes = {self.key(workspace_id, x): "s" for x in set(shared)}
        wanted = dict(names)
        token, held = secrets.token_hex(16), set()
        deadline = time.monotonic() + CLAIM_WAIT_SECONDS
        try:
            try:
                while wanted:
                    last = time.monotonic() >= deadline
                    keys = sorted(wanted)
                    mode = "".join(modes.get(key, "x") for key in keys)
                    args = [token, CLAIM_SECONDS * 1000, 0 if last else 1, mode]
                    taken = self._take(keys=keys, args=args)
                    for key, got in zip(keys, taken, strict=True):
                        if got:
                            held.add(key)
                            del wanted[key]
                    if not wanted or last:
                        break
                    time.sleep(CLAIM_POLL_SECONDS)
            except redis.RedisError as exc:
                raise ServiceUnavailable("Redis is unavailable; nothing was written.") from exc
            yield {names[key] for key in held}
        finally:
            if held:
                try:
                    self._free(keys=sorted(held), args=[token])
                except redis.RedisError:  # they lapse after CLAIM_SECONDS
                    pass


class _NoClaims:
    def claim(self, workspace_id: str, external_id: str | None):
        return nullcontext()

    def claim_many(self, workspace_id: str, external_ids: Iterable[str], shared=()):
        return nullcontext(set(external_ids))


NO_CLAIMS = _NoClaims()
