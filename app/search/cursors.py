"""Opaque paging cursors: the sort values of the last hit, bound to the request they page.

A cursor is `<payload>.<signature>`, both URL-safe base64. The payload is compact JSON:
the sort values of the last hit, a fingerprint of the query, and the point-in-time id
when paging runs inside one. The signature is an HMAC-SHA256, keyed from configuration
(CURSOR_SECRET), over the workspace and the payload. Why sign:

- the point-in-time id is a handle on engine memory: an unsigned cursor let a client
  replay or forge ids (another workspace's, or thousands of fresh ones) and make the
  server use, keep open or close contexts it never handed to that client;
- sort values go to the engine as `search_after`: only values the engine itself
  returned for this workspace and query may come back.

So a forged, tampered or foreign (other workspace, other query) cursor is refused
before anything reaches the engine. The signature is checked before the payload is
parsed; the parse still refuses values no engine returns (NaN, 1e999, 5,000-digit
integers) so a leaked key cannot turn a cursor into a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass

VERSION = 2
MAX_CURSOR_LENGTH = 4096
# Sort values are longs (dates, numbers), doubles (scores) or keywords; nothing wider.
LONG_RANGE = (-(2**63), 2**64)
INVALID = "The cursor is not valid."


class CursorError(ValueError):
    """The cursor is malformed, forged, or belongs to another request."""


@dataclass(frozen=True)
class Cursor:
    after: list
    fingerprint: str
    pit: str | None = None


def fingerprint(*parts) -> str:
    """A short digest of what the cursor pages (workspace, query, filters, sort)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a sort value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf without passing parse_constant
        raise ValueError("not a finite sort value")
    return value


def _sort_value(value) -> bool:
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return LONG_RANGE[0] <= value < LONG_RANGE[1]
    return isinstance(value, float)


class CursorCodec:
    """Signs cursors with one key; the services hold one each (built from config)."""

    def __init__(self, key: str | bytes) -> None:
        if not key:
            raise ValueError("cursor signing needs a non-empty key")
        self._key = key.encode() if isinstance(key, str) else key

    def _sign(self, workspace_id: str, payload: bytes) -> bytes:
        message = workspace_id.encode() + b"\n" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def encode(self, cursor: Cursor, workspace_id: str) -> str:
        body = {"v": VERSION, "a": cursor.after, "f": cursor.fingerprint}
        if cursor.pit:
            body["p"] = cursor.pit
        payload = json.dumps(body, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._sign(workspace_id, payload))}"

    def decode(self, text: str, workspace_id: str, expected_fingerprint: str) -> Cursor:
        """The cursor, if this server signed it for this workspace and this query."""
        if not text or len(text) > MAX_CURSOR_LENGTH or text.count(".") != 1:
            raise CursorError(INVALID)
        encoded, signature = text.split(".")
        try:
            payload, given = _unb64(encoded), _unb64(signature)
        except (binascii.Error, ValueError) as exc:
            raise CursorError(INVALID) from exc
        if not hmac.compare_digest(given, self._sign(workspace_id, payload)):
            raise CursorError(INVALID)
        if f"{_b64(payload)}.{_b64(given)}" != text:
            # Base64 ignores a last character's spare bits: only the form we issued counts.
            raise CursorError(INVALID)
        body = _parse(payload)
        if body.get("f") != expected_fingerprint:
            raise CursorError("The cursor belongs to a different search; start again without it.")
        return Cursor(after=body["a"], fingerprint=expected_fingerprint, pit=body.get("p"))


def _parse(payload: bytes) -> dict:
    try:
        body = json.loads(payload, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # ValueError covers integers past Python's 4,300-digit conversion limit too.
        raise CursorError(INVALID) from exc
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise CursorError(INVALID)
    after, pit = body.get("a"), body.get("p")
    if (
        not isinstance(after, list)
        or not after
        or not all(_sort_value(v) for v in after)
        or (pit is not None and not isinstance(pit, str))
    ):
        raise CursorError(INVALID)
    return body
