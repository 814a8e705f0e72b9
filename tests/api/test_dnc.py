"""Do-Not-Call, flow-style, against the real OpenSearch and Redis."""

from __future__ import annotations

import io

from tests.conftest import bearer


def add(client, workspace, auth, phone="(415) 555-1234", status=201, **fields):
    body = {"workspaceId": workspace, "phone": phone, **fields}
    response = client.post("/v1/dnc?refresh=wait_for", json=body, headers=auth)
    assert response.status_code == status, response.json
    return response.json


def check(client, workspace, auth, phone):
    response = client.get(
        "/v1/dnc/check", query_string={"workspaceId": workspace, "phone": phone}, headers=auth
    )
    assert response.status_code == 200, response.json
    return response.json


def test_add_check_remove_and_history(client, workspace, auth):
    assert check(client, workspace, auth, "+14155551234")["data"]["dnc"] is False

    created = add(client, workspace, auth, reason="customer_request", source="agent")
    entry = created["data"]
    assert entry["phone"] == "+14155551234" and entry["reason"] == "customer_request"
    assert entry["source"] == "agent" and created["meta"]["existed"] is False

    result = check(client, workspace, auth, "415.555.1234")
    assert result["data"] == {
        "phone": "415.555.1234",
        "normalized": "+14155551234",
        "valid": True,
        "dnc": True,
        "reason": "customer_request",
        "addedAt": entry["addedAt"],
        "match": entry,
    }

    again = add(client, workspace, auth, phone="+1 415 555 1234", status=200, reason="litigator")
    assert again["meta"]["existed"] is True
    assert again["data"]["reason"] == "litigator" and again["data"]["source"] == "agent"
    assert again["data"]["addedAt"] == entry["addedAt"]

    path = f"/v1/dnc/(415)%20555-1234?workspaceId={workspace}&reason=consent&refresh=wait_for"
    assert client.delete(path, headers=auth).status_code == 204
    assert check(client, workspace, auth, "+14155551234")["data"]["dnc"] is False
    gone = client.delete(path, headers=auth)
    assert gone.status_code == 404 and gone.json["error"]["code"] == "not_found"

    history = client.get(f"/v1/dnc/history?workspaceId={workspace}", headers=auth).json
    assert [e["action"] for e in history["data"]] == ["removed", "updated", "added"]
    assert history["data"][0]["reason"] == "consent" and history["meta"]["total"] == 3
    assert all(e["phone"] == "+14155551234" for e in history["data"])
    removed = client.get(
        f"/v1/dnc/history?workspaceId={workspace}&action=removed&phone=4155551234", headers=auth
    ).json
    assert len(removed["data"]) == 1


def test_list_is_paged_newest_first_and_filters(client, workspace, auth):
    phones = ["+14155550101", "+14155550102", "+14155550103"]
    add(client, workspace, auth, phone=phones[0], reason="litigator", source="import")
    add(client, workspace, auth, phone=phones[1], reason="customer_request", source="agent")
    add(client, workspace, auth, phone=phones[2], reason="customer_request", source="agent")

    first = client.get(f"/v1/dnc?workspaceId={workspace}&limit=2", headers=auth).json
    assert [e["phone"] for e in first["data"]] == phones[::-1][:2]
    assert first["meta"] == {"total": 3, "hasMore": True}
    rest = client.get(f"/v1/dnc?workspaceId={workspace}&limit=2&offset=2", headers=auth).json
    assert [e["phone"] for e in rest["data"]] == [phones[0]] and not rest["meta"]["hasMore"]

    by_reason = client.get(f"/v1/dnc?workspaceId={workspace}&reason=Litigator", headers=auth)
    assert [e["phone"] for e in by_reason.json["data"]] == [phones[0]]
    by_source = client.get(f"/v1/dnc?workspaceId={workspace}&source=agent", headers=auth)
    assert by_source.json["meta"]["total"] == 2
    cutoff = first["data"][0]["addedAt"]
    recent = client.get(
        "/v1/dnc", query_string={"workspaceId": workspace, "addedAfter": cutoff}, headers=auth
    )
    assert [e["phone"] for e in recent.json["data"]] == [phones[2]]
    early = client.get(
        "/v1/dnc", query_string={"workspaceId": workspace, "addedBefore": cutoff}, headers=auth
    )
    assert early.json["meta"]["total"] == 2
    bad = client.get(f"/v1/dnc?workspaceId={workspace}&addedAfter=yesterday", headers=auth)
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "addedAfter"


