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

Pending writes (marks). A write of number N is announced before the record changes
and settled after the cache follows it:

- `<p>dnc:{ws}:marks` maps a number to the mark of the write in flight on it;
  `<p>dnc:{ws}:bulk` holds the marks of bulk writes (any number of the workspace).
- An add marks, writes the record, then adds N to every generation *unconditionally*
  (an extra member only ever errs towards "listed") and clears its own mark; when
  another writer marked N meanwhile it re-marks N instead, so that writer's guarded
  removal cannot undo the add.
- A removal marks, deletes the record, then removes N only if its own mark is still
  there (a later add or repair has re-marked N otherwise) and clears it.
- A mark left behind (a crash, a lost reply, Redis unreachable half-way) stays until
  the reconciler reads the record and settles N with the same guarded step.

Trust rules. A check trusts the cache's "listed" always. It trusts "not listed" only
when the live generation exists, was stamped by this Redis server's current `run_id`
(a restart from an older append-only file, a failover or a restore changes the
run_id, and the cache is rebuilt before it is trusted again), and N carries no mark
and no bulk write is in flight; otherwise the record (OpenSearch) decides. So a
number whose add was acknowledged is either in the trusted cache or is read from the
record, whatever failed in between.

Rule entries (app/dnc/rules.py, app/dnc/rule_cache.py). Only exact, workspace-wide,
all-channel entries without an expiry live in the intsets. Every other entry (a prefix,
a campaign's or one channel's entry, an expiring one) is a descriptor in the
generation's rules hash, built, journalled and flipped live with the intsets. The check
script walks the number's prefixes of the lengths in use (one HMGET) and compares an
expiry with Redis `TIME`, so an entry stops matching at its expiry by one clock, never
earlier. The guarantee reads, for rules: from the moment an add of an entry is
acknowledged until its removal begins or its expiry passes, every check of a number it
covers (in its scope and channel) says "listed" or fails.

Stamps. Every write script run on a workspace's numbers (an add, an update, a removal,
a settle, on either generation) moves the `epoch` field of its meta hash, and a check
answers "<run_id>:<gen>:<epoch>" beside its flags. A stamp therefore names one state of
the workspace's numbers on one server run and one live generation: whatever a check read
from the record about a listed number after seeing stamp S stays true while checks still
see S (app/services/dnc_checks.py keeps listed numbers' entries that way). A record
change whose cache step failed leaves its mark until the reconciler settles the number
(a write script) or clears the bulk mark (`clear_bulk_mark`), and both move the epoch.

Every key carries the workspace as a hash tag, so each script touches one slot.

Where the parts live. This module is the Redis side's client: it names the keys and
prepares each script's keys and arguments. The Lua scripts that carry out each step are
in app/dnc/cache_scripts.py; the encoding's values and the marks (`Layout`, `number_of`,
`bits_for`, `new_mark`, `CacheState`, `CacheAnswer`, the flags) in app/dnc/encoding.py;
rule entries in app/dnc/rule_cache.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import redis

from app.dnc import cache_scripts as scripts
from app.dnc.encoding import (
    CacheAnswer,
    CacheState,
    Layout,
    LayoutChanged,
    bits_for,
    new_mark,
    number_of,
)
from app.dnc.rule_cache import RuleCache

# A stale layout seen by the caller is reloaded and the call retried this many times.
LAYOUT_RETRIES = 3
UNLINK_BATCH = 1_000


