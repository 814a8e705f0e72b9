"""The DNC cache's values: how a number and a mark are encoded, and what a call returns.

Contract. Pure values and functions, no I/O: `number_of` turns an E.164 number into the
integer the cache stores, a `Layout` splits it into bucket and member, `bits_for` sizes a
generation's buckets, `new_mark` and `mark_age_seconds` make and age a write's mark, and
`CacheState`, `CacheAnswer` and the flags are what DncCache (app/dnc/cache.py) answers.
The encoding and the rules they serve are stated in app/dnc/cache.py.

Why a module of their own: the services, the reconciler, the rule cache and the tests use
these without the Redis class, and they are tested without servers
(tests/unit/test_dnc_encoding.py).
"""

from __future__ import annotations

import math
import re
import secrets
import time
from dataclasses import dataclass

MAX_BITS = 24
# contains_many flags.
NOT_LISTED, LISTED, PENDING = 0, 1, 2


@dataclass(frozen=True)
class CacheAnswer:
    """A trusted cache's answer: per-number flags, the server's clock and list version."""

    flags: list[int]
    now_ms: int
    version: int
    rules: bool  # rule entries may exist
    stamp: str = ""  # moves with every write of a number (see the module's Stamps)


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
    run_id: str | None = None
    workspace_id: str = ""

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


def new_mark() -> str:
    """A write's mark: unique, and ending in its time (ms) so leftovers can be aged."""
    return f"{secrets.token_hex(6)}@{int(time.time() * 1000)}"


def mark_age_seconds(mark: str, now: float | None = None) -> float:
    """Seconds since a mark (or a re-mark, which ends in its own time) was set."""
    stamp = re.search(r"([0-9]+)$", mark)
    if stamp is None:
        return float("inf")
    return (now if now is not None else time.time()) - int(stamp.group(1)) / 1000
