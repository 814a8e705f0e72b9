"""A batch creating a contact under an external id's own chain slot claims the id shared
(app/services/external_ids.py): batches creating the same new ids go side by side (the
slot lets exactly one create each), while a claim held alone (a PATCH giving the id, a
single create) and a shared one exclude each other. Real Redis; batch calls and PATCHes
through HTTP on the real servers."""

from __future__ import annotations

import pytest

from app.services import external_ids
from app.services.external_id_gives import GiveClaims
from app.services.external_ids import ExternalIdClaims
from app.services.keys import Resolution
from tests.api.test_external_id_claims import create, holders, race, refresh

BATCH = "/v1/contacts/batch"


@pytest.fixture
def claims(app) -> ExternalIdClaims:
    return ExternalIdClaims(app.extensions["redis"], app.config["REDIS_KEY_PREFIX"])


@pytest.fixture
def no_wait(monkeypatch):
    """A claim another request holds is refused at once (no waiting it out)."""
    monkeypatch.setattr(external_ids, "CLAIM_WAIT_SECONDS", 0.0)


@pytest.mark.usefixtures("no_wait")
def test_shared_claims_of_one_id_are_all_held_and_exclude_one_held_alone(claims, workspace):
    with claims.claim_many(workspace, ["x"], shared=["x"]) as first:
        with claims.claim_many(workspace, ["x"], shared=["x"]) as second:
            assert first == second == {"x"}
            with claims.claim_many(workspace, ["x"]) as alone:
                assert alone == set()
        # One sharer left: still not free for a claim held alone.
        with claims.claim_many(workspace, ["x"]) as alone:
            assert alone == set()
    # The last sharer gone, the key is gone with it.
    assert not claims.client.exists(claims.key(workspace, "x"))
    with claims.claim_many(workspace, ["x"]) as alone:
        assert alone == {"x"}
        with claims.claim_many(workspace, ["x"], shared=["x"]) as shared:
            assert shared == set()


@pytest.mark.usefixtures("no_wait")
def test_one_call_takes_some_ids_shared_and_others_alone(claims, workspace):
    with claims.claim_many(workspace, ["a", "b"], shared=["a"]) as held:
        assert held == {"a", "b"}
        with claims.claim_many(workspace, ["a", "b"], shared=["a", "b"]) as other:
            assert other == {"a"}  # "b" is held alone
    assert not claims.client.exists(claims.key(workspace, "a"), claims.key(workspace, "b"))


def test_freeing_a_shared_claim_never_frees_another_holders(claims, workspace):
    key = claims.key(workspace, "keep")
    with claims.claim_many(workspace, ["keep"], shared=["keep"]):
        with claims.claim_many(workspace, ["keep"], shared=["keep"]):
            assert claims.client.scard(key) == 2
        assert claims.client.scard(key) == 1
        assert claims.client.pttl(key) > 0  # lapses if its holder dies
    assert not claims.client.exists(key)


@pytest.mark.usefixtures("no_wait")
@pytest.mark.parametrize("op", ["create", "upsert"])
def test_a_batch_creating_an_id_another_batch_is_creating_goes_ahead(
    app, client, workspace, auth, claims, op
):
    """Another batch is creating "both" under its slot (its shared claim): this batch's
    item is not refused as being assigned, and the id ends with one holder."""
    extra = {"key": "externalId"} if op == "upsert" else {}
    body = {"workspaceId": workspace, "items": [{"externalId": "both", "firstName": "B"}]}
    with claims.claim_many(workspace, ["both"], shared=["both"]):
        response = client.post(f"{BATCH}/{op}", json={**body, **extra}, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["results"][0]["status"] == "created", response.json
    refresh(app)
    assert holders(client, workspace, auth, "both") == [response.json["results"][0]["id"]]


@pytest.mark.usefixtures("no_wait")
def test_a_patch_giving_an_id_a_batch_is_creating_waits_for_the_batch(
    client, workspace, auth, claims
):
    contact = create(client, workspace, auth, firstName="P")
    patch = {"externalId": "in-flight"}
    with claims.claim_many(workspace, ["in-flight"], shared=["in-flight"]):
        refused = client.patch(f"/v1/contacts/{contact}", json=patch, headers=auth)
        assert refused.status_code == 409, refused.json
        assert refused.json["error"]["details"] == [
            {"field": "externalId", "message": "Being assigned."}
        ]
    taken = client.patch(f"/v1/contacts/{contact}", json=patch, headers=auth)
    assert taken.status_code == 200, taken.json


@pytest.mark.usefixtures("no_wait")
def test_racing_batch_upserts_of_the_same_new_ids_all_succeed_without_waiting(
    app, client, workspace, auth
):
    """8 upserts by externalId at once over overlapping windows of new ids, with no wait
    for claims at all: every item is created or updated (never "being assigned"), and
    each id ends with one contact."""

    def call(offset: int):
        items = [
            {"externalId": f"r-{n}", "firstName": f"from {offset}"}
            for n in range(offset * 5, offset * 5 + 20)
        ]
        body = {"workspaceId": workspace, "key": "externalId", "items": items}
        return lambda c: c.post(f"{BATCH}/upsert", json=body, headers=auth)

    responses = race(app, [call(offset) for offset in range(8)])
    for response in responses:
        assert response.status_code == 200, response.json
        statuses = {r["status"] for r in response.json["results"]}
        assert statuses <= {"created", "updated"}, response.json["results"]
    refresh(app)
    for n in range(7 * 5 + 20):
        assert len(holders(client, workspace, auth, f"r-{n}")) == 1


class _SlotsTaken:
    """Keys whose every slot of the chain is taken by the time they are read again (a
    state the real index reaches only after eight holders of one id came and went)."""

    def resolve(self, workspace_id, key, values):
        return {v: Resolution(holder=None, free_id=None) for v in values}


def test_an_id_claimed_shared_whose_slots_filled_meanwhile_is_refused(claims, workspace):
    gives = GiveClaims(claims, _SlotsTaken(), workspace)
    with gives:
        gives.take(["late", "plain"], chained=["late"])
        assert set(gives.refused) == {"late"}
        assert gives.refused["late"].code == "conflict"


@pytest.mark.usefixtures("no_wait")
def test_a_claim_in_another_workspace_never_holds_up_this_ones_id(client, workspace, claims):
    """Claims are per workspace: another tenant giving the same external id (alone or
    shared) neither delays nor refuses this workspace's create of it."""
    from tests.conftest import bearer

    other = workspace + "_other"
    auth = bearer(workspace)
    body = {"workspaceId": workspace, "items": [{"externalId": "same-id", "firstName": "A"}]}
    with claims.claim_many(other, ["same-id"]), claims.claim_many(other, ["x"], shared=["x"]):
        made = client.post(f"{BATCH}/create", json=body, headers=auth)
        patched = client.patch(
            f"/v1/contacts/{create(client, workspace, auth, firstName='B')}",
            json={"externalId": "x"},
            headers=auth,
        )
    assert made.status_code == 200 and made.json["results"][0]["status"] == "created", made.json
    assert patched.status_code == 200, patched.json
