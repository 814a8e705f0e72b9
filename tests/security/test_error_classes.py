"""Every /v1 route × every class of bad request: a 4xx in the one error shape, no 5xx.

The routes and their sample requests come from the auth matrix (which fails when a new
route has no row there). With OpenSearch and Redis up, no answer may be a 5xx at all:
the only documented 5xx is the 503 of a backing service that is down.
"""

from __future__ import annotations

import io
import json

from tests.conftest import bearer
from tests.security.test_auth_matrix import (  # noqa: F401  (`victim` is a fixture)
    ATTACKER,
    VICTIM,
    bad_token_headers,
    requests_for,
    send,
    victim,
)

DIGITS = "9" * 4_400
DEEP = "[" * 50_000 + "]" * 50_000


def with_body(kwargs: dict, raw: str | bytes) -> dict:
    """The same request with its JSON body replaced by raw text (uploads keep theirs)."""
    if "json" not in kwargs:
        return {**kwargs, "data": raw, "content_type": "application/json"}
    rest = {k: v for k, v in kwargs.items() if k != "json"}
    return {**rest, "data": raw, "content_type": "application/json"}


def spliced(kwargs: dict, value: str) -> dict:
    """The request's JSON body with `value` (raw JSON) in a new field and in `limit`."""
    body = dict(kwargs.get("json") or {"workspaceId": VICTIM})
    text = json.dumps({**body, "limit": "@@", "extra": "@@"}).replace('"@@"', value)
    return with_body(kwargs, text)


def with_query(kwargs: dict, **args) -> dict:
    return {**kwargs, "query_string": {**(kwargs.get("query_string") or {}), **args}}


def error_classes(kwargs: dict) -> dict[str, tuple[dict, dict]]:
    """name -> (headers, request kwargs) for one route's sample request."""
    owner = bearer(VICTIM)
    upload = "multipart/form-data" == kwargs.get("content_type")
    classes = {
        f"bad token: {name}": (headers, kwargs) for name, headers in bad_token_headers().items()
    }
    classes |= {
        "foreign workspace": (bearer(ATTACKER), kwargs),
        "missing scope": (bearer(VICTIM, scope="contacts:read"), kwargs),
        "huge headers": (
            {
                **owner,
                "If-Match": f'"1-{DIGITS}"',
                "Idempotency-Key": "k" * 10_000,
                "X-Request-ID": "r" * 10_000,
            },
            kwargs,
        ),
        "huge authorization": ({"Authorization": "Bearer " + "a" * 20_000}, kwargs),
        "bad query args": (
            owner,
            with_query(kwargs, limit="abc", offset="-1", cursor="1e999", unknown="1"),
        ),
        "huge numbers in the query": (owner, with_query(kwargs, limit=DIGITS, offset=DIGITS)),
    }
    if not upload:
        classes |= {
            "malformed JSON": (owner, with_body(kwargs, '{"workspaceId": ')),
            "huge body": (owner, with_body(kwargs, json.dumps({"notes": "x" * 2_000_000}))),
            "huge numbers": (owner, spliced(kwargs, DIGITS)),
            "infinite number": (owner, spliced(kwargs, "1e999")),
            "deep nesting": (owner, spliced(kwargs, DEEP)),
        }
    else:
        classes |= {
            "deep mapping": (owner, with_query(kwargs, mapping=DEEP[:20_000] + DEEP[-20_000:])),
            "huge number mapping": (owner, with_query(kwargs, mapping=f'{{"a": {DIGITS}}}')),
        }
    return classes


def fresh(kwargs: dict) -> dict:
    """Uploads carry a stream that one request consumes: rewind it for the next."""
    data = kwargs.get("data")
    if isinstance(data, dict) and "file" in data:
        stream, name = data["file"]
        stream.seek(0)
        return {**kwargs, "data": {**data, "file": (io.BytesIO(stream.read()), name)}}
    return kwargs


def test_every_route_answers_every_error_class_with_a_4xx_in_the_error_shape(app, victim):  # noqa: F811
    client = app.test_client()
    failures = []
    for method, rule, _, sample in requests_for(victim):
        for name, (headers, kwargs) in error_classes(sample).items():
            response = send(client, method, rule, headers, fresh(kwargs))
            status = response.status_code
            ok = status < 500 and (status < 400 or response.is_json and response.json["error"])
            if not ok:
                failures.append((method, rule, name, status, response.get_data(as_text=True)[:200]))
    assert not failures, failures
