"""Property-based run of every documented operation (schemathesis on /openapi.json).

No generated request may produce a 5xx, and every response must match the document.
About half the cases are made hostile first (huge numbers, deep nesting, huge headers;
see `hostile_variant`): those must be refused with a 4xx in the one error shape.
`make test` runs a short pass (FUZZ_EXAMPLES, default 30 per operation); `make fuzz`
runs a long one.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from app.config import TestConfig
from app.search import cursors
from app.search.indices import ensure_all
from tests.conftest import bearer

FUZZ_WORKSPACE = "ws_fuzz"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
# What the service promises: no 5xx, and every answer as documented. (The data-acceptance
# heuristics are left out: schema-valid input can still break a domain rule, e.g. an
# unknown country code or an offset past the result window, and that is a correct 400.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

fuzz_app = create_app(TestConfig)
schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)


@pytest.fixture(scope="module", autouse=True)
def indices(app):  # the session app: it also removes this run's indices and keys at the end
    del app
    ensure_all(fuzz_app.extensions["opensearch"], fuzz_app.config["INDEX_PREFIX"])


def aim_at_the_granted_workspace(case) -> None:
    """Most generated workspace ids would just be refused (403); half the time, use ours."""
    for container in (case.body, case.query):
        if isinstance(container, dict) and "workspaceId" in container and hash(str(case)) % 2:
            container["workspaceId"] = FUZZ_WORKSPACE


HUGE_NUMBERS = ("9" * 4_301, "-" + "1" * 6_000, "1" + "0" * 5_000 + ".5", "1e999", "-1e999")
DEPTHS = (1_000, 5_000, 50_000)
HUGE_HEADERS = (
    {"If-Match": '"1-' + "9" * 4_400 + '"'},
    {"If-Match": "W/" + "7" * 20_000},
    {"Idempotency-Key": "k" * 10_000},
    {"X-Request-ID": "r" * 10_000},
    {"Authorization": "Bearer " + "a" * 10_000},
)
MARKER = "__hostile__"


def hostile_variant(case) -> str | None:
    """Turn about half the generated cases into one hostile class, chosen by the case.

    Huge numbers and deep nesting go into the JSON body (any route that takes one) in
    place of one of its fields, huge numbers also into the query; huge headers go to
    every route. The name of the class, or None for a case sent as generated.
    """
    pick = hash(str(case)) % 10
    if pick >= 5 or case.method.upper() != case.operation.method.upper():
        # Cases sent with another method (schemathesis probes OPTIONS, TRACE, ...) are
        # answered before any body is read (405, or 200 to a CORS preflight).
        return None
    body = case.body
    if pick in (0, 1) and isinstance(body, dict) and case.media_type == "application/json":
        keys = sorted(body) or [MARKER]
        body = {**body, keys[hash(str(case)) % len(keys)]: MARKER}
        text = json.dumps(body)
        if pick == 0:
            value = HUGE_NUMBERS[hash(str(body)) % len(HUGE_NUMBERS)]
        else:
            depth = DEPTHS[hash(str(body)) % len(DEPTHS)]
            value = "[" * depth + "]" * depth
        case.body = text.replace(json.dumps(MARKER), value).encode()
        return "deep nesting" if pick else "huge number in the body"
    if pick == 2 and isinstance(case.query, dict):
        for name in sorted(case.query) or ["limit"]:
            case.query[name] = HUGE_NUMBERS[0]
        return "huge numbers in the query"
    case.headers = {**(case.headers or {}), **HUGE_HEADERS[pick % len(HUGE_HEADERS)]}
    return "huge header"


def _forged_cursors() -> list[str]:
    """Cursors a hostile client sends: guessed keys, other workspaces, huge numbers."""
    raw = b'{"v":2,"a":[1e999,"contact_x"],"f":"0000000000000000","p":"pit-of-another"}'
    good = cursors.CursorCodec(TestConfig.CURSOR_SECRET)
    mark = cursors.fingerprint(FUZZ_WORKSPACE, "list")
    return [
        cursors.CursorCodec("guessed").encode(cursors.Cursor([1, "c"], mark), FUZZ_WORKSPACE),
        good.encode(cursors.Cursor([1, "c"], mark, "pit-of-another"), "ws_someone_else"),
        good.encode(cursors.Cursor([10**30, "c"], mark), FUZZ_WORKSPACE),
        cursors._b64(raw) + "." + cursors._b64(b"0" * 32),
    ]


FORGED_CURSORS = _forged_cursors()


def forge_cursors(case) -> None:
    """Where an operation takes a cursor, send a forged one a third of the time."""
    for container in (case.body, case.query):
        if isinstance(container, dict) and "cursor" in container and hash(str(case)) % 3 == 0:
            container["cursor"] = FORGED_CURSORS[hash(str(case)) % len(FORGED_CURSORS)]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors_and_responses_match_the_document(case):
    aim_at_the_granted_workspace(case)
    forge_cursors(case)
    variant = hostile_variant(case)
    headers = dict(case.headers or {})
    if "Authorization" not in headers:
        headers.update(bearer(FUZZ_WORKSPACE))
    if variant is None:
        case.call_and_validate(headers=headers, checks=CHECKS)
        return
    # A hostile body is refused with a 4xx; a huge header or query value may also be
    # served (an unknown header, a search for digits). Never a 5xx; errors in one shape.
    response = case.call(headers=headers)
    status = response.status_code
    assert status < 500, (variant, status, response.text[:300])
    assert status >= 400 or variant in ("huge header", "huge numbers in the query"), variant
    if status >= 400:
        assert response.json()["error"]["code"], variant
