"""Throwaway servers of a test's own, stopped and restarted by their pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A redis-server on a free port; `persist` keeps an append-only file across restarts.

    `fsync` is the AOF's appendfsync policy: "always" loses nothing to a kill -9;
    "everysec" (production's setting) may lose the last second of writes.
    """

    def __init__(self, directory, persist: bool = False, fsync: str = "always") -> None:
        self.port, self.directory, self.persist, self.process = (
            free_port(),
            directory,
            persist,
            None,
        )
        self.fsync = fsync

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        durability = (
            ["--appendonly", "yes", "--appendfsync", self.fsync]
            if self.persist
            else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.directory),
                *durability,
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)

    def restart(self) -> None:
        """Start again on the same port and directory (the AOF, if any, is replayed)."""
        self.stop()
        self.start()

    def wipe(self) -> None:
        """FLUSHALL, as an operator's mistake or a failover to an empty replica would."""
        redis.Redis.from_url(self.url, socket_timeout=5).flushall()


class Faulty:
    """The real OpenSearch client, with one method's behaviour replaced by a test."""

    def __init__(self, real, **overrides) -> None:
        self._real, self._overrides = real, overrides

    def __getattr__(self, name):
        if name in self._overrides:
            return lambda *args, **kwargs: self._overrides[name](self._real, *args, **kwargs)
        return getattr(self._real, name)


ROOT = Path(__file__).resolve().parent.parent


def start_worker(config, log_path: Path, **settings: str) -> subprocess.Popen:
    """`contacts worker` on the test run's queue, prefixes and import folder, in its own
    process group (the worker and its work-horse stop together); `settings` override
    environment variables."""
    env = dict(
        os.environ,
        INDEX_PREFIX=config["INDEX_PREFIX"],
        REDIS_KEY_PREFIX=config["REDIS_KEY_PREFIX"],
        IMPORT_DIR=config["IMPORT_DIR"],
        **settings,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=env,
        cwd=ROOT,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a process started in its own group, and everything in the group."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
