"""Batch calls claim the external ids they are about to give (a create under one, a move
onto another contact), in one Redis round trip, and read the holders again once claimed
(app/services/external_id_gives.py): a batch racing a PATCH on one new external id leaves
exactly one holder; an id claimed elsewhere fails only its own item; items that keep
their contact's id take no claim, so batches updating the holders never wait. Through
HTTP on the real servers."""

from __future__ import annotations

import pytest
import redis

from app.services.external_id_gives import GiveClaims
from app.services.external_ids import ExternalIdClaims
from tests.api.test_external_id_claims import create, holders, race, refresh

ROUNDS = 6
BATCH = "/v1/contacts/batch"
HOSTILE_IDS = ["é" * 255, "x" * 255, "\U0001f600 id", "{ws}:*", "id with  inner spaces", "ид-山田"]


def batch(client, op, workspace, auth, items, **extra):
    body = {"workspaceId": workspace, "items": items, **extra}
    response = client.post(f"{BATCH}/{op}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def claims_of(app) -> ExternalIdClaims:
    return ExternalIdClaims(app.extensions["redis"], app.config["REDIS_KEY_PREFIX"])


def claim_keys_left(app, workspace, external_ids) -> int:
    keys = [claims_of(app).key(workspace, x) for x in external_ids]
    return app.extensions["redis"].exists(*keys)


def count_claim_calls(app, monkeypatch) -> list[list[str]]:
    """The ids of each claim_many the batch path makes (the real one runs)."""
    claims = app.extensions["wiring"].contacts.claims
    real, calls = claims.claim_many, []

    def counted(workspace_id, external_ids, shared=()):
        external_ids = list(external_ids)
        calls.append(external_ids)
        return real(workspace_id, external_ids, shared)

    monkeypatch.setattr(claims, "claim_many", counted)
    return calls


def patch_call(contact_id, external_id, auth):
    return lambda c: c.patch(
        f"/v1/contacts/{contact_id}", json={"externalId": external_id}, headers=auth
    )


def batch_call(op, workspace, auth, items, **extra):
    body = {"workspaceId": workspace, "items": items, **extra}
    return lambda c: c.post(f"{BATCH}/{op}", json=body, headers=auth)


def assert_one_winner(patched, item: dict, upsert_by_id: bool = False) -> None:
    """Exactly one of the PATCH and the batch item gave the id; the other is a 409 (or,
    for an upsert by the id, an update of the contact the PATCH gave it to)."""
    if patched.status_code == 200:
        if upsert_by_id and item["status"] == "updated":
            assert item["id"] == patched.json["data"]["id"]
            return
        assert item["status"] == "invalid", item
        assert item["error"]["code"] == "conflict"
        assert item["error"]["details"][0]["field"] == "externalId"
    else:
        assert patched.status_code == 409, patched.json
        assert item["status"] in ("created", "updated"), item


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize("op", ["create", "upsert"])
def test_a_batch_creating_under_an_external_id_and_a_patch_giving_it_leave_one_holder(
    app, client, workspace, auth, op, round_
):
    existing = create(client, workspace, auth, firstName="Patched")
    external_id = f"crm-{op}-{round_}"
    others = [{"externalId": f"other-{round_}-{k}", "firstName": "Other"} for k in range(20)]
    items = [{"externalId": external_id, "firstName": "Batched"}, *others]
    extra = {"key": "externalId"} if op == "upsert" else {}
    patched, batched = race(
        app,
        [patch_call(existing, external_id, auth), batch_call(op, workspace, auth, items, **extra)],
    )
    assert batched.status_code == 200, batched.json
    assert {r["status"] for r in batched.json["results"][1:]} == {"created"}
    assert_one_winner(patched, batched.json["results"][0], upsert_by_id=op == "upsert")
    refresh(app)
    assert len(holders(client, workspace, auth, external_id)) == 1
    assert claim_keys_left(app, workspace, [external_id]) == 0


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize("op", ["update", "upsert_by_phone"])
def test_a_batch_moving_an_external_id_and_a_patch_giving_it_to_another_leave_one_holder(
    app, client, workspace, auth, op, round_
):
    phone = f"+1415555{round_:04d}"
    first = create(client, workspace, auth, firstName="One")
    second = create(client, workspace, auth, firstName="Two", phone=phone)
    external_id = f"crm-move-{op}-{round_}"
    if op == "update":
        call = batch_call("update", workspace, auth, [{"id": second, "externalId": external_id}])
    else:
        items = [{"phone": phone, "externalId": external_id}]
        call = batch_call("upsert", workspace, auth, items, key="phone")
    patched, batched = race(app, [patch_call(first, external_id, auth), call])
    assert batched.status_code == 200, batched.json
    assert_one_winner(patched, batched.json["results"][0])
    refresh(app)
    assert len(holders(client, workspace, auth, external_id)) == 1


def test_a_patch_landing_between_the_batchs_read_and_its_claim_is_seen(
    app, client, workspace, auth, monkeypatch
):
    """Forced interleaving: the batch read the id as free, then a PATCH gives it to
    another contact before the batch claims it. The batch must read the holder again
    once claimed and refuse its item exactly as for an id already held."""
    existing = create(client, workspace, auth, firstName="Patched")
    take = GiveClaims.take
    landed = []

    def take_after_a_patch(self, external_ids, chained=()):
        external_ids = list(external_ids)
        if "late" in external_ids and not landed:
            patched = app.test_client().patch(
                f"/v1/contacts/{existing}", json={"externalId": "late"}, headers=auth
            )
            landed.append(patched.status_code)
        return take(self, external_ids, chained)

    monkeypatch.setattr(GiveClaims, "take", take_after_a_patch)
    items = [{"externalId": "late", "firstName": "B"}, {"externalId": "free", "firstName": "F"}]
    for op, extra in (("create", {}), ("upsert", {"key": "externalId"})):
        landed.clear()
        if op == "upsert":  # the PATCH gives it back to nobody first
            client.patch(f"/v1/contacts/{existing}", json={"externalId": None}, headers=auth)
            items = [{"externalId": "late", "firstName": "B"}]
        result = batch(client, op, workspace, auth, items, **extra)
        assert landed == [200]
        late = result["results"][0]
        if op == "create":
            # The same answer as a batch create gives an id already held.
            assert late["status"] == "invalid"
            assert (
                late["error"]["message"] == "Another contact of the workspace has this externalId."
            )
            assert result["results"][1]["status"] == "created"
        else:
            # An upsert finds the new holder and updates it instead of making a second.
            assert late["status"] == "updated" and late["id"] == existing
        refresh(app)
        assert holders(client, workspace, auth, "late") == [existing]


@pytest.mark.parametrize("op", ["create", "upsert", "update"])
def test_an_id_claimed_elsewhere_fails_only_its_item_and_writes_nothing_for_it(
    app, client, workspace, auth, monkeypatch, op
):
    monkeypatch.setattr("app.services.external_ids.CLAIM_WAIT_SECONDS", 0.3)
    target = create(client, workspace, auth, firstName="Target", notes="before")
    plain = [{"externalId": f"free-{k}", "firstName": "F"} for k in range(3)]
    if op == "update":
        items = [{"id": target, "externalId": "held", "notes": "after"}]
        items += [
            {"id": create(client, workspace, auth, firstName=f"U{k}"), "notes": "u"}
            for k in range(3)
        ]
        extra, done = {}, "updated"
    else:
        items = [{"externalId": "held", "firstName": "Held"}, *plain]
        extra, done = ({"key": "externalId"} if op == "upsert" else {}), "created"
    with claims_of(app).claim(workspace, "held"):
        result = batch(client, op, workspace, auth, items, **extra)
    held, *rest = result["results"]
    assert held["status"] == "invalid"
    assert held["error"]["code"] == "conflict"
    assert held["error"]["message"] == "Another request is giving a contact this externalId; retry."
    assert held["error"]["details"] == [{"field": "externalId", "message": "Being assigned."}]
    assert [r["status"] for r in rest] == [done] * len(rest)
    assert result["summary"]["invalid"] == 1
    refresh(app)
    assert holders(client, workspace, auth, "held") == []
    stored = client.get(f"/v1/contacts/{target}", headers=auth).json["data"]
    assert (stored["externalId"], stored["notes"]) == (None, "before")
    # Freed with the call; the other request's claim gone, the same item goes through.
    assert claim_keys_left(app, workspace, ["held", *(i["externalId"] for i in plain)]) == 0
    again = batch(client, op, workspace, auth, items[:1], **extra)
    assert again["results"][0]["status"] == done, again


def test_batches_that_only_update_the_holders_take_no_claim(
    app, client, workspace, auth, monkeypatch
):
    """Updates of the contacts that hold their ids never claim them, so they go through
    while another request holds every one of those claims (a claim taken would wait and
    then fail the item)."""
    monkeypatch.setattr("app.services.external_ids.CLAIM_WAIT_SECONDS", 0.3)
    keys = [f"holder-{k}" for k in range(30)]
    ids = [
        r["id"]
        for r in batch(
            client,
            "upsert",
            workspace,
            auth,
            [{"externalId": k, "firstName": "A"} for k in keys],
            key="externalId",
        )["results"]
    ]
    calls = count_claim_calls(app, monkeypatch)
    with claims_of(app).claim_many(workspace, keys) as held:
        assert held == set(keys)
        upserted = batch(
            client,
            "upsert",
            workspace,
            auth,
            [{"externalId": k, "notes": "u1"} for k in keys],
            key="externalId",
        )
        updated = batch(
            client,
            "update",
            workspace,
            auth,
            [{"id": i, "externalId": k, "notes": "u2"} for i, k in zip(ids, keys, strict=True)],
        )
        race_items = [{"externalId": k, "notes": "u3"} for k in keys]
        raced = race(app, [batch_call("upsert", workspace, auth, race_items, key="externalId")] * 2)
    assert upserted["summary"]["updated"] == len(keys)
    assert updated["summary"]["updated"] == len(keys)
    for response in raced:
        assert response.status_code == 200
        assert response.json["summary"]["invalid"] == 0, response.json
    assert calls == []


def test_a_call_claims_what_it_gives_in_one_round_trip_and_frees_it(
    app, client, workspace, auth, monkeypatch
):
    calls = count_claim_calls(app, monkeypatch)
    items = [{"externalId": f"x-{k}", "firstName": "C"} for k in range(200)]
    items += [{"firstName": "No id"}]
    result = batch(client, "create", workspace, auth, items)
    assert result["summary"]["created"] == len(items)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(i["externalId"] for i in items[:-1])
    assert claim_keys_left(app, workspace, [i["externalId"] for i in items[:-1]]) == 0
    # Upserting them again updates the holders: no claim.
    calls.clear()
    again = batch(client, "upsert", workspace, auth, items[:-1], key="externalId")
    assert again["summary"]["unchanged"] == len(items) - 1
    assert calls == []


@pytest.mark.parametrize("external_id", HOSTILE_IDS)
def test_hostile_external_ids_are_claimed_given_and_freed_like_any_other(
    app, client, workspace, auth, external_id
):
    first = batch(
        client, "create", workspace, auth, [{"externalId": external_id, "firstName": "H"}]
    )
    assert first["results"][0]["status"] == "created", first
    assert claim_keys_left(app, workspace, [external_id]) == 0
    second = batch(
        client, "create", workspace, auth, [{"externalId": external_id, "firstName": "H"}]
    )
    assert (
        second["results"][0]["error"]["message"]
        == "Another contact of the workspace has this externalId."
    )
    refresh(app)
    assert holders(client, workspace, auth, external_id) == [first["results"][0]["id"]]


def test_redis_unreachable_for_claims_fails_only_the_items_that_give_an_id(
    app, client, workspace, auth, monkeypatch
):
    """A fake only to force the outage: the claim script's call fails as a lost Redis
    connection does. Items giving an id answer 503 in the error shape, the rest are written."""
    claims = app.extensions["wiring"].contacts.claims

    def down(*args, **kwargs):
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(claims, "_take", down)
    items = [{"externalId": "needs-claim", "firstName": "A"}, {"firstName": "No id"}]
    result = batch(client, "create", workspace, auth, items)
    gives, plain = result["results"]
    assert gives["status"] == "invalid" and gives["error"]["code"] == "service_unavailable"
    assert plain["status"] == "created"
    refresh(app)
    assert holders(client, workspace, auth, "needs-claim") == []


def test_batches_giving_overlapping_ids_never_wait_each_other_out(app, client, workspace, auth):
    """8 batch creates at once over overlapping windows of new ids: each id ends with one
    holder, and every refused item is refused because another call created the id, never
    because two calls held each other's claims until the wait ran out (claims are taken
    in key order while waiting)."""
    items_of = [
        [
            {"externalId": f"w-{n}", "firstName": f"from {offset}"}
            for n in range(offset * 5, offset * 5 + 20)
        ]
        for offset in range(8)
    ]
    responses = race(app, [batch_call("create", workspace, auth, items) for items in items_of])
    created = {}
    for response in responses:
        assert response.status_code == 200
        for result in response.json["results"]:
            if result["status"] == "created":
                assert result["contact"]["externalId"] not in created
                created[result["contact"]["externalId"]] = result["id"]
            else:
                message = result["error"]["message"]
                assert message == "Another contact of the workspace has this externalId.", result
    assert sorted(created) == sorted(f"w-{n}" for n in range(7 * 5 + 20))
    refresh(app)
    for external_id, contact_id in created.items():
        assert holders(client, workspace, auth, external_id) == [contact_id]
