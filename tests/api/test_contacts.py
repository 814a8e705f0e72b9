"""Contacts CRUD, flow-style, against the real OpenSearch."""

from __future__ import annotations

import re

from app import create_app, services
from app.config import TestConfig
from tests.conftest import bearer
from tests.servers import Faulty

SEED = {
    "firstName": "Jane",
    "lastName": "Doe",
    "phone": "(415) 555-1234",
    "email": "Jane.Doe@Example.COM",
    "company": "Acme Inc",
}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def create(client, workspace, auth, **fields):
    body = {"workspaceId": workspace, **SEED, **fields}
    response = client.post("/v1/contacts", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json["data"]


def test_create_returns_the_contact_with_e164_phone_and_lowercased_email(client, workspace, auth):
    contact = create(
        client,
        workspace,
        auth,
        notes="Met at expo",
        tags=["vip", "lead"],
        customFields={"source": "expo", "score": 7},
    )
    assert contact["id"].startswith("contact_") and len(contact["id"]) > 16
    assert contact["phone"] == "+14155551234"
    assert contact["email"] == "jane.doe@example.com"
    assert contact["workspaceId"] == workspace
    assert contact["tags"] == ["vip", "lead"]
    assert contact["customFields"] == {"source": "expo", "score": 7}
    assert ISO_Z.match(contact["createdAt"]) and contact["createdAt"] == contact["updatedAt"]


def test_get_is_real_time_right_after_create(client, workspace, auth):
    contact = create(client, workspace, auth)
    response = client.get(f"/v1/contacts/{contact['id']}", headers=auth)
    assert response.status_code == 200
    assert response.json["data"] == contact
    assert response.headers["ETag"]


def test_patch_changes_only_given_fields_and_moves_updated_at(client, workspace, auth):
    contact = create(client, workspace, auth)
    response = client.patch(
        f"/v1/contacts/{contact['id']}",
        json={"firstName": "Janet", "notes": "Interested in premium plan", "company": None},
        headers=auth,
    )
    assert response.status_code == 200, response.json
    updated = response.json["data"]
    assert updated["firstName"] == "Janet"
    assert updated["notes"] == "Interested in premium plan"
    assert updated["company"] is None
    assert updated["lastName"] == "Doe" and updated["phone"] == "+14155551234"
    assert updated["updatedAt"] > contact["updatedAt"]
    assert updated["createdAt"] == contact["createdAt"]
    again = client.get(f"/v1/contacts/{contact['id']}", headers=auth).json["data"]
    assert again == updated


def test_patch_normalizes_a_new_phone_and_refuses_immutable_fields(client, workspace, auth):
    contact = create(client, workspace, auth)
    path = f"/v1/contacts/{contact['id']}"
    ok = client.patch(path, json={"phone": "+44 20 7946 0000"}, headers=auth)
    assert ok.json["data"]["phone"] == "+442079460000"
    for field, value in (("workspaceId", "ws_other"), ("id", "contact_x")):
        response = client.patch(path, json={field: value}, headers=auth)
        assert response.status_code == 400
        assert response.json["error"]["details"][0]["field"] == field
    bad = client.patch(path, json={"phone": "12"}, headers=auth)
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "phone"
    assert client.get(path, headers=auth).json["data"]["phone"] == "+442079460000"


def test_patch_cannot_clear_every_identifying_field(client, workspace, auth):
    contact = create(client, workspace, auth, company=None)
    response = client.patch(
        f"/v1/contacts/{contact['id']}",
        json={"firstName": None, "lastName": None, "phone": None, "email": None},
        headers=auth,
    )
    assert response.status_code == 400
    assert client.get(f"/v1/contacts/{contact['id']}", headers=auth).json["data"]["firstName"]


def test_delete_then_again_is_404(client, workspace, auth):
    contact = create(client, workspace, auth)
    path = f"/v1/contacts/{contact['id']}"
    assert client.delete(path, headers=auth).status_code == 204
    assert client.get(path, headers=auth).status_code == 404
    second = client.delete(path, headers=auth)
    assert second.status_code == 404 and second.json["error"]["code"] == "not_found"


def test_list_is_newest_first_with_total_and_has_more(client, workspace, auth):
    ids = [create(client, workspace, auth, firstName=f"P{i}")["id"] for i in range(5)]
    path = f"/v1/contacts?workspaceId={workspace}&limit=2"
    app = client.application
    app.extensions["opensearch"].indices.refresh(index=f"{app.config['INDEX_PREFIX']}*")
    first = client.get(path, headers=auth)
    assert first.status_code == 200, first.json
    assert [c["id"] for c in first.json["data"]] == ids[::-1][:2]
    assert first.json["meta"]["total"] == 5 and first.json["meta"]["hasMore"] is True
    last = client.get(path + "&offset=4", headers=auth).json
    assert [c["id"] for c in last["data"]] == [ids[0]] and last["meta"]["hasMore"] is False


def test_list_defaults_and_limits(client, workspace, auth):
    assert client.get("/v1/contacts", headers=auth).status_code == 400  # workspaceId required
    too_big = client.get(f"/v1/contacts?workspaceId={workspace}&limit=101", headers=auth)
    assert too_big.status_code == 400
    deep = client.get(f"/v1/contacts?workspaceId={workspace}&offset=9990&limit=20", headers=auth)
    assert deep.status_code == 400 and "cursor" in deep.json["error"]["message"]


def test_create_validation_errors_name_the_field(client, workspace, auth):
    cases = [
        ({"workspaceId": workspace, "firstName": "A", "phone": "12"}, "phone"),
        ({"workspaceId": workspace, "firstName": "A", "email": "not-an-email"}, "email"),
        ({"workspaceId": workspace, "firstName": "A", "nickname": "x"}, "nickname"),
        ({"firstName": "A"}, "workspaceId"),
        ({"workspaceId": workspace, "firstName": "A" * 201}, "firstName"),
        ({"workspaceId": workspace, "firstName": "A", "tags": ["x"] * 51}, "tags"),
        (
            {"workspaceId": workspace, "firstName": "A", "customFields": {"k": {"n": 1}}},
            "customFields",
        ),
        ({"workspaceId": workspace, "firstName": 5}, "firstName"),
    ]
    for body, field in cases:
        response = client.post("/v1/contacts", json=body, headers=auth)
        assert response.status_code == 400, (body, response.json)
        assert response.json["error"]["code"] == "validation_error"
        assert field in [d["field"] for d in response.json["error"]["details"]], response.json


def test_a_contact_needs_a_name_phone_or_email(client, workspace, auth):
    response = client.post(
        "/v1/contacts", json={"workspaceId": workspace, "notes": "x"}, headers=auth
    )
    assert response.status_code == 400
    listed = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth)
    assert listed.json["meta"]["total"] == 0


