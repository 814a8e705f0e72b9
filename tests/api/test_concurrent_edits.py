"""ETag / If-Match and concurrent PATCHes: no lost update."""

from __future__ import annotations

import threading

from app import create_app
from app.config import TestConfig


def make(client, workspace, auth, **fields):
    body = {"workspaceId": workspace, "firstName": "Ann", "lastName": "Lee", **fields}
    response = client.post("/v1/contacts", json=body, headers=auth)
    assert response.status_code == 201
    return response.json["data"]["id"], response.headers["ETag"]


def test_if_match_with_the_current_etag_succeeds_and_a_stale_one_is_412(client, workspace, auth):
    contact_id, etag = make(client, workspace, auth)
    path = f"/v1/contacts/{contact_id}"
    assert client.get(path, headers=auth).headers["ETag"] == etag
    ok = client.patch(path, json={"notes": "v2"}, headers={**auth, "If-Match": etag})
    assert ok.status_code == 200 and ok.headers["ETag"] != etag
    stale = client.patch(path, json={"notes": "v3"}, headers={**auth, "If-Match": etag})
    assert stale.status_code == 412 and stale.json["error"]["code"] == "precondition_failed"
    assert client.get(path, headers=auth).json["data"]["notes"] == "v2"
    gone = client.delete(path, headers={**auth, "If-Match": etag})
    assert gone.status_code == 412
    assert client.delete(path, headers={**auth, "If-Match": ok.headers["ETag"]}).status_code == 204


def test_a_malformed_if_match_is_412(client, workspace, auth):
    contact_id, _ = make(client, workspace, auth)
    response = client.patch(
        f"/v1/contacts/{contact_id}", json={"notes": "x"}, headers={**auth, "If-Match": '"garbage"'}
    )
    assert response.status_code == 412


def race_patches(app, auth, contact_id: str, edits: list[dict]) -> list[int]:
    """Send the PATCHes at the same instant from separate threads; their statuses."""
    barrier = threading.Barrier(len(edits))
    statuses: list[int] = []

    def patch(edit: dict) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(
            client.patch(f"/v1/contacts/{contact_id}", json=edit, headers=auth).status_code
        )

    threads = [threading.Thread(target=patch, args=(edit,)) for edit in edits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


def test_concurrent_patches_of_different_fields_both_survive(workspace, auth):
    app = create_app(TestConfig)
    client = app.test_client()
    for round_number in range(8):
        contact_id, _ = make(client, workspace, auth)
        edits = [{"company": f"Co {round_number}"}, {"notes": f"Note {round_number}"}]
        assert race_patches(app, auth, contact_id, edits) == [200, 200]
        final = client.get(f"/v1/contacts/{contact_id}", headers=auth).json["data"]
        assert final["company"] == f"Co {round_number}"
        assert final["notes"] == f"Note {round_number}"
