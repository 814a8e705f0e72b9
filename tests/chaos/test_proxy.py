"""FaultProxy against a real TCP echo server: each mode does what the checker relies on."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest

from tests.chaos.proxy import FaultProxy


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.server.received.append(data)
            self.request.sendall(data)


@pytest.fixture
def echo():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo):
    proxy = FaultProxy("127.0.0.1", echo.server_address[1]).start()
    yield proxy
    proxy.stop()


def connect(proxy: FaultProxy, timeout: float = 1.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)
    return sock


def test_pass_forwards_both_ways(proxy):
    with connect(proxy) as sock:
        sock.sendall(b"ping")
        assert sock.recv(16) == b"ping"


def test_delay_holds_replies(proxy):
    proxy.set_mode("delay", 0.3)
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"slow")
        assert sock.recv(16) == b"slow"
        assert time.monotonic() - started >= 0.25


def test_drop_replies_delivers_the_request_but_not_the_answer(proxy, echo):
    with connect(proxy, timeout=0.3) as sock:
        proxy.set_mode("drop_replies")
        sock.sendall(b"write")
        with pytest.raises(TimeoutError):
            sock.recv(16)
        assert b"write" in b"".join(echo.received)
        proxy.heal()  # a connection that lost a reply is out of step: it is closed
        assert sock.recv(16) == b""
    with connect(proxy) as fresh:
        fresh.sendall(b"again")
        assert fresh.recv(16) == b"again"


def test_cut_closes_open_and_new_connections(proxy):
    with connect(proxy) as sock:
        proxy.cut()
        assert sock.recv(16) == b""
    with connect(proxy) as refused:
        assert refused.recv(16) == b""
    proxy.heal()
    with connect(proxy) as sock:
        sock.sendall(b"back")
        assert sock.recv(16) == b"back"
