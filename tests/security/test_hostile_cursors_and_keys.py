"""Generated hostile cursors and foreign Idempotency-Keys: always a clean 4xx, never a leak.

Hypothesis builds the cursors a hostile client would try (random text, real cursors with
bytes flipped, payloads with huge or non-finite numbers, another workspace's point in
time, payloads signed with guessed keys, other workspaces' real cursors) and the
principals that might reach another's idempotency record (same subject without the
workspace, no subject, another subject in the same workspace).
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import Config, TestConfig
from app.search import cursors
from tests.conftest import ALL_SCOPES, bearer

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
WORKSPACE = f"ws_hostile_{uuid.uuid4().hex[:8]}"
OTHER = f"{WORKSPACE}_other"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture(scope="module")
def real(app):
    """Real cursors of WORKSPACE and OTHER (page 2 of a name sort carries a point in time)."""
    client = app.test_client()
    found = {}
    for workspace in (WORKSPACE, OTHER):
        auth = bearer(workspace)
        for n in range(3):
            body = {"workspaceId": workspace, "firstName": f"H{n}", "lastName": f"L{n}"}
            client.post("/v1/contacts?refresh=wait_for", json=body, headers=auth)
        body = {"workspaceId": workspace, "sort": "lastName", "limit": 1}
        first = client.post("/v1/contacts/search", json=body, headers=auth).json
        second = client.post(
            "/v1/contacts/search",
            json={**body, "cursor": first["meta"]["nextCursor"]},
            headers=auth,
        ).json
        found[workspace] = (first["meta"]["nextCursor"], second["meta"]["nextCursor"])
    return found


NUMBERS = st.sampled_from(
    ["1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 30, "9" * 4400, "0.5", "-3", "true"]
)


@st.composite
def forged_cursor(draw, real_cursors: dict) -> str:
    mine, other = real_cursors[WORKSPACE], real_cursors[OTHER]
    kind = draw(st.sampled_from(["text", "flip", "payload", "foreign", "guessed_key"]))
    if kind == "text":
        return draw(st.text(min_size=1, max_size=300))
    if kind == "flip":
        cursor = draw(st.sampled_from(mine))
        at = draw(st.integers(0, len(cursor) - 1))
        swap = draw(st.sampled_from("ABCxyz019-_."))
        return cursor[:at] + swap + cursor[at + 1 :] if cursor[at] != swap else cursor + "A"
    if kind == "foreign":
        return draw(st.sampled_from(other))
    pit = json.loads(base64.urlsafe_b64decode(other[1].split(".")[0] + "=="))["p"]
    number = draw(NUMBERS)
    mark = draw(st.sampled_from(["0" * 16, "abc"]))
    held = draw(st.sampled_from([pit, "x"]))
    raw = f'{{"v":2,"a":[{number},"contact_x"],"f":"{mark}","p":"{held}"}}'
    if kind == "payload":
        return b64(raw.encode()) + draw(st.sampled_from(["", ".", "." + b64(b"s" * 32)]))
    key = draw(st.sampled_from(["", "x", Config.CURSOR_SECRET, "secret", "change-me"]))
    if not key or key == TestConfig.CURSOR_SECRET:
        key = "guess"
    signature = cursors.CursorCodec(key)._sign(WORKSPACE, raw.encode())
    return f"{b64(raw.encode())}.{b64(signature)}"


def test_generated_hostile_cursors_are_400_on_every_paged_route(app, real):
    client = app.test_client()
    auth = bearer([WORKSPACE, OTHER])

    @SETTINGS
    @given(forged_cursor(real))
    def check(cursor):
        body = {"workspaceId": WORKSPACE, "sort": "lastName", "limit": 1, "cursor": cursor}
        answers = [
            client.post("/v1/contacts/search", json=body, headers=auth),
            client.get("/v1/contacts/search", query_string=body, headers=auth),
            client.get(
                "/v1/contacts",
                query_string={"workspaceId": WORKSPACE, "cursor": cursor},
                headers=auth,
            ),
        ]
        for response in answers:
            assert response.status_code == 400, (cursor, response.status_code, response.data)
            assert response.json["error"]["code"] == "validation_error"

    check()
    # The other workspace's point in time survived every forged use of it.
    assert (
        client.post(
            "/v1/contacts/search",
            json={"workspaceId": OTHER, "sort": "lastName", "limit": 1, "cursor": real[OTHER][1]},
            headers=bearer(OTHER),
        ).json["data"][0]["lastName"]
        == "L2"
    )


def no_subject(workspace: str) -> dict:
    claims = {"workspaces": [workspace], "scope": ALL_SCOPES, "exp": int(time.time()) + 600}
    claims["jti"] = uuid.uuid4().hex
    return {"Authorization": f"Bearer {jwt.encode(claims, Config.JWT_SECRET, 'HS256')}"}


INTRUDERS = {
    "same subject, not the workspace": lambda: bearer(OTHER, subject="owner"),
    "no subject, the workspace": lambda: no_subject(WORKSPACE),
    "another subject, the workspace": lambda: bearer(WORKSPACE, subject="someone-else"),
    "another issuer, same subject": lambda: bearer(WORKSPACE, subject="owner", iss="other"),
}


def test_generated_foreign_idempotency_keys_never_replay_another_principals_response(app):
    client = app.test_client()
    owner = bearer(WORKSPACE, subject="owner")

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(
        key=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
        intruder=st.sampled_from(sorted(INTRUDERS)),
        path=st.sampled_from(["/v1/contacts", "/v1/dnc"]),
    )
    def check(key, intruder, path):
        body = {"workspaceId": WORKSPACE, "firstName": "Owned", "phone": "+14155550177"}
        if path == "/v1/dnc":
            body = {"workspaceId": WORKSPACE, "phone": "+14155550177", "reason": "owned"}
        headers = {"Idempotency-Key": key}
        first = client.post(path, json=body, headers={**owner, **headers})
        assert first.status_code in (200, 201), first.json
        answer = client.post(path, json=body, headers={**INTRUDERS[intruder](), **headers})
        assert answer.status_code < 500
        assert "Idempotent-Replayed" not in answer.headers, intruder
        if answer.status_code in (200, 201) and path == "/v1/contacts":
            assert answer.json["data"]["id"] != first.json["data"]["id"]

    check()
