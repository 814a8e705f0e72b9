"""The import's Bloom filter: `add_all` (one hash per key) answers what `in` before
`add` answered, for the row's keys taken together."""

from __future__ import annotations

import hashlib
import random

from app.imports.bloom import BloomFilter


def test_add_all_reports_a_key_seen_in_an_earlier_call_and_never_forgets_one():
    bloom = BloomFilter(10_000, 1e-6)
    assert bloom.add_all(["p:+14155550100", "e:a@b.io"]) is False
    assert bloom.add_all(["p:+14155550199", "e:a@b.io"]) is True  # the address repeats
    assert bloom.add_all(["x:Zoë-山田"]) is False
    assert all(k in bloom for k in ["p:+14155550100", "e:a@b.io", "p:+14155550199", "x:Zoë-山田"])


def test_add_all_agrees_with_in_then_add_on_many_generated_rows():
    rng = random.Random(14)
    one_by_one, together = BloomFilter(5_000, 1e-6), BloomFilter(5_000, 1e-6)
    for _ in range(5_000):
        keys = [f"p:+1415555{rng.randint(0, 3000):04d}" for _ in range(rng.randint(0, 3))]
        expected = any(k in one_by_one for k in keys)
        for key in keys:
            one_by_one.add(key)
        assert together.add_all(keys) == expected
    assert together.bits == one_by_one.bits


def test_a_row_whose_keys_repeat_each_other_is_not_seen_before_itself():
    bloom = BloomFilter(1_000)
    assert bloom.add_all(["p:+14155550100", "p:+14155550100"]) is False


def _reference_positions(bloom: BloomFilter, key: str) -> list[int]:
    """The positions as first written (multiplied, not stepped)."""
    digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
    first = int.from_bytes(digest[:8], "little") % bloom.size
    second = int.from_bytes(digest[8:], "little") % bloom.size
    return [(first + i * second) % bloom.size for i in range(bloom.hashes)]


def test_positions_equal_the_multiplied_ones_for_any_key_and_size():
    rng = random.Random(15)
    keys = ["", "p:+14155550100", "e:ß@例子.中国", "x:" + "z" * 5_000, "x:\u0301"]
    keys += [f"e:{rng.random()}@x.io" for _ in range(2_000)]
    for capacity, rate in ((1, 0.5), (1_000, 1e-4), (10_000, 1e-6), (2_000_000, 1e-6)):
        bloom = BloomFilter(capacity, rate)
        for key in keys:
            assert bloom._positions(key) == _reference_positions(bloom, key), (capacity, key)


def test_a_key_whose_second_hash_is_zero_sets_one_bit():
    bloom = BloomFilter(1_000)
    bloom.size = 1  # every hash reduces to 0: the stepped range would be empty
    assert bloom._positions("k") == _reference_positions(bloom, "k") == [0] * bloom.hashes
