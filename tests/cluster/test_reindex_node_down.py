"""The zero-downtime reindex runs while a node is down, with clients writing meanwhile.

The new version is built with replicas 0, then the configured replica count is
restored (INDEX_REPLICAS) and the swap waits for green: with two of three nodes up
every shard still gets its two copies. No acknowledged write is lost across the swap.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from app import create_app
from app.config import TestConfig
from app.search.indices import IndexNames, current_index, drop_all, ensure_all
from app.search.reindex import reindex
from tests.cluster.load import Load


@pytest.fixture
def own_app():
    class OwnConfig(TestConfig):
        INDEX_PREFIX = f"{TestConfig.INDEX_PREFIX}rxdown-{uuid.uuid4().hex[:6]}-"

    app = create_app(OwnConfig)
    ensure_all(app.extensions["opensearch"], OwnConfig.INDEX_PREFIX)
    yield app
    drop_all(app.extensions["opensearch"], OwnConfig.INDEX_PREFIX)


def test_reindex_with_a_node_down_swaps_and_loses_no_acknowledged_write(
    own_app, cluster, workspace, report
):
    client = own_app.extensions["opensearch"]
    prefix = own_app.config["INDEX_PREFIX"]
    names = IndexNames(prefix, "contacts")
    source = current_index(client, names)
    victim = cluster.node_of_primary(client, names.write, workspace)
    with Load(own_app, workspace) as load:
        load.wait_for_writes(20)
        cluster.kill(victim)
        cluster.wait_for("yellow", cluster.nodes - 1)
        result = reindex(
            client,
            own_app.extensions["redis"],
            prefix,
            own_app.config["REDIS_KEY_PREFIX"],
            "contacts",
        )
        time.sleep(2)
    report.update(load.figures())
    report["killed_node"] = victim
    report["reindex"] = {
        k: result.as_dict()[k] for k in ("copied", "caught_up", "freeze_ms", "seconds")
    }
    cluster.start(victim)
    report["seconds_to_green_after_restart"] = round(cluster.wait_for("green", cluster.nodes), 1)

    target = current_index(client, names)
    assert target != source and target == result.target
    settings = client.indices.get_settings(index=target)[target]["settings"]["index"]
    assert settings["number_of_replicas"] == os.environ.get("INDEX_REPLICAS", "1")
    client.indices.refresh(index=names.read)
    missing = load.missing_after()
    report["writes_found_afterwards"] = len(load.acknowledged) - len(missing)
    assert len(load.acknowledged) > 0
    assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:5]}"
    assert not load.bad, load.bad[:5]
