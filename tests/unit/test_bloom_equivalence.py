"""The import's Bloom filter with its checks and sets written inline and the digest's
halves read in one call gives exactly what the previous filter gave
(tests/unit/bloom_reference.py): the same answer for every row and the same bits after
every row, on generated rows of the import's keys and hostile ones (non-ASCII, huge,
empty, keys repeated within a row, rows without keys, many keys), at every size, including
the tiny filter whose second hash reduces to zero; a key that cannot be encoded fails
both the same way and sets nothing."""

from __future__ import annotations

import random

import pytest

from app.imports.bloom import BloomFilter
from tests.unit import bloom_reference as reference

HOSTILE = ["", "x:", "p:+", "e:ß@例子.中国", "x:" + "山" * 20_000, "x:\u0301\u200b", "x:\x00\n"]


def _rows(rng: random.Random, count: int) -> list[list[str]]:
    rows = []
    for n in range(count):
        keys = [f"p:+1415555{rng.randint(0, 2_000):04d}", f"e:row{rng.randint(0, 3_000)}@x.io"]
        keys += [f"x:ext-{rng.randint(0, 1_000)}-ü"] if n % 3 else []
        keys = rng.sample(keys, rng.randint(0, len(keys)))
        if rng.random() < 0.1:
            keys += [rng.choice(HOSTILE)]
        if rng.random() < 0.05:
            keys += keys  # a row whose keys repeat each other
        if rng.random() < 0.01:
            keys = [f"p:+1212555{k:04d}" for k in range(rng.randint(20, 60))]
        rows.append(keys)
    return rows


@pytest.mark.parametrize(
    "capacity, rate",
    [(10, 0.5), (100, 1e-2), (1_000, 1e-4), (2_000, 1e-6), (20_000, 1e-6), (10**6, 1e-6)],
)
def test_every_row_gets_the_previous_answer_and_leaves_the_previous_bits(capacity, rate):
    rng = random.Random(capacity)
    live, old = BloomFilter(capacity, rate), reference.BloomFilter(capacity, rate)
    assert (live.size, live.hashes) == (old.size, old.hashes)
    seen = 0
    for n, keys in enumerate(_rows(rng, 4_000)):
        answer = live.add_all(keys)
        assert answer == old.add_all(keys), keys
        if capacity < 100_000 or n % 250 == 0:  # a megabyte compared per row is slow
            assert live.bits == old.bits
        seen += answer
        for key in keys[:2]:
            assert (key in live) == (key in old) and live._positions(key) == old._positions(key)
    assert 0 < seen < 4_000 and live.bits == old.bits


def test_the_tiny_filter_whose_second_hash_is_zero_answers_as_before():
    live, old = BloomFilter(1_000), reference.BloomFilter(1_000)
    live.size = old.size = 1  # every hash reduces to 0
    for keys in (["k"], ["k", "j"], [], ["k"]):
        assert live.add_all(keys) == old.add_all(keys)
        assert live.bits == old.bits


def test_a_key_that_cannot_be_encoded_fails_alike_and_sets_nothing():
    live, old = BloomFilter(1_000), reference.BloomFilter(1_000)
    keys = ["p:+14155550100", "x:\ud800"]  # a lone surrogate
    for bloom in (live, old):
        with pytest.raises(UnicodeEncodeError):
            bloom.add_all(keys)
    assert live.bits == old.bits == bytearray(len(old.bits))
