"""DncCache against the real Redis: encoding, readiness marker, builds racing writes."""

from __future__ import annotations

import pytest

from app.dnc import DncCache, LayoutChanged


@pytest.fixture
def cache(app, workspace):
    cache = DncCache(app.extensions["redis"], app.config["REDIS_KEY_PREFIX"], bucket_target=8)
    yield cache
    cache.drop(workspace)


def build(cache, workspace, phones):
    layout = cache.begin_build(workspace, len(phones))
    cache.load(workspace, layout, phones)
    cache.finish_build(workspace, layout)
    return layout


def test_not_ready_until_a_build_completes(cache, workspace):
    assert cache.contains_many(workspace, ["+14155550001"]) is None
    layout = cache.begin_build(workspace, 100)
    cache.load(workspace, layout, ["+14155550001"])
    assert cache.contains_many(workspace, ["+14155550001"]) is None  # half built: not trusted
    cache.finish_build(workspace, layout)
    assert cache.contains_many(workspace, ["+14155550001", "+14155550002"]) == [True, False]
    cache.invalidate(workspace)
    assert cache.contains_many(workspace, ["+14155550001"]) is None


def test_buckets_are_intsets_with_the_workspace_hash_tag(app, cache, workspace):
    phones = [f"+1415555{i:04d}" for i in range(200)]
    layout = build(cache, workspace, phones)
    client = app.extensions["redis"]
    key = cache.bucket_key(workspace, layout.gen, 0)
    assert key.startswith(app.config["REDIS_KEY_PREFIX"]) and f"{{{workspace}}}" in key
    assert client.object("encoding", key) == b"intset"
    assert cache.state(workspace).count == 200
    assert all(cache.contains_many(workspace, phones))


def test_writes_during_a_build_reach_the_new_generation(cache, workspace):
    build(cache, workspace, ["+14155550001", "+14155550002"])
    layout = cache.begin_build(workspace, 3)  # the build read 0001, 0002, 0003 from the record
    mark = cache.mark(workspace, ["+14155550002"])
    cache.finish_remove(workspace, ["+14155550002"], mark)  # removed after the build read it
    cache.add(workspace, ["+14155550004"])  # added after the build's read
    cache.load(workspace, layout, ["+14155550001", "+14155550002", "+14155550003"])
    assert cache.contains_many(workspace, ["+14155550003"]) == [False]  # old generation live
    cache.finish_build(workspace, layout)
    phones = ["+14155550001", "+14155550002", "+14155550003", "+14155550004"]
    assert cache.contains_many(workspace, phones) == [True, False, True, True]
    assert cache.state(workspace).count == 3


def test_a_build_that_lost_its_generation_cannot_flip(cache, workspace):
    first = cache.begin_build(workspace, 1)
    second = cache.begin_build(workspace, 1)  # a newer builder took over
    with pytest.raises(LayoutChanged):
        cache.load(workspace, first, ["+14155550001"])
    cache.load(workspace, second, ["+14155550001"])
    with pytest.raises(LayoutChanged):
        cache.finish_build(workspace, first)
    cache.finish_build(workspace, second)
    assert cache.contains_many(workspace, ["+14155550001"]) == [True]


def test_a_stale_layout_in_another_process_is_corrected(app, cache, workspace):
    build(cache, workspace, ["+14155550001"])
    other = DncCache(app.extensions["redis"], app.config["REDIS_KEY_PREFIX"], bucket_target=8)
    assert other.contains_many(workspace, ["+14155550001"]) == [True]
    build(cache, workspace, [f"+1415555{i:04d}" for i in range(100)])  # new gen, more bits
    assert other.contains_many(workspace, ["+14155550050", "+14155559999"]) == [True, False]
