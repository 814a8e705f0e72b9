"""A throwaway OpenSearch node of the fault tests' own, so killing it harms nothing else."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from devtools import stack

FAULT_PORT = int(os.environ.get("FAULT_OPENSEARCH_PORT", "9250"))


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
    folder = stack.STACK / "fault-opensearch"
    for suffix in ("data", "logs", "run"):
        shutil.rmtree(f"{folder}-{suffix}", ignore_errors=True)
    node = Node(FAULT_PORT, folder)
    node.start()
    yield node
    if node.pid:
        node.kill(signal.SIGTERM)
