"""Webhook transport: which URLs may receive deliveries, and one signed POST.

SSRF. A subscriber chooses the URL and the worker calls it from inside the network, so:

- only `http` and `https`, no user:password part, at most 2,048 characters;
- the host's every address is checked, at subscription *and* at each delivery, and the
  delivery connects to the address that was checked (no second DNS lookup that a
  rebinding name could answer differently); redirects are not followed;
- always refused: link-local (169.254.0.0/16, fe80::/10, where cloud metadata lives:
  169.254.169.254, fd00:ec2::254), 100.64.0.0/10 (carrier-grade NAT, also a metadata
  range), unspecified, multicast, reserved and broadcast addresses;
- refused unless WEBHOOK_ALLOW_PRIVATE (tests, on-premises receivers): loopback and
  private ranges (10/8, 172.16/12, 192.168/16, fc00::/7).

Signing. Each delivery carries `X-Contacts-Signature: t=<unix seconds>,v1=<hex>`, where
`v1` is HMAC-SHA256 with the subscription's secret over `<t>.<raw body>`. A receiver
recomputes it over the bytes it received, compares in constant time, and rejects a
`t` more than 5 minutes from its own clock (a replayed delivery). Deliveries are at
least once: a receiver dedupes by the event `id` (also in `X-Contacts-Event-Id`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

import urllib3

MAX_URL = 2048
SIGNATURE_HEADER = "X-Contacts-Signature"
METADATA = {ipaddress.ip_address("fd00:ec2::254")}
CARRIER_NAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeUrl(ValueError):
    """The URL may not receive deliveries; the message says why."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does (tests use it too): signature matches and is recent."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp = parts.get("t", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(stamp), body), f"t={stamp},v1={parts.get('v1')}")


def parse(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL, before any address check."""
    if len(url) > MAX_URL or not url.isascii() or any(c.isspace() for c in url):
        raise UnsafeUrl("Give an http(s) URL of at most 2,048 ASCII characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("Only http and https URLs with a host are accepted.")
    if parts.username or parts.password:
        raise UnsafeUrl("Credentials in the URL are not accepted; sign with the secret.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("The URL's port is not valid.") from exc
    return parts.scheme, parts.hostname, port


def check_address(address: str, allow_private: bool) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if (
        ip.is_link_local
        or ip in METADATA
        or (ip.version == 4 and ip in CARRIER_NAT)
        or ip.is_unspecified
        or ip.is_multicast
    ):
        raise UnsafeUrl("The URL points at a link-local, metadata or reserved address.")
    if ip.is_loopback or ip.is_private:
        if not allow_private:
            raise UnsafeUrl("The URL points at a private or loopback address.")
    elif ip.is_reserved:
        raise UnsafeUrl("The URL points at a link-local, metadata or reserved address.")


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The one address deliveries connect to, after checking every address of the host."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl("The URL's host does not resolve.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeUrl("The URL's host does not resolve.")
    for address in addresses:
        check_address(address, allow_private)
    return addresses[0]


def check_url(url: str, allow_private: bool) -> None:
    _, host, port = parse(url)
    resolve(host, port, allow_private)


def post(
    url: str, secret: str, event_id: str, body: bytes, *, timeout: float, allow_private: bool
) -> tuple[int | None, str | None]:
    """One signed delivery: (HTTP status or None, error text or None)."""
    try:
        scheme, host, port = parse(url)
        address = resolve(host, port, allow_private)
    except UnsafeUrl as exc:
        return None, str(exc)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": parts.netloc,
        "Content-Type": "application/json",
        "User-Agent": "contacts-webhooks/1",
        "X-Contacts-Event-Id": event_id,
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
    }
    options = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False}
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, port, server_hostname=host, assert_hostname=host, **options
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **options)
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers=headers, redirect=False, preload_content=False
        )
        response.drain_conn()
        return response.status, None if 200 <= response.status < 300 else "non-2xx"
    except urllib3.exceptions.HTTPError as exc:
        return None, type(exc).__name__
    finally:
        pool.close()