def test_bulk_check_mixes_valid_invalid_and_listed(client, workspace, auth):
    add(client, workspace, auth, phone="+14155550111", reason="litigator")
    add(client, workspace, auth, phone="+442079460000", reason="customer_request")
    phones = [
        "(415) 555-0111",
        "+1 415 555 0112",
        "not a number",
        "",
        "12",
        "+44 20 7946 0000",
        "9" * 900,
        "+14155550111",
    ]
    response = client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": phones}, headers=auth
    )
    assert response.status_code == 200, response.json
    rows = response.json["data"]
    assert [r["phone"] for r in rows] == phones
    # Input that is not a number cannot be decided: null, never false (callable).
    assert [r["dnc"] for r in rows] == [True, False, None, None, None, True, None, True]
    assert [r["valid"] for r in rows] == [True, True, False, False, False, True, False, True]
    assert rows[2]["validationErrors"] and rows[6]["validationErrors"] == ["TOO_LONG"]
    assert rows[0]["reason"] == "litigator" and rows[0]["addedAt"]
    assert rows[5]["normalized"] == "+442079460000" and rows[5]["reason"] == "customer_request"
    assert rows[2]["normalized"] is None and rows[1]["reason"] is None
    assert response.json["meta"]["listed"] == 3 and response.json["meta"]["invalid"] == 4


def test_bulk_check_limits_and_bad_bodies(client, workspace, auth):
    many = ["+14155550000"] * 10_001
    too_many = client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": many}, headers=auth
    )
    assert too_many.status_code == 400
    assert too_many.json["error"]["details"][0]["field"] == "phones"
    ok = client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": many[:10_000]}, headers=auth
    )
    assert ok.status_code == 200 and len(ok.json["data"]) == 10_000
    for body in ({"workspaceId": workspace}, {"workspaceId": workspace, "phones": []}):
        assert client.post("/v1/dnc/check", json=body, headers=auth).status_code == 400
    numbers = client.post(
        "/v1/dnc/check", json={"workspaceId": workspace, "phones": [4155550000]}, headers=auth
    )
    assert numbers.status_code == 400
    missing = client.get(f"/v1/dnc/check?workspaceId={workspace}", headers=auth)
    assert missing.status_code == 400 and missing.json["error"]["details"][0]["field"] == "phone"
    bad = client.get(f"/v1/dnc/check?workspaceId={workspace}&phone=hello", headers=auth)
    assert bad.status_code == 200
    assert bad.json["data"]["valid"] is False and bad.json["data"]["dnc"] is None


def test_add_validation_and_nothing_written_on_error(client, workspace, auth):
    cases = [
        ({"workspaceId": workspace, "phone": "12"}, "phone"),
        ({"workspaceId": workspace}, "phone"),
        ({"phone": "+14155550000"}, "workspaceId"),
        ({"workspaceId": workspace, "phone": "+14155550000", "reason": "x" * 501}, "reason"),
        ({"workspaceId": workspace, "phone": "+14155550000", "color": "red"}, "color"),
    ]
    for body, field in cases:
        response = client.post("/v1/dnc", json=body, headers=auth)
        assert response.status_code == 400, body
        assert field in [d["field"] for d in response.json["error"]["details"]]
    listed = client.get(f"/v1/dnc?workspaceId={workspace}", headers=auth).json
    assert listed["meta"]["total"] == 0


def test_workspaces_are_isolated(client, workspace, auth):
    other = "ws_other" + workspace[3:]
    other_auth = bearer(other)
    add(client, workspace, auth, phone="+14155550121")
    assert check(client, other, other_auth, "+14155550121")["data"]["dnc"] is False
    listed = client.get(f"/v1/dnc?workspaceId={other}", headers=other_auth).json
    assert listed["meta"]["total"] == 0
    gone = client.delete(f"/v1/dnc/+14155550121?workspaceId={other}", headers=other_auth)
    assert gone.status_code == 404
    assert check(client, workspace, auth, "+14155550121")["data"]["dnc"] is True
    # A token never reaches a workspace it does not hold, whatever the verb.
    for response in (
        client.get(f"/v1/dnc/check?workspaceId={workspace}&phone=1", headers=other_auth),
        client.post(
            "/v1/dnc/check", json={"workspaceId": workspace, "phones": ["1"]}, headers=other_auth
        ),
        client.get(f"/v1/dnc?workspaceId={workspace}", headers=other_auth),
        client.get(f"/v1/dnc/history?workspaceId={workspace}", headers=other_auth),
        client.post("/v1/dnc", json={"workspaceId": workspace, "phone": "1"}, headers=other_auth),
        client.delete(f"/v1/dnc/+14155550121?workspaceId={workspace}", headers=other_auth),
    ):
        assert response.status_code == 403, response.json


