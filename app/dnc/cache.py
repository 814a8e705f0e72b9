"""DncCache: each workspace's DNC numbers in Redis as bucketed intsets.

Encoding. An E.164 number without its "+" is an integer `n` of at most 15 digits. A
workspace's cache splits it into `bucket = n & (2**bits - 1)` and `member = n >> bits`
and keeps one Redis set of members per bucket. A set of small integers is stored by
Redis as an *intset*: a sorted array of 2-, 4- or 8-byte integers with no per-member
pointers, so a US number costs 4 bytes plus its share of the bucket key, against
roughly 60 bytes for the same number as a string in one plain set.

`bits` is chosen per workspace when its cache is built, so that buckets average about
`bucket_target` members: far below `set-max-intset-entries` (512 by default), past
which Redis turns a set into a hash table. The *low* bits pick the bucket, not a
number prefix, so a dense block (a whole exchange) spreads evenly instead of
overflowing one bucket.

Readiness. `<p>dnc:{ws}:meta` is a hash. The cache is trusted only while it holds
`gen` (the live generation, whose buckets are `<p>dnc:{ws}:<gen>:<bucket>`) and
`bits`. A build writes a new generation beside the live one (`building`, `bbits`)
and flips `gen` to it in one script when complete, so a half-built cache is never
read. Writes made while a build runs go to both generations; removals are also
journalled in `<p>dnc:{ws}:<building>:removed` so the build cannot re-add a number
that was removed after the build read it from OpenSearch.

Every key carries the workspace as a hash tag, so each script touches one slot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis

# A stale layout seen by the caller is reloaded and the call retried this many times.
LAYOUT_RETRIES = 3
MAX_BITS = 24
UNLINK_BATCH = 1_000

# Bucket keys are derived inside the script from the live layout, so a check is one
# round trip carrying only the numbers. They share the meta key's hash tag, hence its
# cluster slot, which is what lets a script touch keys it did not declare.
_CHECK = """
local m = redis.call('HMGET', KEYS[1], 'gen', 'bits')
if not m[1] then return {0} end
local base = ARGV[1] .. m[1] .. ':'
local size = 2 ^ tonumber(m[2])
local out = {1}
for i = 2, #ARGV do
  local n = tonumber(ARGV[i])
  local bucket = n % size
  local member = string.format('%.0f', (n - bucket) / size)
  out[i] = redis.call('SISMEMBER', base .. string.format('%x', bucket), member)
end
return out
"""

# KEYS: meta, removed-journal, live bucket keys (ARGV[4] of them), building bucket keys.
# ARGV: op, live gen, building gen, live key count, one member per bucket key, then `n`s.
_WRITE = """
local meta = redis.call('HMGET', KEYS[1], 'gen', 'building')
if (meta[1] or '') ~= ARGV[2] or (meta[2] or '') ~= ARGV[3] then return -1 end
local add = ARGV[1] == 'add'
local nlive = tonumber(ARGV[4])
local nkeys = #KEYS - 2
local live, built = 0, 0
for i = 1, nkeys do
  local changed
  if add then changed = redis.call('SADD', KEYS[i + 2], ARGV[i + 4])
  else changed = redis.call('SREM', KEYS[i + 2], ARGV[i + 4]) end
  if not add then changed = -changed end
  if i <= nlive then live = live + changed else built = built + changed end
end
if ARGV[3] ~= '' then
  for j = nkeys + 5, #ARGV do
    if add then redis.call('SREM', KEYS[2], ARGV[j]) else redis.call('SADD', KEYS[2], ARGV[j]) end
  end
  redis.call('HINCRBY', KEYS[1], 'bcount', built)
end
if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[1], 'count', live) end
return live
"""

# KEYS: meta, removed-journal, bucket keys. ARGV: building gen, members, then `n`s.
_LOAD = """
if redis.call('HGET', KEYS[1], 'building') ~= ARGV[1] then return -1 end
local nkeys = #KEYS - 2
local added = 0
for i = 1, nkeys do
  if redis.call('SISMEMBER', KEYS[2], ARGV[nkeys + 1 + i]) == 0 then
    added = added + redis.call('SADD', KEYS[i + 2], ARGV[i + 1])
  end
