"""Idempotency-Key on create: a retried request returns the first response."""

from __future__ import annotations

import io
import time
import uuid


def test_same_key_same_body_replays_the_first_response(client, app, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"workspaceId": workspace, "firstName": "Once", "phone": "+14155550101"}
    first = client.post("/v1/contacts", json=body, headers={**auth, **key})
    second = client.post("/v1/contacts", json=body, headers={**auth, **key})
    assert first.status_code == second.status_code == 201
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["ETag"] == first.headers["ETag"]
    app.extensions["opensearch"].indices.refresh(index=f"{app.config['INDEX_PREFIX']}*")
    listed = client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).json
    assert listed["meta"]["total"] == 1


def test_same_key_different_body_is_409(client, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"workspaceId": workspace, "firstName": "A"}
    assert client.post("/v1/contacts", json=body, headers={**auth, **key}).status_code == 201
    other = client.post("/v1/contacts", json={**body, "firstName": "B"}, headers={**auth, **key})
    assert other.status_code == 409 and other.json["error"]["code"] == "conflict"


def test_without_a_key_each_request_writes(client, workspace, auth):
    body = {"workspaceId": workspace, "firstName": "Twice"}
    a = client.post("/v1/contacts", json=body, headers=auth).json["data"]["id"]
    b = client.post("/v1/contacts", json=body, headers=auth).json["data"]["id"]
    assert a != b


def test_a_failed_request_does_not_burn_the_key(client, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    bad = client.post(
        "/v1/contacts", json={"workspaceId": workspace, "phone": "12"}, headers={**auth, **key}
    )
    assert bad.status_code == 400
    # A rejected request wrote nothing, so the client may fix the body and reuse the key.
    fixed = client.post(
        "/v1/contacts",
        json={"workspaceId": workspace, "phone": "+14155550102"},
        headers={**auth, **key},
    )
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_keys_expire(client, app, workspace, auth):
    key = uuid.uuid4().hex
    body = {"workspaceId": workspace, "firstName": "Expiring"}
    client.post("/v1/contacts", json=body, headers={**auth, "Idempotency-Key": key})
    store = app.extensions["redis"]
    stored = [k for k in store.scan_iter(match=f"{app.config['REDIS_KEY_PREFIX']}idem:*{key}")]
    assert len(stored) == 1
    ttl = store.ttl(stored[0])
    assert 0 < ttl <= app.config["IDEMPOTENCY_TTL_SECONDS"]
    store.pexpire(stored[0], 1)
    time.sleep(0.05)
    assert not store.exists(stored[0])
    fresh = client.post(
        "/v1/contacts", json={**body, "firstName": "New"}, headers={**auth, "Idempotency-Key": key}
    )
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers


def csv_upload(workspace: str, text: str) -> dict:
    return {
        "data": {"workspaceId": workspace, "file": (io.BytesIO(text.encode()), "c.csv")},
        "content_type": "multipart/form-data",
    }


def test_import_with_the_same_key_runs_once(client, app, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    text = "First Name,Last Name,Phone\nIda,Em,+14155550111\nPo,Tent,+14155550112\n"
    first = client.post(
        "/v1/contacts/import", headers={**auth, **key}, **csv_upload(workspace, text)
    )
    assert first.status_code == 200, first.json
    again = client.post(
        "/v1/contacts/import", headers={**auth, **key}, **csv_upload(workspace, text)
    )
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["data"]["id"] == first.json["data"]["id"]
    changed = client.post(
        "/v1/contacts/import",
        headers={**auth, **key},
        **csv_upload(workspace, text + "Third,Row,+14155550113\n"),
    )
    assert changed.status_code == 409
    raw = client.post(
        f"/v1/contacts/import?workspaceId={workspace}",
        data=text,
        content_type="text/csv",
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert raw.status_code == 200 and raw.json["data"]["counts"]["skipped"] == 2


def test_dnc_add_with_the_same_key_replays(client, workspace, auth):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"workspaceId": workspace, "phone": "+14155550114", "reason": "asked"}
    first = client.post("/v1/dnc", json=body, headers={**auth, **key})
    again = client.post("/v1/dnc", json=body, headers={**auth, **key})
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/dnc", json={**body, "reason": "other"}, headers={**auth, **key})
    assert other.status_code == 409