class DncCache(RuleCache):
    def __init__(self, client: redis.Redis, key_prefix: str, bucket_target: int = 128) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self.bucket_target = bucket_target
        self._check = client.register_script(scripts.CHECK)
        self._write = client.register_script(scripts.WRITE)
        self._mark = client.register_script(scripts.MARK)
        self._load = client.register_script(scripts.LOAD)
        self._begin = client.register_script(scripts.BEGIN)
        self._flip = client.register_script(scripts.FLIP)
        self._clear_if = client.register_script(scripts.CLEAR_IF)
        self._clear_bulk = client.register_script(scripts.CLEAR_BULK)
        self._run_id = client.register_script(scripts.RUN_ID)
        self.register_rule_scripts(client)

    # --- keys -------------------------------------------------------------------

    def _base(self, workspace_id: str) -> str:
        return f"{self.key_prefix}dnc:{{{workspace_id}}}"

    def meta_key(self, workspace_id: str) -> str:
        return f"{self._base(workspace_id)}:meta"

    def marks_key(self, workspace_id: str) -> str:
        return f"{self._base(workspace_id)}:marks"

    def bulk_key(self, workspace_id: str) -> str:
        return f"{self._base(workspace_id)}:bulk"

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
        count = int(meta.get("count", 0))
        return CacheState(live, building, count, meta.get("runid"), workspace_id)

    def server_run_id(self, workspace_id: str = "") -> str:
        """The run_id of the Redis server holding the workspace's keys."""
        value = self._run_id(keys=[self.meta_key(workspace_id)])
        return value.decode() if isinstance(value, bytes) else value

    def trusted(self, state: CacheState) -> bool:
        """Whether checks may trust the live generation (see the module's trust rules)."""
        return state.live is not None and state.run_id == self.server_run_id(state.workspace_id)

    def is_full(self, state: CacheState) -> bool:
        """Buckets average 3x their target: time to rebuild with more bits."""
        if not state.live:
            return False
        return state.count > 3 * self.bucket_target * (1 << state.live.bits)

    # --- reads --------------------------------------------------------------------

    def contains_many(self, workspace_id: str, phones: Sequence[str]) -> list[int] | None:
        """Per E.164 number: LISTED, NOT_LISTED or PENDING (ask the record) for calls,
        workspace-wide, in one script call; None when the cache may not be trusted."""
        answer = self.check_many(workspace_id, phones)
        return None if answer is None else answer.flags

    def check_many(
        self, workspace_id: str, phones: Sequence[str], campaign: str = "", channel: str = "calls"
    ) -> CacheAnswer | None:
        """contains_many for a campaign and channel, with the server's clock and the
        list's version; None when the cache may not be trusted at all."""
        # Lua numbers are doubles: exact up to 2**53, beyond any 15-digit E.164 number.
        result = self._check(
            keys=[
                self.meta_key(workspace_id),
                self.marks_key(workspace_id),
                self.bulk_key(workspace_id),
                self.rule_lengths_key(workspace_id),
                self.version_key(workspace_id),
            ],
            args=[
                f"{self._base(workspace_id)}:",
                campaign,
                channel,
                " ".join(p[1:] for p in phones),
            ],
        )
        if result[0] == 0:
            return None
        flags = [digit - 48 for digit in result[4]]  # b"0120" -> [0, 1, 2, 0]
        stamp = result[5].decode()
        return CacheAnswer(flags, int(result[1]), int(result[2]), result[3] > 0, stamp)

    def members(self, workspace_id: str) -> set[str] | None:
        """Every number of the live generation (the reconciler's side of the comparison);
        None when there is no live generation."""
        state = self.state(workspace_id)
        if state.live is None:
            return None
        layout, found = state.live, set()
        for start in range(0, 1 << layout.bits, UNLINK_BATCH):
            pipe = self.client.pipeline(transaction=False)
            buckets = range(start, min(start + UNLINK_BATCH, 1 << layout.bits))
            for bucket in buckets:
                pipe.smembers(self.bucket_key(workspace_id, layout.gen, bucket))
            for bucket, members in zip(buckets, pipe.execute(), strict=True):
                found.update(f"+{(int(m) << layout.bits) | bucket}" for m in members)
        return found

    def workspaces(self) -> list[str]:
        """Workspaces that have cache state in Redis."""
        pattern = f"{self.key_prefix}dnc:{{*}}:meta"
        found = []
        for key in self.client.scan_iter(match=pattern, count=1000):
            text = key.decode()
            found.append(text[text.index("{") + 1 : text.rindex("}")])
        return found

    def marks(self, workspace_id: str) -> dict[str, str]:
        """Pending per-number marks: {E.164: mark}."""
        raw = self.client.hgetall(self.marks_key(workspace_id))
        return {"+" + k.decode(): v.decode() for k, v in raw.items()}

    def bulk_marks(self, workspace_id: str) -> list[str]:
        return [k.decode() for k in self.client.hkeys(self.bulk_key(workspace_id))]

    # --- writes -------------------------------------------------------------------

    def mark(self, workspace_id: str, phones: Sequence[str]) -> str:
        """Announce a write of these numbers before the record changes; returns its mark."""
        mark = new_mark()
        self._mark(keys=[self.marks_key(workspace_id)], args=[mark, *(p[1:] for p in phones)])
        return mark

    def mark_bulk(self, workspace_id: str) -> str:
        """Announce a bulk write (any number of the workspace may change)."""
        mark = new_mark()
        self._mark(keys=[self.bulk_key(workspace_id)], args=[mark])
        return mark

    def finish_add(self, workspace_id: str, phones: Sequence[str], mark: str) -> int:
        """After the record lists `phones`: add them everywhere and settle `mark`."""
        return self._apply("add", workspace_id, list(phones), mark)

    def finish_remove(self, workspace_id: str, phones: Sequence[str], mark: str) -> int:
        """After the record dropped `phones`: remove those whose mark is still `mark`."""
        return self._apply("remove", workspace_id, list(phones), mark)

    def add(self, workspace_id: str, phones: Iterable[str]) -> int:
        """Add numbers the record holds (no write in flight to settle)."""
        return self._apply("add", workspace_id, list(phones), new_mark())

    def clear_bulk_mark(self, workspace_id: str, mark: str) -> None:
        self._clear_bulk(
            keys=[self.bulk_key(workspace_id), self.meta_key(workspace_id)], args=[mark]
        )

    def _apply(self, op: str, workspace_id: str, phones: list[str], mark: str) -> int:
        """One script: the change in every generation present, and the marks' bookkeeping."""
        numbers = [number_of(p) for p in phones]
        for _ in range(LAYOUT_RETRIES):
            state = self.state(workspace_id)
            layouts = [layout for layout in (state.live, state.building) if layout]
            keys = [
                self.meta_key(workspace_id),
                self.meta_key(workspace_id),
                self.marks_key(workspace_id),
                self.bulk_key(workspace_id),
            ]
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
                mark,
                int(time.time() * 1000),
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
        pipe.hdel(meta, "gen", "bits", "count", "runid")
        pipe.execute()

    # --- builds -------------------------------------------------------------------

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
        self._begin(keys=[meta], args=[gen, layout.bits])
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
        keys.append(self.rules_key(workspace_id, layout.gen))
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
        self.client.delete(
            self.meta_key(workspace_id),
            self.lock_key(workspace_id),
            self.marks_key(workspace_id),
            self.bulk_key(workspace_id),
            self.rule_lengths_key(workspace_id),
            self.rule_marks_key(workspace_id),
            self.version_key(workspace_id),
        )
