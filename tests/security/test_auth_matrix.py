"""Every endpoint × every way a token can be wrong: 401 / 403 / 404, never another's data.

The table of sample requests must cover every /v1 route: a new endpoint without a row
here fails `test_every_route_is_in_the_matrix`.
"""

from __future__ import annotations

import base64
import io
import json
import time

import pytest

from tests.conftest import ALL_SCOPES, bearer

VICTIM = "ws_victim_matrix"
ATTACKER = "ws_attacker_matrix"
VICTIM_PHONE = "+14155550142"
CSV = "firstName,lastName,phone\nMat,Rix,+14155550143\n"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_token_headers() -> dict[str, dict]:
    claims = {"workspaces": [VICTIM], "scope": ALL_SCOPES, "exp": int(time.time()) + 600}
    return {
        "no token": {},
        "malformed header": {"Authorization": "Token abc"},
        "malformed jwt": {"Authorization": "Bearer abc.def"},
        "expired": bearer(VICTIM, ttl=-600),
        "wrong key": bearer(VICTIM, secret="not-the-configured-secret-0123456789abcd"),
        "alg none": {"Authorization": f"Bearer {_b64({'alg': 'none'})}.{_b64(claims)}."},
    }


@pytest.fixture(scope="module")
def victim(app):
    """A contact, a DNC entry and an import in the victim's workspace."""
    client = app.test_client()
    auth = bearer(VICTIM)
    contact = client.post(
        "/v1/contacts",
        headers=auth,
        json={
            "workspaceId": VICTIM,
            "firstName": "Secret",
            "lastName": "Victim",
            "phone": VICTIM_PHONE,
            "email": "secret@victim.example",
        },
    )
    assert contact.status_code == 201
    client.post(
        "/v1/dnc",
        headers=auth,
        json={"workspaceId": VICTIM, "phone": VICTIM_PHONE, "reason": "requested"},
    )
    imported = client.post(
        "/v1/contacts/import",
        headers=auth,
        data={"workspaceId": VICTIM, "file": (io.BytesIO(CSV.encode()), "c.csv")},
        content_type="multipart/form-data",
    )
    assert imported.status_code in (200, 202), imported.json
    hook = client.post(
        "/v1/webhooks", headers=auth, json={"workspaceId": VICTIM, "url": "http://127.0.0.1:9/"}
    )
    assert hook.status_code == 201, hook.json
    return {
        "contact": contact.json["data"]["id"],
        "import": imported.json["data"]["id"],
        "webhook": hook.json["data"]["id"],
    }


