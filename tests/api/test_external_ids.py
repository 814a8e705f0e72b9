"""externalId and source on single contacts: unique per workspace on create and PATCH,
freed by a delete or a change, filterable in search, invisible to clients that never
send them, and hostile values refused as 400s."""

from __future__ import annotations

import io
import threading
import uuid

import pytest

from tests.conftest import bearer


def create(client, workspace, auth, **fields):
    return client.post("/v1/contacts", json={"workspaceId": workspace, **fields}, headers=auth)


def refresh(app) -> None:
    app.extensions["opensearch"].indices.refresh(index=f"{app.config['INDEX_PREFIX']}*")


def test_a_create_with_an_external_id_in_use_is_409_and_writes_nothing(
    client, app, workspace, auth
):
    first = create(client, workspace, auth, firstName="A", externalId="crm-1", source="hubspot")
    assert first.status_code == 201
    assert first.json["data"]["externalId"] == "crm-1"
    assert first.json["data"]["source"] == "hubspot"
    again = create(client, workspace, auth, firstName="B", externalId="crm-1")
    assert again.status_code == 409
    assert again.json["error"]["code"] == "conflict"
    assert again.json["error"]["details"][0]["field"] == "externalId"
    refresh(app)
    listed = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).json
    assert listed["meta"]["total"] == 1


def test_the_same_external_id_in_another_workspace_is_another_contact(client, workspace, auth):
    other = f"ws_{uuid.uuid4().hex[:12]}"
    mine = create(client, workspace, auth, firstName="A", externalId="shared")
    theirs = create(client, other, bearer(other), firstName="B", externalId="shared")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json["data"]["id"] != theirs.json["data"]["id"]


def test_concurrent_creates_of_one_external_id_make_one_contact(app, workspace, auth):
    start = threading.Barrier(6)
    codes: list[int] = []

    def worker() -> None:
        client = app.test_client()
        start.wait()
        codes.append(create(client, workspace, auth, firstName="R", externalId="race").status_code)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [201] + [409] * 5


def test_patch_sets_and_clears_an_external_id_with_the_same_uniqueness(client, workspace, auth):
    a = create(client, workspace, auth, firstName="A", externalId="a-1").json["data"]
    b = create(client, workspace, auth, firstName="B").json["data"]
    taken = client.patch(f"/v1/contacts/{b['id']}", json={"externalId": "a-1"}, headers=auth)
    assert taken.status_code == 409
    same = client.patch(f"/v1/contacts/{a['id']}", json={"externalId": "a-1"}, headers=auth)
    assert same.status_code == 200
    cleared = client.patch(f"/v1/contacts/{a['id']}", json={"externalId": None}, headers=auth)
    assert cleared.status_code == 200 and cleared.json["data"]["externalId"] is None
    moved = client.patch(f"/v1/contacts/{b['id']}", json={"externalId": "a-1"}, headers=auth)
    assert moved.status_code == 200
    # b holds it now, though it was not created with it: a create and an upsert find it.
    assert create(client, workspace, auth, firstName="C", externalId="a-1").status_code == 409
    upsert = client.post(
        "/v1/contacts/batch/upsert",
        json={
            "workspaceId": workspace,
            "key": "externalId",
            "items": [{"externalId": "a-1", "lastName": "Moved"}],
        },
        headers=auth,
    ).json["results"][0]
    assert upsert["status"] == "updated" and upsert["id"] == b["id"]


