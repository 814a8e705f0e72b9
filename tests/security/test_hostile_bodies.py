"""Oversized bodies, deeply nested JSON and huge strings are refused cleanly (4xx)."""

from __future__ import annotations

import json


def test_deeply_nested_json_is_400(client, workspace, auth):
    for depth in (200, 5_000, 100_000):
        nested = "[" * depth + "]" * depth
        body = json.dumps({"workspaceId": workspace, "firstName": "A", "customFields": {}})
        body = body.replace('"customFields": {}', f'"customFields": {{"k": {nested}}}')
        response = client.post(
            "/v1/contacts", data=body, headers=auth, content_type="application/json"
        )
        assert 400 <= response.status_code < 500, (depth, response.status_code)
        assert response.json["error"]["code"]


def test_huge_strings_are_400_or_413(client, workspace, auth):
    for field, size in (
        ("firstName", 10_000),
        ("notes", 200_000),
        ("email", 5_000),
        ("phone", 100_000),
    ):
        body = {"workspaceId": workspace, "firstName": "A", field: "9" * size}
        response = client.post("/v1/contacts", json=body, headers=auth)
        assert response.status_code in (400, 413), (field, response.status_code)
    search = client.post(
        "/v1/contacts/search", headers=auth, json={"workspaceId": workspace, "query": "x" * 100_000}
    )
    assert search.status_code in (400, 413)


def test_oversized_body_is_413_everywhere(client, workspace, auth):
    blob = json.dumps({"workspaceId": workspace, "notes": "x" * (2 * 1024 * 1024)})
    for path in (
        "/v1/contacts",
        "/v1/contacts/search",
        "/v1/dnc",
        "/v1/dnc/check",
        "/v1/contacts/normalize",
    ):
        response = client.post(path, data=blob, headers=auth, content_type="application/json")
        assert response.status_code == 413, (path, response.status_code)
        assert response.json["error"]["code"] == "payload_too_large"


def test_many_keys_and_unicode_oddities(client, workspace, auth):
    fields = {f"k{i}": "v" for i in range(5_000)}
    response = client.post(
        "/v1/contacts",
        headers=auth,
        json={"workspaceId": workspace, "firstName": "A", "customFields": fields},
    )
    assert response.status_code == 400
    odd = client.post(
        "/v1/contacts",
        headers=auth,
        json={"workspaceId": workspace, "firstName": "\u0000\ud800", "lastName": "\u202e"},
    )
    assert odd.status_code in (201, 400)
