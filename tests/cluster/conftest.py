"""The three-node cluster of `make cluster`, for the node-loss drills of tests/cluster.

These tests kill and restart OpenSearch nodes, so they run only when asked
(`make test-cluster` sets CLUSTER_TESTS=1 and points the suite at the cluster with
`python -m devtools.stack env --nodes 3`); the default `make test` never collects them.
Every test leaves all three nodes running and the cluster green.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from devtools import cluster as local_cluster
from devtools import stack

NODES = 3
collect_ignore_glob = [] if os.environ.get("CLUSTER_TESTS") else ["test_*.py"]
REPORTS = local_cluster.CLUSTER / "reports"


class Cluster:
    """The local cluster's nodes by number (1..3), killed and started by pid file."""

    def __init__(self, nodes: int = NODES) -> None:
        self.nodes = nodes
        self.urls = local_cluster.cluster_urls(nodes)

    def health(self) -> dict:
        for url in self.urls:
            health = stack.http_json(f"{url}/_cluster/health", timeout=5)
            if health:
                return health
        return {}

    def kill(self, number: int, sig: int = signal.SIGKILL) -> None:
        assert local_cluster.kill_node(number, sig), f"node {number} was not running"
        local_cluster.wait_for_node_exit(number)

    def start(self, number: int) -> None:
        local_cluster.start_node(number, self.nodes)

    def wait_for(self, status: str, nodes: int, timeout: float = 600) -> float:
        """Seconds until the cluster reports `status` with `nodes` nodes (fails past timeout)."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            health = self.health()
            ranks = {"red": 0, "yellow": 1, "green": 2}
            if (
                health.get("number_of_nodes") == nodes
                and ranks.get(health.get("status"), -1) >= ranks[status]
                and not health.get("relocating_shards")
                and (status != "green" or not health.get("initializing_shards"))
            ):
                return time.monotonic() - started
            time.sleep(0.5)
        raise AssertionError(f"cluster not {status} with {nodes} nodes: {self.health()}")

    def node_of_primary(self, client, index: str, routing: str) -> int:
        """The number of the node that holds the primary a workspace's writes go to."""
        shards = client.search_shards(index=index, routing=routing)
        names = {node_id: node["name"] for node_id, node in shards["nodes"].items()}
        for group in shards["shards"]:
            for copy in group:
                if copy["primary"] and copy["state"] == "STARTED":
                    port = int(names[copy["node"]].rsplit("-", 1)[1])
                    return port - local_cluster.CLUSTER_FIRST_PORT + 1
        raise AssertionError(f"no started primary for routing {routing}")

    def ensure_all_up(self) -> None:
        for number in range(1, self.nodes + 1):
            if not stack.pid_alive(local_cluster.node_pid_file(number)):
                self.start(number)
        self.wait_for("green", self.nodes)


@pytest.fixture(scope="session")
def cluster(app) -> Cluster:
    hosts = app.config["OPENSEARCH_HOSTS"]
    if len(hosts) < NODES:
        pytest.fail("tests/cluster need the cluster: run `make test-cluster`")
    cluster = Cluster()
    cluster.ensure_all_up()
    yield cluster
    cluster.ensure_all_up()


@pytest.fixture
def report(request):
    """A dict the test fills with its figures; written to .stack/cluster/reports/."""
    figures: dict = {"test": request.node.name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
    yield figures
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = Path(REPORTS / f"{request.node.name}.json")
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))
    print(f"\n[cluster] {json.dumps(figures, sort_keys=True)}")
