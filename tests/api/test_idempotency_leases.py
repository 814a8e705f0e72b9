"""Idempotency leases under concurrency: one renewer per process keeps the marker of
every keyed request that is still running (each longer than three leases here), so a
retry meanwhile is a 409, and each request's first response is what a retry replays."""

from __future__ import annotations

import threading
import time
import uuid

from app.services.contacts import ContactService

LEASE_SECONDS, VIEW_SECONDS, REQUESTS = 0.3, 1.2, 4


def test_concurrent_keyed_creates_keep_their_keys_while_they_run_longer_than_the_lease(
    app, client, workspace, auth, monkeypatch
):
    monkeypatch.setitem(app.config, "IDEMPOTENCY_LEASE_SECONDS", LEASE_SECONDS)
    create = ContactService.create

    def slow_create(self, data, **kwargs):
        time.sleep(VIEW_SECONDS)
        return create(self, data, **kwargs)

    monkeypatch.setattr(ContactService, "create", slow_create)
    keys = [uuid.uuid4().hex for _ in range(REQUESTS)]
    bodies = [{"workspaceId": workspace, "firstName": f"Lease{n}"} for n in range(REQUESTS)]
    first: dict[int, object] = {}

    def send(n: int) -> None:
        headers = {**auth, "Idempotency-Key": keys[n]}
        first[n] = app.test_client().post("/v1/contacts", headers=headers, json=bodies[n])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(REQUESTS)]
    for thread in threads:
        thread.start()
    time.sleep(VIEW_SECONDS * 0.8)  # past two leases: only the renewals hold the keys
    during = [
        client.post("/v1/contacts", headers={**auth, "Idempotency-Key": key}, json=body)
        for key, body in zip(keys, bodies, strict=True)
    ]
    for thread in threads:
        thread.join(timeout=30)
    monkeypatch.setattr(ContactService, "create", create)
    after = [
        client.post("/v1/contacts", headers={**auth, "Idempotency-Key": key}, json=body)
        for key, body in zip(keys, bodies, strict=True)
    ]

    assert [r.status_code for r in during] == [409] * REQUESTS
    assert all("in progress" in r.json["error"]["message"] for r in during)
    assert [first[n].status_code for n in range(REQUESTS)] == [201] * REQUESTS
    assert [r.status_code for r in after] == [201] * REQUESTS
    assert [r.headers.get("Idempotent-Replayed") for r in after] == ["true"] * REQUESTS
    assert [r.json["data"]["id"] for r in after] == [
        first[n].json["data"]["id"] for n in range(REQUESTS)
    ]
