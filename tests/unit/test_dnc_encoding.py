"""The cache encoding's pure parts: number to integer, bucket sizing, splitting."""

from __future__ import annotations

from app.dnc import Layout, bits_for, number_of


def test_number_of_is_the_e164_digits():
    assert number_of("+14155551234") == 14155551234
    assert number_of("+442079460000") == 442079460000


def test_bits_keep_buckets_near_the_target():
    assert bits_for(0, 128) == 0 and bits_for(128, 128) == 0
    assert bits_for(129, 128) == 1
    bits = bits_for(10_000_000, 128)
    assert 10_000_000 / (1 << bits) <= 128 < 10_000_000 / (1 << (bits - 1))
    assert bits_for(10**12, 1) == 24  # capped


def test_split_is_reversible_and_spreads_a_dense_block():
    layout = Layout("1", 10)
    for n in (14155550000, 14155559999, 442079460000):
        bucket, member = layout.split(n)
        assert (member << 10) | bucket == n
    buckets = [layout.split(14155550000 + i)[0] for i in range(10_000)]
    counts = [buckets.count(b) for b in set(buckets)]
    assert len(counts) == 1024 and max(counts) - min(counts) <= 1


def test_us_members_fit_four_byte_intset_entries_at_ten_million():
    layout = Layout("1", bits_for(10_000_000, 128))
    assert layout.split(19999999999)[1] < 2**31
