"""Idempotency-Key support for writes that must not happen twice.

A client that retries a create, an import or a DNC add with the same `Idempotency-Key`
gets the first response back instead of a second write. The same key with a different
body is a 409; keys expire after IDEMPOTENCY_TTL_SECONDS. Records live in Redis under
the token's subject, so two clients never share a key space.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable

import redis
from flask import Response, current_app, request

from app.auth import current_principal
from app.errors import Conflict, ServiceUnavailable, ValidationError

HEADER = "Idempotency-Key"
IN_PROGRESS = b"in-progress"
# Headers worth replaying; hop-by-hop and per-request ones are made anew.
REPLAYED_HEADERS = ("Content-Type", "ETag", "Location")
# OpenAPI description of the header, for @blp.doc(parameters=[...]).
HEADER_DOC = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Retrying with the same key returns the first response instead of "
    "writing again.",
}


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.query_string.decode()}".encode())
    if request.mimetype == "multipart/form-data":
        # Uploads can be large: hash the parsed fields and stream each file, then rewind it
        # for the view, instead of holding the raw body in memory.
        for name, value in sorted(request.form.items(multi=True), key=str):
            digest.update(f"{name}={value}\n".encode())
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: str(item[0])):
            digest.update(f"{name}:{upload.filename}\n".encode())
            for chunk in iter(lambda upload=upload: upload.stream.read(1 << 16), b""):
                digest.update(chunk)
            upload.stream.seek(0)
    else:
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _record_key(key: str) -> str:
    config = current_app.config
    subject = current_principal().subject or "anonymous"
    return f"{config['REDIS_KEY_PREFIX']}idem:{{{subject}}}:{request.endpoint}:{key}"


def idempotent(view: Callable) -> Callable:
    """Decorator for a view that returns a Response (place it above flask-smorest's)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise ValidationError(details=[{"field": HEADER, "message": "1-255 printable chars."}])
        store: redis.Redis = current_app.extensions["redis"]
        record_key = _record_key(key)
        fingerprint = _fingerprint()
        ttl = current_app.config["IDEMPOTENCY_TTL_SECONDS"]
        try:
            claimed = store.set(record_key, IN_PROGRESS, nx=True, ex=ttl)
            if not claimed:
                return _replay(store.get(record_key), fingerprint)
        except redis.RedisError as exc:
            # Without the record we cannot promise "at most once": refuse rather than risk it.
            raise ServiceUnavailable("Idempotency records are unavailable; retry.") from exc
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except Exception:
            store.delete(record_key)
            raise
        if response.status_code >= 500 or response.is_streamed:
            store.delete(record_key)
            return response
        record = {
            "fingerprint": fingerprint,
            "status": response.status_code,
            "headers": {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers},
            "body": response.get_data(as_text=True),
        }
        store.set(record_key, json.dumps(record), ex=ttl)
        return response

    return wrapper


def _replay(raw: bytes | None, fingerprint: str) -> Response:
    if raw is None or raw == IN_PROGRESS:
        raise Conflict("A request with this Idempotency-Key is still in progress.")
    record = json.loads(raw)
    if record["fingerprint"] != fingerprint:
        raise Conflict("This Idempotency-Key was used with a different request.")
    response = Response(record["body"], status=record["status"], headers=record["headers"])
    response.headers["Idempotent-Replayed"] = "true"
    return response