end
redis.call('HINCRBY', KEYS[1], 'bcount', added)
return added
"""

_FLIP = """
local m = redis.call('HMGET', KEYS[1], 'building', 'bbits', 'bcount', 'gen', 'bits')
if m[1] ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'gen', m[1], 'bits', m[2], 'count', m[3] or '0')
redis.call('HDEL', KEYS[1], 'building', 'bbits', 'bcount')
return {m[4] or '', m[5] or ''}
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Layout:
    """Where a workspace's numbers live: generation and bucket bits."""

    gen: str
    bits: int

    def split(self, n: int) -> tuple[int, int]:
        return n & ((1 << self.bits) - 1), n >> self.bits


@dataclass(frozen=True)
class CacheState:
    live: Layout | None
    building: Layout | None
    count: int

    @property
    def ready(self) -> bool:
        return self.live is not None


class LayoutChanged(Exception):
    """The generation moved while a call was prepared; reload and retry."""


def number_of(e164: str) -> int:
    """The integer a normalized E.164 number is stored as ("+14155551234" -> 14155551234)."""
    return int(e164[1:])


def bits_for(count: int, bucket_target: int) -> int:
    """Bucket bits so that `count` numbers average about `bucket_target` per bucket."""
    if count <= bucket_target:
        return 0
    return min(MAX_BITS, math.ceil(math.log2(count / bucket_target)))