def test_scopes(client, workspace):
    read_only = bearer(workspace, "dnc:read")
    write_only = bearer(workspace, "dnc:write")
    contacts_only = bearer(workspace, "contacts:read contacts:write")
    body = {"workspaceId": workspace, "phone": "+14155550131"}
    assert client.post("/v1/dnc", json=body, headers=read_only).status_code == 403
    assert client.post("/v1/dnc", json=body, headers=contacts_only).status_code == 403
    assert client.post("/v1/dnc", json=body, headers=write_only).status_code == 201
    check_path = f"/v1/dnc/check?workspaceId={workspace}&phone=%2B14155550131"
    assert client.get(check_path, headers=write_only).status_code == 403
    assert client.get(check_path, headers=read_only).json["data"]["dnc"] is True
    assert client.get(f"/v1/dnc?workspaceId={workspace}", headers=write_only).status_code == 403
    delete_path = f"/v1/dnc/+14155550131?workspaceId={workspace}"
    assert client.delete(delete_path, headers=read_only).status_code == 403
    assert client.get(check_path).status_code == 401
    assert client.delete(delete_path, headers=write_only).status_code == 204


def test_contacts_carry_the_dnc_flag(client, workspace, auth):
    def contact(phone):
        body = {"workspaceId": workspace, "firstName": "Pat", "phone": phone}
        response = client.post("/v1/contacts?refresh=wait_for", json=body, headers=auth)
        assert response.status_code == 201, response.json
        return response.json["data"]

    add(client, workspace, auth, phone="+14155550141")
    listed = contact("(415) 555-0141")
    callable_ = contact("(415) 555-0142")
    no_phone = client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Nophone"},
        headers=auth,
    ).json["data"]
    assert listed["dnc"] is True and callable_["dnc"] is False and no_phone["dnc"] is False

    get = client.get(f"/v1/contacts/{listed['id']}", headers=auth).json["data"]
    assert get["dnc"] is True
    page = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).json["data"]
    assert {c["id"]: c["dnc"] for c in page} == {
        listed["id"]: True,
        callable_["id"]: False,
        no_phone["id"]: False,
    }

    # Listing and unlisting a number follows into the contacts, the indexed copy included.
    add(client, workspace, auth, phone="+14155550142")
    assert client.get(f"/v1/contacts/{callable_['id']}", headers=auth).json["data"]["dnc"]
    app = client.application
    index = f"{app.config['INDEX_PREFIX']}contacts"
    opensearch = app.extensions["opensearch"]
    opensearch.indices.refresh(index=index)
    indexed = opensearch.search(
        index=index,
        routing=workspace,
        body={"query": {"bool": {"filter": [{"term": {"workspaceId": workspace}}]}}},
    )
    flags = {h["_source"]["id"]: h["_source"]["dnc"] for h in indexed["hits"]["hits"]}
    assert flags == {listed["id"]: True, callable_["id"]: True, no_phone["id"]: False}
    client.delete(f"/v1/dnc/+14155550141?workspaceId={workspace}", headers=auth)
    assert not client.get(f"/v1/contacts/{listed['id']}", headers=auth).json["data"]["dnc"]
    opensearch.indices.refresh(index=index)
    doc = opensearch.get(index=index, id=listed["id"], routing=workspace)
    assert doc["_source"]["dnc"] is False

    patched = client.patch(
        f"/v1/contacts/{no_phone['id']}", json={"phone": "+14155550142"}, headers=auth
    )
    assert patched.json["data"]["dnc"] is True
    doc = opensearch.get(index=index, id=no_phone["id"], routing=workspace)
    assert doc["_source"]["dnc"] is True


