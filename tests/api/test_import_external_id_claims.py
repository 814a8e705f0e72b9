"""CSV imports claim the external ids a chunk is about to give, once per chunk, and read
their holders again once claimed (app/services/import_gives.py): an import racing a
PATCH on one new external id leaves exactly one holder; a row whose id is claimed
elsewhere is an invalid row and the rest are written; an import that only updates the
holders claims nothing. Through HTTP on the real servers."""

from __future__ import annotations

import io

import pytest

from app.services.external_id_gives import GiveClaims
from tests.api.test_batch_external_id_claims import claim_keys_left, claims_of, count_claim_calls
from tests.api.test_external_id_claims import create, holders, race, refresh

ROUNDS = 6
BEING_ASSIGNED = "Another request is giving a contact this externalId; retry."


def import_form(workspace, text: str, policy: str) -> dict:
    return {
        "workspaceId": workspace,
        "onDuplicate": policy,
        "file": (io.BytesIO(text.encode()), "crm.csv"),
    }


def import_call(workspace, auth, text: str, policy: str = "create"):
    return lambda c: c.post(
        "/v1/contacts/import",
        data=import_form(workspace, text, policy),
        headers=auth,
        content_type="multipart/form-data",
    )


def run_import(client, workspace, auth, text: str, policy: str = "create") -> dict:
    response = import_call(workspace, auth, text, policy)(client)
    assert response.status_code == 200, response.json
    assert response.json["data"]["status"] == "completed", response.json
    return response.json["data"]


def csv_of(rows: list[tuple[str, str]]) -> str:
    return "First Name,External ID\n" + "".join(f"{name},{x}\n" for name, x in rows)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_an_import_creating_under_an_external_id_and_a_patch_giving_it_leave_one_holder(
    app, client, workspace, auth, round_
):
    existing = create(client, workspace, auth, firstName="Patched")
    external_id = f"crm-import-{round_}"
    text = csv_of([("Imported", external_id), *((f"O{k}", f"o-{round_}-{k}") for k in range(20))])
    patched, imported = race(
        app,
        [
            lambda c: c.patch(
                f"/v1/contacts/{existing}", json={"externalId": external_id}, headers=auth
            ),
            import_call(workspace, auth, text),
        ],
    )
    assert imported.status_code == 200, imported.json
    counts = imported.json["data"]["counts"]
    if patched.status_code == 200:  # the row is a duplicate of the patched contact, or waited
        assert counts["created"] == 20 and counts["skipped"] + counts["invalid"] == 1, counts
    else:
        assert patched.status_code == 409, patched.json
        assert counts["created"] == 21, counts
    refresh(app)
    assert len(holders(client, workspace, auth, external_id)) == 1
    assert claim_keys_left(app, workspace, [external_id]) == 0


def test_a_patch_landing_between_the_chunks_lookup_and_its_claim_is_seen(
    app, client, workspace, auth, monkeypatch
):
    existing = create(client, workspace, auth, firstName="Patched")
    take = GiveClaims.take

    def take_after_a_patch(self, external_ids):
        external_ids = list(external_ids)
        if "late" in external_ids:
            patched = app.test_client().patch(
                f"/v1/contacts/{existing}", json={"externalId": "late"}, headers=auth
            )
            assert patched.status_code == 200
        return take(self, external_ids)

    monkeypatch.setattr(GiveClaims, "take", take_after_a_patch)
    record = run_import(client, workspace, auth, csv_of([("Late", "late"), ("Free", "free")]))
    assert (record["counts"]["created"], record["counts"]["skipped"]) == (1, 1)
    refresh(app)
    assert holders(client, workspace, auth, "late") == [existing]
    assert len(holders(client, workspace, auth, "free")) == 1


@pytest.mark.parametrize("policy", ["create", "skip", "update"])
def test_a_row_whose_id_is_claimed_elsewhere_is_invalid_and_the_rest_are_written(
    app, client, workspace, auth, monkeypatch, policy
):
    monkeypatch.setattr("app.services.external_ids.CLAIM_WAIT_SECONDS", 0.3)
    text = csv_of([("Held", "held"), ("A", "free-a"), ("B", "free-b")])
    with claims_of(app).claim(workspace, "held"):
        record = run_import(client, workspace, auth, text, policy)
    assert (record["counts"]["created"], record["counts"]["invalid"]) == (2, 1)
    assert record["errors"] == [
        {"line": 2, "field": "externalId", "message": BEING_ASSIGNED, "value": "held"}
    ]
    refresh(app)
    assert holders(client, workspace, auth, "held") == []
    assert claim_keys_left(app, workspace, ["held", "free-a", "free-b"]) == 0
    # The other request's claim gone, the same row goes through.
    again = run_import(client, workspace, auth, csv_of([("Held", "held")]), policy)
    assert again["counts"]["created"] == 1


def test_an_import_that_only_updates_the_holders_claims_nothing(
    app, client, workspace, auth, monkeypatch
):
    monkeypatch.setattr("app.services.external_ids.CLAIM_WAIT_SECONDS", 0.3)
    keys = [f"holder-{k}" for k in range(25)]
    first = run_import(client, workspace, auth, csv_of([("A", k) for k in keys]))
    assert first["counts"]["created"] == len(keys)
    calls = count_claim_calls(app, monkeypatch)
    with claims_of(app).claim_many(workspace, keys) as held:
        assert held == set(keys)
        updated = run_import(client, workspace, auth, csv_of([("B", k) for k in keys]), "update")
    assert updated["counts"]["updated"] == len(keys) and updated["errors"] == []
    assert calls == []


def test_an_import_claims_once_per_chunk_and_frees_every_claim(
    app, client, workspace, auth, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_CHUNK_ROWS", 10)
    calls = count_claim_calls(app, monkeypatch)
    ids = [f"chunked-{k}" for k in range(35)]
    record = run_import(client, workspace, auth, csv_of([("C", k) for k in ids]))
    assert record["counts"]["created"] == len(ids)
    assert [len(c) for c in calls] == [10, 10, 10, 5]
    assert claim_keys_left(app, workspace, ids) == 0