def test_an_external_id_freed_by_a_change_or_a_delete_can_be_used_again(client, workspace, auth):
    first = create(client, workspace, auth, firstName="A", externalId="reuse").json["data"]
    client.patch(f"/v1/contacts/{first['id']}", json={"externalId": "renamed"}, headers=auth)
    second = create(client, workspace, auth, firstName="B", externalId="reuse")
    assert second.status_code == 201 and second.json["data"]["id"] != first["id"]
    read = client.post(
        "/v1/contacts/batch/read",
        json={
            "workspaceId": workspace,
            "items": [{"externalId": "reuse"}, {"externalId": "renamed"}],
        },
        headers=auth,
    ).json["results"]
    assert [r["id"] for r in read] == [second.json["data"]["id"], first["id"]]
    assert (
        client.delete(f"/v1/contacts/{second.json['data']['id']}", headers=auth).status_code == 204
    )
    assert create(client, workspace, auth, firstName="C", externalId="reuse").status_code == 201


def test_search_filters_by_external_id_and_source(client, app, workspace, auth):
    create(client, workspace, auth, firstName="Ann", externalId="X-1", source="hubspot")
    create(client, workspace, auth, firstName="Bob", externalId="x-1", source="csv")
    create(client, workspace, auth, firstName="Cid", source="hubspot")
    refresh(app)

    def names(**filters):
        body = {"workspaceId": workspace, "filters": filters}
        found = client.post("/v1/contacts/search", json=body, headers=auth).json["data"]
        return sorted(c["firstName"] for c in found)

    assert names(externalId="X-1") == ["Ann"]  # exact: case counts
    assert names(source="hubspot") == ["Ann", "Cid"]
    assert names(source="hubspot", externalId="x-1") == []
    got = client.get(f"/v1/contacts/search?workspaceId={workspace}&source=csv", headers=auth).json[
        "data"
    ]
    assert [c["firstName"] for c in got] == ["Bob"]


def test_clients_that_never_send_the_fields_see_them_empty(client, workspace, auth):
    made = create(client, workspace, auth, firstName="Plain", phone="+14155550111")
    assert made.status_code == 201
    assert made.json["data"]["externalId"] is None and made.json["data"]["source"] is None
    patched = client.patch(
        f"/v1/contacts/{made.json['data']['id']}", json={"lastName": "Old"}, headers=auth
    )
    assert patched.status_code == 200 and patched.json["data"]["externalId"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"externalId": "x" * 256},
        {"externalId": ""},
        {"externalId": "line\nbreak"},
        {"externalId": "trailing "},
        {"externalId": {"$ne": None}},
        {"externalId": ["a", "b"]},
        {"externalId": 42},
        {"source": "s" * 101},
        {"source": {"nested": {"deeper": ["junk"]}}},
    ],
    ids=[
        "huge",
        "empty",
        "newline",
        "edge-space",
        "operator",
        "array",
        "number",
        "huge-source",
        "nested-source",
    ],
)
def test_hostile_external_ids_and_sources_are_400_and_write_nothing(
    client, app, workspace, auth, fields
):
    response = create(client, workspace, auth, firstName="H", **fields)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "validation_error"
    assert len(response.get_data()) < 2_000
    refresh(app)
    listed = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).json
    assert listed["meta"]["total"] == 0


@pytest.mark.parametrize("value", ["x" * 256, "tab\there", "", "a\u0000b"])
def test_hostile_external_id_filters_are_400(client, workspace, auth, value):
    body = {"workspaceId": workspace, "filters": {"externalId": value}}
    response = client.post("/v1/contacts/search", json=body, headers=auth)
    assert response.status_code == 400


def test_a_non_ascii_external_id_round_trips(client, workspace, auth):
    made = create(client, workspace, auth, firstName="Ü", externalId="Müller-客户-١٢٣")
    assert made.status_code == 201
    again = create(client, workspace, auth, firstName="Ü", externalId="Müller-客户-١٢٣")
    assert again.status_code == 409


