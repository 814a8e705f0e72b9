"""GET /v1/contacts/{id}/duplicates through HTTP on the real servers: candidates by any
shared number or address, or a close name at the same company; scored, with reasons,
bounded, and never from another workspace."""

from __future__ import annotations

import pytest

from tests.conftest import bearer


def create(client, workspace, auth, **fields):
    response = client.post(
        "/v1/contacts?refresh=wait_for", json={"workspaceId": workspace, **fields}, headers=auth
    )
    assert response.status_code == 201, response.json
    return response.json["data"]


def duplicates(client, auth, contact_id, status=200, **query):
    response = client.get(f"/v1/contacts/{contact_id}/duplicates", query_string=query, headers=auth)
    assert response.status_code == status, response.json
    return response.json


def test_candidates_share_any_number_or_address_or_a_close_name_at_the_company(
    client, workspace, auth
):
    john = create(
        client,
        workspace,
        auth,
        firstName="John",
        lastName="Smith",
        company="Acme Inc",
        phones=[{"number": "+14155550301"}, {"number": "+14155550302", "type": "home"}],
        emails=[{"address": "john@acme.io"}, {"address": "js@home.io"}],
    )
    both = create(client, workspace, auth, phone="+14155550302", email="js@home.io")
    by_phone = create(
        client,
        workspace,
        auth,
        firstName="X",
        phones=[{"number": "+14155550999"}, {"number": "+1 415 555 0301"}],
    )
    by_email = create(
        client, workspace, auth, emails=[{"address": "z@z.io"}, {"address": "JOHN@acme.io"}]
    )
    by_name = create(client, workspace, auth, firstName="Jon", lastName="Smyth", company="ACME inc")
    create(client, workspace, auth, firstName="John", lastName="Smith", company="Other Ltd")
    create(client, workspace, auth, firstName="Mary", lastName="Major", company="Acme Inc")
    other_ws = "ws_dup_" + workspace[3:]
    create(client, other_ws, bearer(other_ws), phone="+14155550301", email="john@acme.io")

    answer = duplicates(client, auth, john["id"])
    got = [(d["contact"]["id"], d["reasons"], d["score"]) for d in answer["data"]]
    assert got == [
        (both["id"], ["samePhone", "sameEmail"], 0.98),
        (by_phone["id"], ["samePhone"], 0.9),
        (by_email["id"], ["sameEmail"], 0.8),
        (by_name["id"], ["similarName+sameCompany"], 0.6),
    ]
    assert answer["meta"] == {"total": 4, "contactId": john["id"]}
    assert answer["data"][0]["contact"]["phones"][0]["dnc"] is False  # read like any contact
    assert [d["contact"]["id"] for d in duplicates(client, auth, john["id"], limit=2)["data"]] == [
        both["id"],
        by_phone["id"],
    ]


def test_a_contact_with_nothing_to_compare_has_no_candidates(client, workspace, auth):
    lone = create(client, workspace, auth, firstName="Lone")
    create(client, workspace, auth, firstName="Lone")  # a name alone is not enough
    assert duplicates(client, auth, lone["id"])["data"] == []


@pytest.mark.parametrize("limit", ["0", "51", "abc", "1e3", "-1", "9" * 400])
def test_a_bad_limit_is_a_400(client, workspace, auth, limit):
    contact = create(client, workspace, auth, firstName="L")
    error = duplicates(client, auth, contact["id"], status=400, limit=limit)["error"]
    assert error["code"] == "validation_error" and error["details"][0]["field"] == "limit"


@pytest.mark.parametrize(
    "contact_id", ["contact_missing", "contact_" + "x" * 500, "contact_ü漢字", "merge_x", "%00"]
)
def test_unknown_foreign_and_hostile_ids_are_a_404(client, workspace, auth, contact_id):
    error = duplicates(client, auth, contact_id, status=404)["error"]
    assert error["code"] == "not_found"


def test_another_workspaces_contact_is_a_404_not_a_leak(client, workspace, auth):
    other_ws = "ws_dupo_" + workspace[3:]
    theirs = create(client, other_ws, bearer(other_ws), firstName="T", phone="+14155550311")
    assert duplicates(client, auth, theirs["id"], status=404)["error"]["code"] == "not_found"
    read_only = bearer(workspace, scope="dnc:read")
    mine = create(client, workspace, auth, firstName="M")
    response = client.get(f"/v1/contacts/{mine['id']}/duplicates", headers=read_only)
    assert response.status_code == 403
