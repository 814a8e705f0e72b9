"""The shard layout comes from the environment; the mapping files keep the mappings."""

from __future__ import annotations

import pytest

from app.config import index_topology
from app.search import indices


def test_no_settings_keep_the_files_single_node_layout(monkeypatch):
    for key in (
        "INDEX_REPLICAS",
        "INDEX_REPLICAS_CONTACTS",
        "INDEX_SHARDS_CONTACTS",
        "INDEX_ROUTING_PARTITION_SIZE_CONTACTS",
        "INDEX_WAIT_FOR_ACTIVE_SHARDS",
    ):
        monkeypatch.delenv(key, raising=False)
    definition = indices.load_definition("contacts")
    assert definition["settings"]["index"]["number_of_shards"] == 1
    assert definition["settings"]["index"]["number_of_replicas"] == 0
    assert "_routing" not in definition["mappings"]


def test_per_index_values_override_the_file_and_the_global_replicas():
    env = {"INDEX_REPLICAS": "1", "INDEX_REPLICAS_DNC": "2", "INDEX_SHARDS_DNC": "4"}
    assert index_topology("dnc", env) == {"number_of_shards": 4, "number_of_replicas": 2}
    assert index_topology("contacts", env) == {"number_of_replicas": 1}
    assert index_topology("dnc_history", {"INDEX_SHARDS_DNC_HISTORY": "2"}) == {
        "number_of_shards": 2
    }


def test_a_routing_partition_makes_routing_required(monkeypatch):
    monkeypatch.setenv("INDEX_SHARDS_CONTACTS", "6")
    monkeypatch.setenv("INDEX_ROUTING_PARTITION_SIZE_CONTACTS", "3")
    definition = indices.load_definition("contacts")
    assert definition["settings"]["index"]["number_of_shards"] == 6
    assert definition["settings"]["index"]["routing_partition_size"] == 3
    assert definition["mappings"]["_routing"] == {"required": True}
    # The analysis settings still come from the file.
    assert "analysis" in definition["settings"]


def test_wait_for_active_shards_is_passed_through():
    assert index_topology("contacts", {"INDEX_WAIT_FOR_ACTIVE_SHARDS": "all"}) == {
        "write.wait_for_active_shards": "all"
    }


@pytest.mark.parametrize(
    "env",
    [
        {"INDEX_SHARDS_CONTACTS": "0"},
        {"INDEX_SHARDS_CONTACTS": "-1"},
        {"INDEX_SHARDS_CONTACTS": "three"},
        {"INDEX_SHARDS_CONTACTS": "１"},  # fullwidth digit: isdigit() alone would pass it
        {"INDEX_REPLICAS": "1.5"},
        {"INDEX_SHARDS_CONTACTS": "2", "INDEX_ROUTING_PARTITION_SIZE_CONTACTS": "2"},
        {"INDEX_ROUTING_PARTITION_SIZE_CONTACTS": "4"},
        {"INDEX_WAIT_FOR_ACTIVE_SHARDS": "most"},
        {"INDEX_SHARDS_CONTACTS": "9" * 400},
    ],
)
def test_bad_layouts_fail_at_startup(env):
    with pytest.raises(ValueError):
        index_topology("contacts", env)


def test_missing_fields_names_what_the_file_adds_at_any_depth():
    wanted = {
        "properties": {
            "phone": {"type": "keyword"},
            "phones": {"properties": {"number": {"type": "keyword"}, "type": {}}},
            "name": {"properties": {"first": {}, "last": {}}},
        }
    }
    live = {"properties": {"phone": {}, "name": {"properties": {"first": {}}}}}
    assert indices.missing_fields(wanted, live) == ["phones", "name.last"]
    assert indices.missing_fields(wanted, wanted) == []