def test_bulk_add_from_csv(client, workspace, auth):
    csv_text = (
        "Name,Phone Number,Note\n"
        "Ann,(415) 555-0151,x\n"
        "Bob,+1 415 555 0152,\n"
        "Cy,not-a-phone,\n"
        "Dee,,\n"
        "Ann again,415-555-0151,dup\n"
    )
    add(client, workspace, auth, phone="+14155550152", reason="old")
    response = client.post(
        f"/v1/dnc/import?workspaceId={workspace}&reason=litigator",
        data={"file": (io.BytesIO(csv_text.encode()), "dnc.csv")},
        content_type="multipart/form-data",
        headers=auth,
    )
    assert response.status_code == 200, response.json
    result = response.json["data"]
    assert (result["added"], result["updated"], result["invalid"]) == (1, 1, 2)
    assert [e["line"] for e in result["errors"]] == [4, 5]
    flags = client.post(
        "/v1/dnc/check",
        json={"workspaceId": workspace, "phones": ["+14155550151", "+14155550152"]},
        headers=auth,
    ).json["data"]
    assert [(f["dnc"], f["reason"]) for f in flags] == [(True, "litigator"), (True, "litigator")]

    # A bare list of numbers as a text/csv body works too.
    bare = client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data="+14155550153\n+14155550154\n",
        content_type="text/csv",
        headers=auth,
    )
    assert bare.status_code == 200 and bare.json["data"]["added"] == 2
    assert check(client, workspace, auth, "4155550154")["data"]["dnc"] is True

    binary = client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data=b"PK\x03\x04" + b"\x00" * 100,
        content_type="text/csv",
        headers=auth,
    )
    assert binary.status_code == 422
    unnamed = client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data="a,b\n1,2\n",
        content_type="text/csv",
        headers=auth,
    )
    assert unnamed.status_code == 400
    assert unnamed.json["error"]["details"][0]["field"] == "phoneColumn"


def test_dnc_import_reads_the_same_headers_and_uploads_as_the_contacts_import(
    client, workspace, auth
):
    """One header mapping and one upload handler serve both imports."""
    outlook = (
        "First Name,Last Name,Business Phone,Mobile Phone\nAnn,Lee,(415) 555-0161,(415) 555-0162\n"
    )
    response = client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data={"file": (io.BytesIO(outlook.encode()), "outlook.csv")},
        content_type="multipart/form-data",
        headers=auth,
    )
    assert response.status_code == 200, response.json
    # Mobile Phone ranks over Business Phone, as in the contacts import.
    assert response.json["data"]["added"] == 1
    assert check(client, workspace, auth, "+14155550162")["data"]["dnc"] is True
    google = "Name,Phone 1 - Type,Phone 1 - Value\nBo,Mobile,+1 415 555 0163\n"
    response = client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data=google,
        content_type="text/csv",
        headers=auth,
    )
    assert response.status_code == 200 and response.json["data"]["added"] == 1
    json_body = client.post(
        f"/v1/dnc/import?workspaceId={workspace}", json={"phones": ["+14155550164"]}, headers=auth
    )
    assert json_body.status_code == 415
    assert json_body.json["error"]["code"] == "unsupported_media_type"
    no_file = client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data={"other": "x"},
        content_type="multipart/form-data",
        headers=auth,
    )
    assert no_file.status_code == 400 and no_file.json["error"]["details"][0]["field"] == "file"
    binary = client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data=b"PK\x03\x04" + b"\x00" * 100,
        content_type="text/csv",
        headers=auth,
    )
    assert binary.status_code == 422 and binary.json["error"]["code"] == "invalid_csv"


def test_dnc_import_phone_column_refuses_huge_and_matches_non_ascii_names(client, workspace, auth):
    huge = client.post(
        f"/v1/dnc/import?workspaceId={workspace}&phoneColumn={'x' * 5000}",
        data="Téléphone\n+14155550171\n",
        content_type="text/csv",
        headers=auth,
    )
    assert huge.status_code == 400 and huge.json["error"]["details"][0]["field"] == "phoneColumn"
    assert "x" * 300 not in huge.get_data(as_text=True)  # the value is not echoed back
    accented = client.post(
        f"/v1/dnc/import?workspaceId={workspace}&phoneColumn=Téléphone",
        data="Nom,Téléphone\nAnn,+14155550171\n".encode(),
        content_type="text/csv",
        headers=auth,
    )
    assert accented.status_code == 200, accented.json
    assert accented.json["data"]["added"] == 1
