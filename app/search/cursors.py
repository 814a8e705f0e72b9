"""Opaque paging cursors: the sort values of the last hit, bound to the request they page.

A cursor is URL-safe base64 of compact JSON. It is not a secret and needs no signature:
the workspace filter is always rebuilt from the authorized request, so a forged cursor
can only skip around inside results the caller may already read. The fingerprint makes
a cursor from one search fail loudly when replayed against another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

VERSION = 1
MAX_CURSOR_LENGTH = 4096


class CursorError(ValueError):
    """The cursor is malformed or belongs to another request."""


@dataclass(frozen=True)
class Cursor:
    after: list
    fingerprint: str
    pit: str | None = None


def fingerprint(*parts) -> str:
    """A short digest of what the cursor pages (workspace, query, filters, sort)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(cursor: Cursor) -> str:
    payload = {"v": VERSION, "a": cursor.after, "f": cursor.fingerprint}
    if cursor.pit:
        payload["p"] = cursor.pit
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a sort value")


def decode(text: str, expected_fingerprint: str) -> Cursor:
    if not text or len(text) > MAX_CURSOR_LENGTH:
        raise CursorError("The cursor is not valid.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        # NaN / Infinity are JSON to Python but never a sort value the engine returned.
        payload = json.loads(raw, parse_constant=_refuse_constant)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("The cursor is not valid.") from exc
    if not isinstance(payload, dict) or payload.get("v") != VERSION:
        raise CursorError("The cursor is not valid.")
    after, pit = payload.get("a"), payload.get("p")
    if (
        not isinstance(after, list)
        or not after
        or not all(v is None or isinstance(v, str | int | float) for v in after)
        or (pit is not None and not isinstance(pit, str))
    ):
        raise CursorError("The cursor is not valid.")
    if payload.get("f") != expected_fingerprint:
        raise CursorError("The cursor belongs to a different search; start again without it.")
    return Cursor(after=after, fingerprint=expected_fingerprint, pit=pit)
