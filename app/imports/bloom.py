"""A fixed-size Bloom filter: "have we seen this dedupe key in this file already?"

Memory is set by the capacity, not by the number of rows, so a 1M-row import holds
the same few megabytes as a 100k-row one. A "maybe" is always confirmed against the
index, so a false positive costs one refresh, never a wrongly skipped row.
"""

from __future__ import annotations

import hashlib
import math


class BloomFilter:
    def __init__(self, capacity: int, error_rate: float = 1e-4) -> None:
        bits = max(1024, int(-capacity * math.log(error_rate) / (math.log(2) ** 2)))
        self.size = bits
        self.hashes = max(1, round(bits / capacity * math.log(2)))
        self.bits = bytearray((bits + 7) // 8)

    def _positions(self, key: str):
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        first, second = int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")
        # Kirsch-Mitzenmacher: k positions from two independent hashes.
        return ((first + i * second) % self.size for i in range(self.hashes))

    def add(self, key: str) -> None:
        for position in self._positions(key):
            self.bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, key: str) -> bool:
        return all(self.bits[p >> 3] & (1 << (p & 7)) for p in self._positions(key))
