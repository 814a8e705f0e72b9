"""A throwaway OpenSearch node of the fault tests' own, so killing it harms nothing else."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from devtools import stack


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def fault_port() -> int:
    """FAULT_OPENSEARCH_PORT, or the first port from 9250 whose HTTP and transport
    (+100) ports are both free: two suites on one machine (two checkouts) each start
    their own node instead of one killing, or waiting on, the other's."""
    if os.environ.get("FAULT_OPENSEARCH_PORT"):
        return int(os.environ["FAULT_OPENSEARCH_PORT"])
    for port in range(9250, 9300):
        if _free(port) and _free(port + 100):
            return port
    raise RuntimeError("no free port for the fault tests' OpenSearch node in 9250-9299")


class Node:
    """One local OpenSearch process that a test may kill -9 and start again."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.url = f"http://127.0.0.1:{port}"
        self.pid: int | None = None

    def start(self) -> None:
        pid_file = stack.launch_opensearch(self.port, self.folder, heap="512m")
        assert stack.wait_for_opensearch(self.url, timeout=240), "fault node did not start"
        self.pid = int(pid_file.read_text())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.pid
        os.kill(self.pid, sig)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        self.pid = None


@pytest.fixture(scope="module")
def fault_node():
    port = fault_port()
    folder = stack.STACK / f"fault-opensearch-{port}"
    for suffix in ("data", "logs", "run"):
        shutil.rmtree(f"{folder}-{suffix}", ignore_errors=True)
    node = Node(port, folder)
    node.start()
    yield node
    if node.pid:
        node.kill(signal.SIGTERM)
