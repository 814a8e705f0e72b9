"""A rolling restart of all three nodes under load loses nothing.

Each node in turn is stopped gracefully (SIGTERM), started again on its data folder,
and the next one waits until the cluster is green again, as an upgrade would do it.
"""

from __future__ import annotations

import signal
import time

from app.search.indices import IndexNames
from tests.cluster.load import Load


def test_rolling_restart_of_every_node_under_load_loses_nothing(app, cluster, workspace, report):
    client = app.extensions["opensearch"]
    names = IndexNames(app.config["INDEX_PREFIX"], "contacts")
    report["seconds_to_green_per_node"] = {}
    started = time.monotonic()
    with Load(app, workspace) as load:
        load.wait_for_writes(20)
        for number in range(1, cluster.nodes + 1):
            cluster.kill(number, signal.SIGTERM)
            cluster.wait_for("yellow", cluster.nodes - 1)
            cluster.start(number)
            report["seconds_to_green_per_node"][number] = round(
                cluster.wait_for("green", cluster.nodes), 1
            )
        time.sleep(3)
    report["seconds_total"] = round(time.monotonic() - started, 1)
    report.update(load.figures())

    client.indices.refresh(index=names.read)
    missing = load.missing_after()
    report["writes_found_afterwards"] = len(load.acknowledged) - len(missing)
    assert len(load.acknowledged) > 0
    assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:5]}"
    assert load.listed_total() >= len(load.acknowledged)
    assert not load.bad, load.bad[:5]
