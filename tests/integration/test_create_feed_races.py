"""A create under a new random id stores its change in the same _bulk as the contact,
numbered before the write (app/services/change_writes.py). On the real servers:

- under concurrency, other writers that find a new contact by listing (the create's
  bulk made it searchable) and PATCH or DELETE it before the create has answered: a
  follower still sees every acknowledged write once, in an order that replays to the
  store;
- a create that died half-way is settled by a reader: a change stored without its
  contact disappears, a change stored with it stays (once).
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from opensearchpy import OpenSearch

from app.config import Config
from app.errors import ServiceUnavailable
from app.search.documents import from_source, to_document, utc_now
from app.search.indices import IndexNames, drop_all, ensure_all
from app.services.change_records import contact_change
from app.services.changes import ChangeLog
from app.services.contacts import ContactService
from tests.conftest import bearer
from tests.integration.test_change_feed_ordering import (
    http_follower,
    replay,
)

CREATORS, CREATES_EACH, SNOOPERS, SNOOPS_EACH = 3, 15, 2, 60


def assert_each_write_recorded_once(events: list[dict], acked: list[tuple[str, str]]) -> None:
    """In order, no repeats; each acknowledged create recorded once as a create; and each
    contact's acknowledged PATCHes and DELETEs recorded once each. What each of those
    records is the state read after its number was taken: a PATCH overtaken by a DELETE
    of the same contact records a tombstone (app/services/changes.py), so the kinds are
    not counted, only the writes."""
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "repeated or out-of-order changes"
    created = sorted(e["contactId"] for e in events if e["type"] == "contact.created")
    assert created == sorted(cid for op, cid in acked if op == "create")
    touched = {cid for op, cid in acked if op != "create"}
    touched |= {e["contactId"] for e in events if e["type"] != "contact.created"}
    for contact_id in touched:
        writes = sum(1 for op, cid in acked if op != "create" and cid == contact_id)
        recorded = sum(
            1 for e in events if e["type"] != "contact.created" and e["contactId"] == contact_id
        )
        assert recorded == writes, (contact_id, recorded, writes)


def creator(app, workspace, seed, acked, errors) -> None:
    client, auth = app.test_client(), bearer(workspace)
    for n in range(CREATES_EACH):
        response = client.post(
            "/v1/contacts",
            headers=auth,
            query_string={"refresh": "true"},  # searchable before the create answers
            json={"workspaceId": workspace, "firstName": f"c{seed}n{n}"},
        )
        if response.status_code == 201:
            acked.append(("create", response.json["data"]["id"]))
        else:
            errors.append(("create", response.status_code, response.get_data(as_text=True)))


def snooper(app, workspace, seed, acked, errors, done) -> None:
    """PATCHes or DELETEs the newest contacts it can find, as soon as it finds them."""
    client, auth, rng = app.test_client(), bearer(workspace), random.Random(seed)
    for n in range(SNOOPS_EACH):
        if done.is_set():
            return
        page = client.get("/v1/contacts", headers=auth, query_string={"workspaceId": workspace})
        found = [c["id"] for c in page.json["data"]][:3]
        if not found:
            time.sleep(0.01)
            continue
        contact_id = rng.choice(found)
        if rng.random() < 0.8:
            response = client.patch(
                f"/v1/contacts/{contact_id}", headers=auth, json={"firstName": f"s{seed}u{n}"}
            )
            op = "update"
        else:
            response = client.delete(f"/v1/contacts/{contact_id}", headers=auth)
            op = "delete"
        if response.status_code in (200, 204):
            acked.append((op, contact_id))
        elif response.status_code not in (404, 412):  # lost to a delete or a concurrent edit
            errors.append((op, response.status_code, response.get_data(as_text=True)))


def test_writes_racing_new_contacts_before_their_create_answers_replay_to_the_store(app, workspace):
    client, auth = app.test_client(), bearer(workspace)
    acked: list[tuple[str, str]] = []
    errors: list = []
    done = threading.Event()

    follower = http_follower(client, auth, workspace, limit=7)
    follower.start()
    creators = [
        threading.Thread(target=creator, args=(app, workspace, seed, acked, errors))
        for seed in range(CREATORS)
    ]
    snoopers = [
        threading.Thread(target=snooper, args=(app, workspace, seed, acked, errors, done))
        for seed in range(SNOOPERS)
    ]
    for thread in creators + snoopers:
        thread.start()
    for thread in creators:
        thread.join(timeout=300)
    done.set()
    for thread in snoopers:
        thread.join(timeout=120)
    follower.stop.set()
    follower.join(timeout=60)

    assert not errors, errors[:3]
    assert not follower.errors, follower.errors[:1]
    assert sum(1 for op, _ in acked if op == "create") == CREATORS * CREATES_EACH
    assert any(op != "create" for op, _ in acked), "no write raced a create"
    assert_each_write_recorded_once(follower.events, acked)
    stored = {}
    for contact_id in {cid for _, cid in acked}:
        found = client.get(f"/v1/contacts/{contact_id}", headers=auth)
        if found.status_code == 200:
            stored[contact_id] = found.json["data"]["firstName"]
    assert replay(follower.events) == stored


def died_after_storing(app, changes, workspace, *, with_contact: bool) -> str:
    """A create that numbered its change, stored the change (and maybe the contact) in its
    bulk, then died before leaving the in-flight set."""
    contact = app.extensions["wiring"].contacts.prepare_new(
        {"workspaceId": workspace, "firstName": "Half"}
    )
    document = to_document(contact)
    _, first = changes.begin_numbered(workspace, [[contact["id"], "created", None]])
    change = contact_change(contact["id"], "created", from_source(document), utc_now())
    body = changes.lines(workspace, [(first, change)])
    if with_contact:
        action = {"_index": changes.records.contacts.write, "_id": contact["id"]}
        body = [{"create": {**action, "routing": workspace}}, document, *body]
    result = app.extensions["opensearch"].bulk(body=body, refresh="false")
    assert not result["errors"], result
    return contact["id"]


def test_a_create_that_died_with_its_change_stored_but_not_its_contact_is_settled_to_nothing(
    app, workspace, quick_settle
):
    died_after_storing(app, quick_settle, workspace, with_contact=False)
    assert quick_settle.events_after(workspace, 0, 100)[0] == []  # held back, not yet settled
    time.sleep(0.4)

    events, last = quick_settle.events_after(workspace, 0, 100)

    assert events == [] and last >= 1  # settled: the number passed, its phantom deleted
    assert quick_settle.sequence.horizon(workspace)[1] is None


def test_a_create_that_died_after_storing_both_is_settled_once_as_stored(
    app, client, workspace, quick_settle
):
    contact_id = died_after_storing(app, quick_settle, workspace, with_contact=True)
    time.sleep(0.4)

    events, _ = quick_settle.events_after(workspace, 0, 100)

    stored = client.get(f"/v1/contacts/{contact_id}", headers=bearer(workspace)).json["data"]
    assert [(e["type"], e["contactId"]) for e in events] == [("contact.created", contact_id)]
    assert events[0]["contact"]["firstName"] == stored["firstName"] == "Half"


def test_a_new_contacts_change_the_engine_refuses_is_a_503_and_still_reaches_the_feed(app):
    """The contact is stored, its change refused (the changes index blocked): 503, never
    an acknowledgement without its change, and a reader settles it from the record."""
    wiring = app.extensions["wiring"]
    prefix = f"{app.config['INDEX_PREFIX']}cr{uuid.uuid4().hex[:6]}-"
    client = OpenSearch(hosts=Config.OPENSEARCH_HOSTS)  # no retries through a write block
    ensure_all(client, prefix)
    try:
        changes = ChangeLog(
            client, wiring.redis, prefix, f"{prefix}:", cursor_key="k", settle_seconds=1
        )
        service = ContactService(client, prefix, changes=changes)
        log_index = IndexNames(prefix, "changes").write
        client.indices.put_settings(index=log_index, body={"index.blocks.write": True})
        try:
            with pytest.raises(ServiceUnavailable):
                service.create({"workspaceId": "ws_refused", "firstName": "Kept"})
        finally:
            client.indices.put_settings(index=log_index, body={"index.blocks.write": False})
        assert changes.events_after("ws_refused", 0, 100)[0] == []  # held back
        time.sleep(1.1)

        events, _ = changes.events_after("ws_refused", 0, 100)

        assert [(e["type"], e["contact"]["firstName"]) for e in events] == [
            ("contact.created", "Kept")
        ]
    finally:
        drop_all(client, prefix)
