"""A throwaway Redis Cluster of three masters (no replicas) on free local ports."""

from __future__ import annotations

import socket
import subprocess
import time

import redis
from redis.cluster import RedisCluster


def free_cluster_port(taken: list[int]) -> int:
    """A port whose cluster-bus twin (port + 10000) is free too; free_port() may hand out
    ports above 55535, whose bus port does not exist."""
    for port in range(7100, 7999):
        if port in taken:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class OwnRedisCluster:
    def __init__(self, directory, masters: int = 3) -> None:
        self.directory = directory
        self.ports: list[int] = []
        for _ in range(masters):
            self.ports.append(free_cluster_port(self.ports))
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        for port in self.ports:
            folder = self.directory / str(port)
            folder.mkdir(parents=True, exist_ok=True)
            self.processes.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(folder / "nodes.conf"),
                        "--dir",
                        str(folder),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
        for port in self.ports:
            client = redis.Redis(port=port)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + 120  # the nodes agree by gossip: slow on a busy machine
        while time.monotonic() < deadline:
            if all(
                redis.Redis(port=port).cluster("INFO").get("cluster_state") == "ok"
                for port in self.ports
            ):
                return
            time.sleep(0.2)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def client(self, **kwargs) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.ports[0], **kwargs)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