def import_csv(client, auth, workspace, text: str, policy: str) -> dict:
    form = {
        "workspaceId": workspace,
        "onDuplicate": policy,
        "file": (io.BytesIO(text.encode()), "crm.csv"),
    }
    response = client.post(
        "/v1/contacts/import", data=form, headers=auth, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.json
    return response.json["data"]["counts"]


@pytest.mark.parametrize("header", ["External ID", "externalId"])
def test_an_import_maps_the_external_id_column_and_never_makes_a_second_holder(
    client, app, workspace, auth, header
):
    first = import_csv(
        client,
        auth,
        workspace,
        f"First Name,Company,{header}\nAda,Acme,crm-1\nBob,Beta,crm-2\nAda again,Acme,crm-1\n",
        "create",
    )
    assert (first["created"], first["skipped"]) == (2, 1)
    made = client.post(
        "/v1/contacts/batch/read",
        json={"workspaceId": workspace, "items": [{"externalId": "crm-1"}]},
        headers=auth,
    ).json["results"][0]
    assert made["status"] == "found" and made["contact"]["firstName"] == "Ada"
    updated = import_csv(
        client, auth, workspace, f"{header},Company\ncrm-1,Acme Two\ncrm-3,Gamma\n", "update"
    )
    assert (updated["updated"], updated["created"]) == (1, 1)
    for policy in ("create", "skip"):
        again = import_csv(client, auth, workspace, f"{header},First Name\ncrm-2,Bobby\n", policy)
        assert again["skipped"] == 1 and again["created"] == 0
    refresh(app)
    listed = client.get(f"/v1/contacts?workspaceId={workspace}&limit=100", headers=auth).json
    holders = sorted(c["externalId"] for c in listed["data"])
    assert holders == ["crm-1", "crm-2", "crm-3"]
    # The imported contact is the one a batch upsert by the same key updates.
    upsert = client.post(
        "/v1/contacts/batch/upsert",
        json={
            "workspaceId": workspace,
            "key": "externalId",
            "items": [{"externalId": "crm-1", "notes": "synced"}],
        },
        headers=auth,
    ).json["results"][0]
    assert upsert["status"] == "updated" and upsert["id"] == made["id"]
    assert upsert["contact"]["company"] == "Acme Two"


def test_an_import_row_with_a_hostile_external_id_is_an_invalid_row(client, workspace, auth):
    counts = import_csv(
        client, auth, workspace, "First Name,External ID\nA," + "x" * 300 + "\nB,ok\n", "skip"
    )
    assert (counts["invalid"], counts["created"]) == (1, 1)


def test_the_list_filters_by_external_id_and_source_and_pages_them_with_a_cursor(
    client, app, workspace, auth
):
    for n, source in enumerate(["hubspot", "hubspot", "hubspot", "csv"]):
        create(client, workspace, auth, firstName=f"N{n}", externalId=f"L-{n}", source=source)
    refresh(app)
    url = f"/v1/contacts?workspaceId={workspace}"
    one = client.get(f"{url}&externalId=L-2", headers=auth).json
    assert [c["firstName"] for c in one["data"]] == ["N2"] and one["meta"]["total"] == 1
    first = client.get(f"{url}&source=hubspot&limit=2", headers=auth).json
    assert first["meta"]["total"] == 3 and first["meta"]["hasMore"] is True
    cursor = first["meta"]["nextCursor"]
    rest = client.get(f"{url}&source=hubspot&limit=2&cursor={cursor}", headers=auth).json
    names = [c["firstName"] for c in first["data"] + rest["data"]]
    assert sorted(names) == ["N0", "N1", "N2"]
    # A cursor pages the filter it was made with, not another one.
    other = client.get(f"{url}&source=csv&limit=2&cursor={cursor}", headers=auth)
    assert other.status_code == 400
    unfiltered = client.get(url, headers=auth).json
    assert unfiltered["meta"]["total"] == 4


@pytest.mark.parametrize("query", ["externalId=" + "x" * 256, "externalId=", "source=" + "s" * 101])
def test_hostile_list_filters_are_400(client, workspace, auth, query):
    response = client.get(f"/v1/contacts?workspaceId={workspace}&{query}", headers=auth)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "validation_error"
