"""Oversized bodies, deeply nested JSON and huge strings are refused cleanly (4xx)."""

from __future__ import annotations

import io
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


JSON_ROUTES = (
    ("POST", "/v1/contacts"),
    ("POST", "/v1/contacts/search"),
    ("POST", "/v1/contacts/normalize"),
    ("POST", "/v1/dnc"),
    ("POST", "/v1/dnc/check"),
    ("POST", "/v1/contacts/merge"),
)


def test_a_number_past_pythons_int_limit_is_400_on_every_json_route(client, workspace, auth):
    contact = client.post(
        "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": "A"}
    )
    routes = (*JSON_ROUTES, ("PATCH", f"/v1/contacts/{contact.json['data']['id']}"))
    for number in ("1" * 4_400, "-" + "9" * 4_301, "1e999", "NaN", "-Infinity"):
        for method, path in routes:
            for field in ("limit", "firstName", "phones"):
                body = f'{{"workspaceId": "{workspace}", "{field}": {number}}}'
                response = client.open(
                    path, method=method, data=body, headers=auth, content_type="application/json"
                )
                assert response.status_code == 400, (number[:10], path, response.json)
                assert response.json["error"]["code"] == "validation_error"


def test_an_if_match_of_thousands_of_digits_is_412_not_500(client, workspace, auth):
    contact = client.post(
        "/v1/contacts", headers=auth, json={"workspaceId": workspace, "firstName": "A"}
    )
    path = f"/v1/contacts/{contact.json['data']['id']}"
    for etag in (
        '"1-' + "4" * 4_400 + '"',
        '"' + "9" * 4_400 + '-1"',
        '"1-²"',
        '"1-99999999999999999999"',
    ):
        headers = {**auth, "If-Match": etag}
        patched = client.patch(path, headers=headers, json={"firstName": "X"})
        assert patched.status_code in (400, 412), (etag[:10], patched.json)
        assert client.delete(path, headers=headers).status_code in (400, 412)
    assert client.get(path, headers=auth).status_code == 200


def test_a_deeply_nested_import_mapping_is_400(client, workspace, auth):
    for mapping in ("[" * 100_000 + "]" * 100_000, '{"a": ' * 5_000 + "1" + "}" * 5_000):
        for where in ("form", "query"):
            form = {"file": (io.BytesIO(b"a,b\n1,2\n"), "c.csv")}
            options = {"workspaceId": workspace, "mapping": mapping}
            response = client.post(
                "/v1/contacts/import",
                headers=auth,
                data={**form, **options} if where == "form" else form,
                query_string=options if where == "query" else None,
                content_type="multipart/form-data",
            )
            assert response.status_code in (400, 413, 414), (where, response.status_code)
            assert response.json["error"]["code"]
    huge = client.post(
        "/v1/contacts/import",
        headers=auth,
        data={
            "workspaceId": workspace,
            "mapping": '{"a": ' + "7" * 5_000 + "}",
            "file": (io.BytesIO(b"a,b\n1,2\n"), "c.csv"),
        },
        content_type="multipart/form-data",
    )
    assert huge.status_code == 400 and huge.json["error"]["details"][0]["field"] == "mapping"
