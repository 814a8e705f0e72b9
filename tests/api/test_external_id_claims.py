"""An external id given outside its key chain (a PATCH, or a create racing one) is held
by one request at a time: two requests giving two contacts one external id at the same
moment leave exactly one holder, through HTTP on the real servers."""

from __future__ import annotations

import threading

import pytest

from app.services.external_ids import ExternalIdClaims

ROUNDS = 4


def create(client, workspace, auth, **fields):
    response = client.post("/v1/contacts", json={"workspaceId": workspace, **fields}, headers=auth)
    assert response.status_code == 201, response.json
    return response.json["data"]["id"]


def race(app, calls) -> list:
    """Run each call on its own client thread, released together; their responses."""
    start = threading.Barrier(len(calls))
    responses: list = [None] * len(calls)

    def worker(i: int) -> None:
        client = app.test_client()
        start.wait()
        responses[i] = calls[i](client)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def holders(client, workspace, auth, external_id: str) -> list[str]:
    response = client.get(
        f"/v1/contacts?workspaceId={workspace}&externalId={external_id}&limit=100", headers=auth
    )
    assert response.status_code == 200, response.json
    return [c["id"] for c in response.json["data"]]


def refresh(app) -> None:
    app.extensions["opensearch"].indices.refresh(index=f"{app.config['INDEX_PREFIX']}*")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_patches_giving_one_external_id_to_two_contacts_leave_one_holder(
    app, client, workspace, auth, round_
):
    ids = [create(client, workspace, auth, firstName=f"P{k}") for k in range(3)]
    external_id = f"crm-{round_}"

    def patch(contact_id):
        return lambda c: c.patch(
            f"/v1/contacts/{contact_id}", json={"externalId": external_id}, headers=auth
        )

    responses = race(app, [patch(contact_id) for contact_id in ids])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409, 409], [r.json for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert r.json["error"]["code"] == "conflict"
            assert r.json["error"]["details"][0]["field"] == "externalId"
    refresh(app)
    winner = next(r.json["data"]["id"] for r in responses if r.status_code == 200)
    assert holders(client, workspace, auth, external_id) == [winner]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_patch_and_a_create_giving_one_external_id_leave_one_holder(
    app, client, workspace, auth, round_
):
    existing = create(client, workspace, auth, firstName="Old")
    external_id = f"crm-both-{round_}"
    responses = race(
        app,
        [
            lambda c: c.patch(
                f"/v1/contacts/{existing}", json={"externalId": external_id}, headers=auth
            ),
            lambda c: c.post(
                "/v1/contacts",
                json={"workspaceId": workspace, "firstName": "New", "externalId": external_id},
                headers=auth,
            ),
        ],
    )
    codes = sorted(r.status_code for r in responses)
    assert codes in ([200, 409], [201, 409]), [r.json for r in responses]
    refresh(app)
    assert len(holders(client, workspace, auth, external_id)) == 1


def test_a_claim_held_elsewhere_past_the_wait_is_a_409_that_writes_nothing(
    app, client, workspace, auth, monkeypatch
):
    contact_id = create(client, workspace, auth, firstName="Waits")
    monkeypatch.setattr("app.services.external_ids.CLAIM_WAIT_SECONDS", 0.3)
    claims = ExternalIdClaims(app.extensions["redis"], app.config["REDIS_KEY_PREFIX"])
    with claims.claim(workspace, "held-elsewhere"):
        response = client.patch(
            f"/v1/contacts/{contact_id}", json={"externalId": "held-elsewhere"}, headers=auth
        )
    assert response.status_code == 409
    assert response.json["error"]["details"][0]["field"] == "externalId"
    stored = client.get(f"/v1/contacts/{contact_id}", headers=auth).json["data"]
    assert stored["externalId"] is None
    # Released: the same PATCH now goes through.
    again = client.patch(
        f"/v1/contacts/{contact_id}", json={"externalId": "held-elsewhere"}, headers=auth
    )
    assert again.status_code == 200, again.json


@pytest.mark.parametrize("external_id", ["é" * 255, "x" * 255, "a\u0000b", "\U0001f600 id", "{ws}"])
def test_a_claim_key_is_short_and_plain_whatever_the_external_id(app, workspace, external_id):
    claims = ExternalIdClaims(app.extensions["redis"], "p:")
    key = claims.key(workspace, external_id)
    assert key.isascii() and len(key) < 100
    assert key.startswith(f"p:xid:{{{workspace}}}:")
    assert key != claims.key(workspace, external_id + "x")