def test_default_country_applies_to_national_numbers(client, workspace, auth):
    contact = create(client, workspace, auth, phone="020 7946 0000", defaultCountry="GB")
    assert contact["phone"] == "+442079460000"
    assert "defaultCountry" not in contact


def test_contact_of_another_workspace_is_404_on_every_verb(client, workspace, auth):
    contact = create(client, workspace, auth)
    other = bearer("ws_someoneelse")
    path = f"/v1/contacts/{contact['id']}"
    assert client.get(path, headers=other).status_code == 404
    assert client.patch(path, json={"firstName": "X"}, headers=other).status_code == 404
    assert client.delete(path, headers=other).status_code == 404
    assert client.get(path, headers=auth).json["data"]["firstName"] == "Jane"
    listed = client.get(f"/v1/contacts?workspaceId={workspace}", headers=other)
    assert listed.status_code == 403
    created = client.post(
        "/v1/contacts", json={"workspaceId": workspace, "firstName": "X"}, headers=other
    )
    assert created.status_code == 403


def test_offset_at_the_edge_of_the_result_window_is_not_an_error(client, workspace, auth):
    create(client, workspace, auth)
    for path in (f"/v1/contacts?workspaceId={workspace}&offset=9990&limit=10",):
        response = client.get(path, headers=auth)
        assert response.status_code == 200, response.json
        assert response.json["data"] == [] and response.json["meta"]["hasMore"] is False


def test_a_create_retried_after_its_reply_was_lost_is_one_contact_not_a_500(app, workspace, auth):
    """The engine client retries a request whose connection broke after it was sent; the
    retry of an id-keyed create then finds the first attempt's document."""
    api = create_app(TestConfig)
    with api.app_context():
        service = services.contacts()

        def sent_twice(real, *args, **kwargs):
            real.index(*args, **kwargs)  # landed, reply lost...
            return real.index(*args, **kwargs)  # ...and the retry conflicts with it

        service.client = Faulty(service.client, index=sent_twice)
    client = api.test_client()
    response = client.post(
        "/v1/contacts?refresh=wait_for",
        json={"workspaceId": workspace, "firstName": "Twice", "phone": "+14155550177"},
        headers=auth,
    )
    assert response.status_code == 201, response.json
    contact = response.json["data"]
    assert response.headers["ETag"]
    listed = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).json
    assert [c["id"] for c in listed["data"]] == [contact["id"]]
