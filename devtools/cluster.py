"""A local multi-node OpenSearch cluster beside the single-node stack (devtools/stack.py).

    python -m devtools.stack up --nodes 3      three nodes (HTTP 9201-9203, transport
                                               9301-9303, 512 MiB heaps) and a Redis on 6391
    python -m devtools.stack kill-node 2       kill -9 one node, as a crash would
    python -m devtools.stack start-node 2      start it again on its own data folder
    python -m devtools.stack env --nodes 3     the environment pointing the API at it

Each node is a plain process with its own data, logs and pid file under
`.stack/cluster/node-<n>-*`; node names follow their HTTP ports (node-9201, ...), and
the three are cluster-manager-eligible, so losing any one keeps a quorum. The fault
drills of tests/cluster kill and start nodes through these functions, by pid file.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from urllib.parse import urlparse

from devtools.stack import (
    STACK,
    fail,
    http_json,
    launch_opensearch,
    log,
    pid_alive,
    redis_ping,
    start_redis,
    stop_pid,
    verify_modules,
)

CLUSTER = STACK / "cluster"
CLUSTER_FIRST_PORT = 9201
CLUSTER_REDIS = "redis://127.0.0.1:6391/0"
# Three JVMs share the machine with everything else: small heaps are plenty for tests.
CLUSTER_HEAP = os.environ.get("CLUSTER_NODE_HEAP", "512m")
# Index topology for the cluster (app/config.py reads these): every shard has a copy on
# a second node, and contacts spread over three shards, a workspace over two of them.
CLUSTER_TOPOLOGY = {
    "INDEX_REPLICAS": "1",
    "INDEX_SHARDS_CONTACTS": "3",
    "INDEX_ROUTING_PARTITION_SIZE_CONTACTS": "2",
    "INDEX_SHARDS_DNC": "3",
}


def cluster_urls(nodes: int) -> list[str]:
    return [f"http://127.0.0.1:{CLUSTER_FIRST_PORT + n}" for n in range(nodes)]


def node_folder(number: int) -> Path:
    return CLUSTER / f"node-{number}"


def node_pid_file(number: int) -> Path:
    return Path(f"{node_folder(number)}-run") / "opensearch.pid"


def cluster_env(nodes: int) -> dict[str, str]:
    """The environment that points the API, the worker and the tests at the cluster."""
    return {
        "OPENSEARCH_HOSTS": ",".join(cluster_urls(nodes)),
        "REDIS_URL": CLUSTER_REDIS,
        "IMPORT_DIR": str(CLUSTER / "imports"),
        # Three JVMs on two shared cores: a 2,000-document bulk with its replica can take
        # longer than the single node's 10 s request timeout.
        "OPENSEARCH_TIMEOUT": "30",
        **CLUSTER_TOPOLOGY,
    }


def start_node(number: int, nodes: int = 3) -> None:
    """Start node `number` (1-based) of the cluster unless it already runs."""
    if pid_alive(node_pid_file(number)):
        log(f"node {number} already running")
        return
    urls = cluster_urls(nodes)
    launch_opensearch(
        urlparse(urls[number - 1]).port, node_folder(number), CLUSTER_HEAP, cluster=urls
    )


def kill_node(number: int, sig: int = signal.SIGKILL) -> int | None:
    """Signal node `number` (kill -9 by default), as a crash would; its pid, if it ran."""
    pid = pid_alive(node_pid_file(number))
    if pid:
        os.kill(pid, sig)
        log(f"sent signal {sig} to node {number} (pid {pid})")
    return pid


def wait_for_node_exit(number: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while pid_alive(node_pid_file(number)) and time.time() < deadline:
        time.sleep(0.2)


def wait_for_cluster(url: str, nodes: int, status: str = "green", timeout: float = 300) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        health = http_json(
            f"{url}/_cluster/health?wait_for_status={status}&wait_for_nodes={nodes}&timeout=2s",
            timeout=5,
        )
        if health and not health.get("timed_out") and health.get("number_of_nodes") == nodes:
            return True
        time.sleep(1)
    return False


def cluster_up(nodes: int) -> None:
    CLUSTER.mkdir(parents=True, exist_ok=True)
    start_redis(CLUSTER_REDIS, CLUSTER / "redis", CLUSTER / "redis.pid")
    for number in range(1, nodes + 1):
        start_node(number, nodes)
    urls = cluster_urls(nodes)
    if not wait_for_cluster(urls[0], nodes):
        fail(f"the {nodes}-node cluster did not turn green; see {CLUSTER}/node-*-logs")
    verify_modules(urls[0])
    cluster_status(nodes)


def cluster_down(nodes: int) -> None:
    for number in range(1, nodes + 1):
        stop_pid(node_pid_file(number), f"OpenSearch node {number}")
    stop_pid(CLUSTER / "redis.pid", "Redis (cluster stack)")


def cluster_status(nodes: int) -> None:
    for number, url in enumerate(cluster_urls(nodes), start=1):
        log(f"OpenSearch node {number} {url} {'up' if http_json(url) else 'down'}")
    health = http_json(f"{cluster_urls(nodes)[0]}/_cluster/health") or {}
    log(f"cluster health {health.get('status', 'unknown')}, nodes {health.get('number_of_nodes')}")
    log(f"Redis      {CLUSTER_REDIS} {'up' if redis_ping(CLUSTER_REDIS) else 'down'}")