def requests_for(ids: dict) -> list[tuple[str, str, str, dict]]:
    """(method, route rule, scope it needs, kwargs for the test client) per route."""
    contact, import_id = ids["contact"], ids["import"]
    body = {"workspaceId": VICTIM}

    def upload():
        return {
            "data": {"workspaceId": VICTIM, "file": (io.BytesIO(CSV.encode()), "c.csv")},
            "query_string": {"workspaceId": VICTIM},
            "content_type": "multipart/form-data",
        }

    return [
        ("GET", "/v1/contacts", "contacts:read", {"query_string": {"workspaceId": VICTIM}}),
        ("POST", "/v1/contacts", "contacts:write", {"json": {**body, "firstName": "X"}}),
        ("GET", "/v1/contacts/<string:contact_id>", "contacts:read", {"path": contact}),
        (
            "PATCH",
            "/v1/contacts/<string:contact_id>",
            "contacts:write",
            {"path": contact, "json": {"firstName": "Pwned"}},
        ),
        ("DELETE", "/v1/contacts/<string:contact_id>", "contacts:write", {"path": contact}),
        ("POST", "/v1/contacts/search", "contacts:read", {"json": {**body, "query": "secret"}}),
        (
            "GET",
            "/v1/contacts/search",
            "contacts:read",
            {"query_string": {"workspaceId": VICTIM, "query": "secret"}},
        ),
        ("GET", "/v1/contacts/export", "contacts:read", {"query_string": {"workspaceId": VICTIM}}),
        ("POST", "/v1/contacts/import", "contacts:write", upload()),
        ("GET", "/v1/contacts/imports/<string:import_id>", "contacts:read", {"path": import_id}),
        (
            "GET",
            "/v1/contacts/imports/<string:import_id>/errors.csv",
            "contacts:read",
            {"path": import_id},
        ),
        ("POST", "/v1/contacts/normalize", "contacts:read", {"json": {"phone": VICTIM_PHONE}}),
        ("POST", "/v1/dnc", "dnc:write", {"json": {**body, "phone": "+14155550199"}}),
        ("GET", "/v1/dnc", "dnc:read", {"query_string": {"workspaceId": VICTIM}}),
        (
            "DELETE",
            "/v1/dnc/<string:phone>",
            "dnc:write",
            {"path": VICTIM_PHONE, "query_string": {"workspaceId": VICTIM}},
        ),
        (
            "GET",
            "/v1/dnc/check",
            "dnc:read",
            {"query_string": {"workspaceId": VICTIM, "phone": VICTIM_PHONE}},
        ),
        ("POST", "/v1/dnc/check", "dnc:read", {"json": {**body, "phones": [VICTIM_PHONE]}}),
        ("GET", "/v1/dnc/history", "dnc:read", {"query_string": {"workspaceId": VICTIM}}),
        ("POST", "/v1/dnc/import", "dnc:write", upload()),
        ("GET", "/v1/contacts/changes", "contacts:read", {"query_string": {"workspaceId": VICTIM}}),
        ("GET", "/v1/contacts/<string:contact_id>/duplicates", "contacts:read", {"path": contact}),
        (
            "POST",
            "/v1/contacts/merge",
            "contacts:write",
            {"json": {**body, "targetId": contact, "sourceIds": ["contact_other"]}},
        ),
        ("GET", "/v1/contacts/merges/<string:merge_id>", "contacts:read", {"path": "merge_x"}),
        *[
            ("POST", f"/v1/contacts/batch/{op}", scope, {"json": {**body, **batch}})
            for op, scope, batch in (
                ("create", "contacts:write", {"items": [{"firstName": "X"}]}),
                ("update", "contacts:write", {"items": [{"id": contact, "firstName": "Pwned"}]}),
                (
                    "upsert",
                    "contacts:write",
                    {"key": "externalId", "items": [{"externalId": "x", "firstName": "X"}]},
                ),
                ("read", "contacts:read", {"items": [{"id": contact}]}),
                ("delete", "contacts:write", {"items": [{"id": contact}]}),
            )
        ],
        (
            "POST",
            "/v1/webhooks",
            "contacts:write",
            {"json": {**body, "url": "http://127.0.0.1:9/"}},
        ),
        ("GET", "/v1/webhooks", "contacts:read", {"query_string": {"workspaceId": VICTIM}}),
        ("GET", "/v1/webhooks/<string:webhook_id>", "contacts:read", {"path": ids["webhook"]}),
        (
            "PATCH",
            "/v1/webhooks/<string:webhook_id>",
            "contacts:write",
            {"path": ids["webhook"], "json": {"paused": True}},
        ),
        ("DELETE", "/v1/webhooks/<string:webhook_id>", "contacts:write", {"path": ids["webhook"]}),
        (
            "POST",
            "/v1/calling-window",
            "contacts:read",
            {"json": {**body, "phones": [VICTIM_PHONE]}},
        ),
        (
            "GET",
            "/v1/contacts/<string:contact_id>/calling-window",
            "contacts:read",
            {"path": contact, "query_string": {"workspaceId": VICTIM}},
        ),
        (
            "GET",
            "/v1/calling-window/policy",
            "contacts:read",
            {"query_string": {"workspaceId": VICTIM}},
        ),
        (
            "PUT",
            "/v1/calling-window/policy",
            "contacts:write",
            {"json": {**body, "noCallDays": ["sunday"]}},
        ),
        (
            "POST",
            "/v1/consents",
            "dnc:write",
            {"json": {**body, "phone": VICTIM_PHONE, "status": "revoked", "addToDnc": False}},
        ),
        *[
            ("GET", rule, "dnc:read", {"query_string": {"workspaceId": VICTIM, "phone": phone}})
            for rule, phone in (
                ("/v1/consents", VICTIM_PHONE),
                ("/v1/consents/history", VICTIM_PHONE),
            )
        ],
        ("GET", "/v1/consents/settings", "dnc:read", {"query_string": {"workspaceId": VICTIM}}),
        (
            "PUT",
            "/v1/consents/settings",
            "dnc:write",
            {"query_string": {"workspaceId": VICTIM}, "json": {"revokeAddsDnc": False}},
        ),
    ]


def send(client, method: str, rule: str, headers: dict, kwargs: dict):
    kwargs = dict(kwargs)
    path = rule
    if "path" in kwargs:
        value = kwargs.pop("path")
        path = rule[: rule.index("<")] + value + rule[rule.index(">") + 1 :]
    return client.open(path, method=method, headers=headers, **kwargs)


def assert_no_victim_data(response) -> None:
    text = response.get_data(as_text=True)
    for secret in ("Secret", "secret@victim", "Victim", VICTIM_PHONE):
        assert secret not in text, (response.status_code, text[:300])


def test_every_route_is_in_the_matrix(app, victim):
    covered = {(method, rule) for method, rule, _, _ in requests_for(victim)}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/v1"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, rule.rule) in covered, f"{method} {rule.rule} lacks a row"


def test_bad_tokens_are_401_everywhere(app, victim):
    client = app.test_client()
    for case, headers in bad_token_headers().items():
        for method, rule, _, kwargs in requests_for(victim):
            response = send(client, method, rule, headers, kwargs)
            assert response.status_code == 401, (case, method, rule, response.json)
            assert response.json["error"]["code"] == "unauthorized"
            assert_no_victim_data(response)


def test_token_for_another_workspace_gets_403_or_404_and_no_data(app, victim):
    client = app.test_client()
    attacker = bearer(ATTACKER)
    for method, rule, _, kwargs in requests_for(victim):
        response = send(client, method, rule, attacker, kwargs)
        if rule == "/v1/contacts/normalize":  # not workspace data: any valid token may use it
            assert response.status_code == 200
            continue
        expected = 404 if "<" in rule and "dnc" not in rule else 403
        assert response.status_code == expected, (method, rule, response.json)
        assert_no_victim_data(response)
    # Nothing the attacker sent changed the victim's data.
    owner = bearer(VICTIM)
    contact = client.get(f"/v1/contacts/{victim['contact']}", headers=owner)
    assert contact.status_code == 200 and contact.json["data"]["firstName"] == "Secret"


def test_token_without_the_scope_gets_403(app, victim):
    client = app.test_client()
    for method, rule, scope, kwargs in requests_for(victim):
        others = " ".join(s for s in ALL_SCOPES.split() if s != scope)
        response = send(client, method, rule, bearer(VICTIM, scope=others), kwargs)
        assert response.status_code == 403, (method, rule, response.json)
        assert response.json["error"]["code"] == "forbidden"
