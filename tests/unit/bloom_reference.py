"""A frozen copy of the import's Bloom filter before its inline `add_all` and one-call
digest halves (commit 6addfa6, app/imports/bloom.py). tests/unit/test_bloom_equivalence.py
compares the live filter with it; nothing else imports this module."""

from __future__ import annotations

import hashlib
import math

_MASKS = tuple(1 << n for n in range(8))


class BloomFilter:
    def __init__(self, capacity: int, error_rate: float = 1e-4) -> None:
        bits = max(1024, int(-capacity * math.log(error_rate) / (math.log(2) ** 2)))
        self.size = bits
        self.hashes = max(1, round(bits / capacity * math.log(2)))
        self.bits = bytearray((bits + 7) // 8)

    def _positions(self, key: str) -> list[int]:
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        size = self.size
        # Kirsch-Mitzenmacher: k positions from two independent hashes (reduced first:
        # the same positions, computed on small integers).
        first = int.from_bytes(digest[:8], "little") % size
        second = int.from_bytes(digest[8:], "little") % size
        if not second:
            return [first] * self.hashes
        # first + i * second for i < hashes, stepped rather than multiplied: the same list.
        return [p % size for p in range(first, first + self.hashes * second, second)]

    def add(self, key: str) -> None:
        self._set(self._positions(key))

    def __contains__(self, key: str) -> bool:
        return self._all_set(self._positions(key))

    def add_all(self, keys) -> bool:
        """Add every key; whether any of them was (maybe) seen before this call. One hash
        per key (`in` then `add` would hash each twice)."""
        positions = [self._positions(key) for key in keys]
        seen = any(self._all_set(p) for p in positions)
        for p in positions:
            self._set(p)
        return seen

    def _set(self, positions: list[int]) -> None:
        bits = self.bits
        for position in positions:
            bits[position >> 3] |= _MASKS[position & 7]

    def _all_set(self, positions: list[int]) -> bool:
        bits = self.bits
        return all(bits[p >> 3] & _MASKS[p & 7] for p in positions)
