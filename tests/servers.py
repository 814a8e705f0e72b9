"""Throwaway servers of a test's own, stopped and restarted by their pid."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

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
