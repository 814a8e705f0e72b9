"""Which engine replies are missing part of the data (app/search/shards.py)."""

from __future__ import annotations

from app.search.shards import missing_shards


def test_a_whole_search_is_not_missing_anything():
    reply = {"_shards": {"total": 3, "successful": 3, "skipped": 1, "failed": 0}}
    assert missing_shards("_search", reply) == 0


def test_an_unassigned_shard_counts_as_missing_though_failed_is_zero():
    reply = {"_shards": {"total": 2, "successful": 1, "skipped": 0, "failed": 0}}
    assert missing_shards("_search", reply) == 1
    assert missing_shards("_count", reply) == 1


def test_failed_shards_count_as_missing():
    reply = {"_shards": {"total": 3, "successful": 1, "skipped": 0, "failed": 2}}
    assert missing_shards("_search", reply) == 2


def test_a_multi_get_document_in_error_is_missing_but_not_found_is_an_answer():
    reply = {
        "docs": [
            {"_id": "a", "found": False},
            {"_id": "b", "found": True, "_source": {}},
            {"_id": "c", "error": {"type": "no_shard_available_action_exception"}},
        ]
    }
    assert missing_shards("_mget", reply) == 1


def test_replies_without_shard_counts_are_left_alone():
    assert missing_shards("_search", {"hits": {}}) == 0
    assert missing_shards("_search", b"raw") == 0