class DncCache:
    def __init__(self, client: redis.Redis, key_prefix: str, bucket_target: int = 128) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self.bucket_target = bucket_target
        self._check = client.register_script(_CHECK)
        self._write = client.register_script(_WRITE)
        self._load = client.register_script(_LOAD)
        self._flip = client.register_script(_FLIP)
        self._release = client.register_script(_RELEASE)

    # --- keys -------------------------------------------------------------------

    def _base(self, workspace_id: str) -> str:
        return f"{self.key_prefix}dnc:{{{workspace_id}}}"

    def meta_key(self, workspace_id: str) -> str:
        return f"{self._base(workspace_id)}:meta"

    def lock_key(self, workspace_id: str) -> str:
        return f"{self._base(workspace_id)}:lock"

    def bucket_key(self, workspace_id: str, gen: str, bucket: int) -> str:
        return f"{self._base(workspace_id)}:{gen}:{bucket:x}"

    def removed_key(self, workspace_id: str, gen: str) -> str:
        return f"{self._base(workspace_id)}:{gen}:removed"

    # --- state --------------------------------------------------------------------

    def state(self, workspace_id: str) -> CacheState:
        meta = {
            k.decode(): v.decode()
            for k, v in self.client.hgetall(self.meta_key(workspace_id)).items()
        }
        live = Layout(meta["gen"], int(meta["bits"])) if "gen" in meta else None
        building = Layout(meta["building"], int(meta["bbits"])) if "building" in meta else None
        return CacheState(live, building, int(meta.get("count", 0)))

    def is_full(self, state: CacheState) -> bool:
        """Buckets average 3x their target: time to rebuild with more bits."""
        if not state.live:
            return False
        return state.count > 3 * self.bucket_target * (1 << state.live.bits)

    # --- reads --------------------------------------------------------------------

    def contains_many(self, workspace_id: str, phones: Sequence[str]) -> list[bool] | None:
        """Membership of each E.164 number in one script call; None when not ready."""
        # Lua numbers are doubles: exact up to 2**53, beyond any 15-digit E.164 number.
        result = self._check(
            keys=[self.meta_key(workspace_id)],
            args=[f"{self._base(workspace_id)}:", *(p[1:] for p in phones)],
        )
        if result[0] == 0:
            return None
        return [bool(flag) for flag in result[1:]]

    # --- writes -------------------------------------------------------------------

    def add(self, workspace_id: str, phones: Iterable[str]) -> int:
        return self._apply("add", workspace_id, list(phones))

    def remove(self, workspace_id: str, phones: Iterable[str]) -> int:
        return self._apply("remove", workspace_id, list(phones))

    def _apply(self, op: str, workspace_id: str, phones: list[str]) -> int:
        """Mirror a write already made in OpenSearch into every generation present."""
        if not phones:
            return 0
        numbers = [number_of(p) for p in phones]
        for _ in range(LAYOUT_RETRIES):
            state = self.state(workspace_id)
            layouts = [layout for layout in (state.live, state.building) if layout]
            if not layouts:
                return 0  # nothing cached yet: the next build reads OpenSearch
            keys = [self.meta_key(workspace_id), self.meta_key(workspace_id)]
            if state.building:
                keys[1] = self.removed_key(workspace_id, state.building.gen)
            members: list[int] = []
            for layout in layouts:
                for n in numbers:
                    bucket, member = layout.split(n)
                    keys.append(self.bucket_key(workspace_id, layout.gen, bucket))
                    members.append(member)
            args = [
                op,
                state.live.gen if state.live else "",
                state.building.gen if state.building else "",
                len(numbers) if state.live else 0,
                *members,
                *numbers,
            ]
            changed = self._write(keys=keys, args=args)
            if changed != -1:
                return changed
        raise LayoutChanged(workspace_id)

    def invalidate(self, workspace_id: str) -> None:
        """Stop trusting the cache (its buckets are reclaimed by the next build)."""
        meta = self.meta_key(workspace_id)
        gen, bits = self.client.hmget(meta, "gen", "bits")
        pipe = self.client.pipeline(transaction=True)
        if gen is not None:
            pipe.hset(meta, mapping={"stale": gen, "sbits": bits})
        pipe.hdel(meta, "gen", "bits", "count")
        pipe.execute()

    # --- builds -------------------------------------------------------------------

    def acquire_build_lock(self, workspace_id: str, token: str, ttl_ms: int) -> bool:
        return bool(self.client.set(self.lock_key(workspace_id), token, nx=True, px=ttl_ms))

    def release_build_lock(self, workspace_id: str, token: str) -> None:
        self._release(keys=[self.lock_key(workspace_id)], args=[token])

    def begin_build(self, workspace_id: str, expected_count: int) -> Layout:
        """Start a new generation sized for `expected_count`; writers now feed it too."""
        meta = self.meta_key(workspace_id)
        fields = self.client.hmget(meta, "building", "bbits", "stale", "sbits")
        leftovers = [
            Layout(g.decode(), int(b)) for g, b in (fields[0:2], fields[2:4]) if g is not None
        ]
        for layout in leftovers:  # an abandoned build or an invalidated generation
            self.drop_generation(workspace_id, layout)
        gen = str(self.client.hincrby(meta, "nextgen", 1))
        layout = Layout(gen, bits_for(expected_count, self.bucket_target))
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(meta, mapping={"building": gen, "bbits": layout.bits, "bcount": 0})
        pipe.hdel(meta, "stale", "sbits")
        pipe.execute()
        return layout

    def load(self, workspace_id: str, layout: Layout, phones: Sequence[str]) -> int:
        """Add a batch read from the record to the generation being built."""
        return self.load_numbers(workspace_id, layout, [number_of(p) for p in phones])

    def load_numbers(self, workspace_id: str, layout: Layout, numbers: Sequence[int]) -> int:
        keys = [self.meta_key(workspace_id), self.removed_key(workspace_id, layout.gen)]
        members = []
        for n in numbers:
            bucket, member = layout.split(n)
            keys.append(self.bucket_key(workspace_id, layout.gen, bucket))
            members.append(member)
        added = self._load(keys=keys, args=[layout.gen, *members, *numbers])
        if added == -1:
            raise LayoutChanged(workspace_id)
        return added

    def finish_build(self, workspace_id: str, layout: Layout) -> None:
        """Make the new generation live in one step, then reclaim the old one."""
        old = self._flip(keys=[self.meta_key(workspace_id)], args=[layout.gen])
        if old == -1:
            raise LayoutChanged(workspace_id)
        self.client.delete(self.removed_key(workspace_id, layout.gen))
        old_gen, old_bits = (v.decode() if isinstance(v, bytes) else v for v in old)
        if old_gen:
            self.drop_generation(workspace_id, Layout(old_gen, int(old_bits)))

    def drop_generation(self, workspace_id: str, layout: Layout) -> None:
        keys = [self.removed_key(workspace_id, layout.gen)]
        keys += [self.bucket_key(workspace_id, layout.gen, b) for b in range(1 << layout.bits)]
        for start in range(0, len(keys), UNLINK_BATCH):
            self.client.unlink(*keys[start : start + UNLINK_BATCH])

    def drop(self, workspace_id: str) -> None:
        """Forget a workspace's cache entirely (tests, benchmarks, operators)."""
        state = self.state(workspace_id)
        for layout in (state.live, state.building):
            if layout:
                self.drop_generation(workspace_id, layout)
        stale = self.client.hmget(self.meta_key(workspace_id), "stale", "sbits")
        if stale[0] is not None:
            self.drop_generation(workspace_id, Layout(stale[0].decode(), int(stale[1])))
        self.client.delete(self.meta_key(workspace_id), self.lock_key(workspace_id))
