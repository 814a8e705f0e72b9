"""FaultProxy: a small threaded TCP proxy whose behaviour can be switched at run time.

It listens on a free 127.0.0.1 port and forwards each connection to one target. Modes:

- ``pass``: bytes flow both ways untouched.
- ``delay``: server-to-client bytes are held for ``seconds`` before they are sent on,
  so replies arrive late (the client may time out while the server has done the work).
- ``drop_replies``: requests are forwarded, replies are swallowed: the server applies a
  write and the client never learns it. A connection that swallowed bytes is out of step
  with its protocol, so it is closed when the mode changes.
- ``cut``: every open connection is closed and new ones are closed on accept, as when
  the server is unreachable.

Threads are bounded: one accept thread plus two pumps per connection, with at most
``max_connections`` connections open; more are refused.
"""

from __future__ import annotations

import socket
import threading
import time

MODES = ("pass", "delay", "drop_replies", "cut")
CHUNK = 65_536


class _Link:
    """One client connection and its upstream socket."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.poisoned = False  # swallowed a reply: unusable once the mode changes
        self.closed = threading.Event()

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, *, max_connections: int = 64) -> None:
        self.target = (target_host, target_port)
        self.max_connections = max_connections
        self._mode, self._delay = "pass", 0.0
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True, name="proxy")

    # --- control ------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    def start(self) -> FaultProxy:
        self._acceptor.start()
        return self

    def set_mode(self, mode: str, seconds: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self._mode, self._delay = mode, seconds
            doomed = [
                link
                for link in self._links
                if mode == "cut" or (link.poisoned and mode != "drop_replies")
            ]
        for link in doomed:
            link.close()

    def heal(self) -> None:
        self.set_mode("pass")

    def cut(self) -> None:
        self.set_mode("cut")

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._links)

    # --- plumbing -----------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                refuse = self._mode == "cut" or len(self._links) >= self.max_connections
            if refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
                upstream.settimeout(None)
            except OSError:  # the target is down: the client sees a closed connection
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links.add(link)
            threading.Thread(
                target=self._pump, args=(link, client, upstream, False), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(link, upstream, client, True), daemon=True
            ).start()

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket, reply: bool) -> None:
        try:
            while not link.closed.is_set():
                data = source.recv(CHUNK)
                if not data:
                    break
                if reply:
                    mode, delay = self._mode, self._delay
                    if mode == "drop_replies":
                        link.poisoned = True
                        continue
                    if mode == "delay" and delay > 0:
                        time.sleep(delay)
                    if mode == "cut" or link.closed.is_set():
                        break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            link.close()
            with self._lock:
                self._links.discard(link)
