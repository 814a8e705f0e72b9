"""A data node dies (kill -9) under load: nothing acknowledged is lost, reads stay honest.

With one replica per shard, a write is acknowledged once its primary and every in-sync
replica have it in their translogs (fsynced per request), so losing one node loses no
acknowledged write; the survivor of each shard is promoted. While that happens a read
that misses a shard answers 503 with Retry-After (app/search/shards.py), never a
partial page and never a 500.
"""

from __future__ import annotations

import time

from app.search.indices import IndexNames
from tests.cluster.load import Load

LOAD_SECONDS_DOWN, LOAD_SECONDS_AFTER = 15, 4


def test_kill_9_of_a_data_node_under_load_loses_no_acknowledged_write(
    app, cluster, workspace, report
):
    client = app.extensions["opensearch"]
    names = IndexNames(app.config["INDEX_PREFIX"], "contacts")
    victim = cluster.node_of_primary(client, names.write, workspace)
    report["killed_node"] = victim
    with Load(app, workspace) as load:
        load.wait_for_writes(20)
        killed_at = time.monotonic()
        cluster.kill(victim)
        writes_at_kill, reads_at_kill = load.answered()
        report["seconds_to_yellow_after_kill"] = round(cluster.wait_for("yellow", 2), 1)
        time.sleep(LOAD_SECONDS_DOWN)
        writes_at_restart, reads_at_restart = load.answered()
        cluster.start(victim)
        report["seconds_to_green_after_restart"] = round(cluster.wait_for("green", 3), 1)
        report["seconds_down_to_green"] = round(time.monotonic() - killed_at, 1)
        time.sleep(LOAD_SECONDS_AFTER)
    report.update(load.figures())

    client.indices.refresh(index=names.read)
    missing = load.missing_after()
    report["writes_found_afterwards"] = len(load.acknowledged) - len(missing)
    report["writes_acknowledged_while_down"] = writes_at_restart - writes_at_kill
    report["whole_reads_while_down"] = reads_at_restart - reads_at_kill
    assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:5]}"
    assert load.listed_total() >= len(load.acknowledged)
    assert not load.bad, load.bad[:5]
    # The service kept writing and answering searches with a node down.
    assert writes_at_restart > writes_at_kill and reads_at_restart > reads_at_kill
