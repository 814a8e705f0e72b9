"""The change documents every contact write path stores (a single create, a PATCH, a
batch upsert, a CSV import) are, in the changes index, exactly what the previous builder
(tests/unit/change_records_reference.py: from_source, then a copy of every field) makes
of the contact as stored: same values, same key order. And two changes of one contact in
one write each get their own data."""

from __future__ import annotations

import io
import random

from tests.api.test_batch_changes import generated
from tests.api.test_changes import walk
from tests.api.test_import_changes import csv_file, generated_rows
from tests.unit import change_records_reference as reference


def stored(app, index: str, workspace: str, ids: list[str]) -> dict[str, dict]:
    """Each document's `_source` as the engine holds it (real time)."""
    result = app.extensions["opensearch"].mget(
        index=index, body={"docs": [{"_id": i, "routing": workspace} for i in ids]}, realtime=True
    )
    return {doc["_id"]: doc["_source"] for doc in result["docs"] if doc.get("found")}


def assert_recorded_as_before(app, client, workspace, auth, cursor=None) -> str:
    """Every change after `cursor` is the previous builder's document of its contact as
    stored now (each contact written once since `cursor`)."""
    events, cursor = walk(client, workspace, auth, cursor=cursor)
    assert events
    changes = app.extensions["wiring"].changes
    records = stored(app, changes.names.read, workspace, [e["id"] for e in events])
    contacts = stored(
        app, changes.records.contacts.read, workspace, [e["contactId"] for e in events]
    )
    assert len(contacts) == len({e["contactId"] for e in events})
    for event in events:
        record = records[event["id"]]
        op = record["type"].removeprefix("contact.")
        source = contacts[event["contactId"]]
        old = reference.contact_change(
            event["contactId"], op, reference.from_source(source), record["at"]
        )
        expected = {"workspaceId": workspace, "kind": "change", "seq": event["seq"], **old}
        assert record == expected
        assert list(record) == list(expected) and list(record["data"]) == list(old["data"])
    return cursor


def test_every_write_path_stores_the_change_documents_the_previous_builder_made(
    app, client, workspace, auth
):
    rng = random.Random(1814)
    made = client.post(
        "/v1/contacts",
        headers=auth,
        json={
            "workspaceId": workspace,
            "firstName": "Zoë",
            "phones": [{"number": "+14155550101"}, {"number": "+442079460101", "primary": True}],
            "tags": ["vip"],
            "customFields": {"ключ": "v" * 500, "n": 1},
        },
    )
    assert made.status_code == 201, made.json
    cursor = assert_recorded_as_before(app, client, workspace, auth)

    patched = client.patch(
        f"/v1/contacts/{made.json['data']['id']}",
        headers=auth,
        json={"notes": "山田 " * 100, "phone": None, "tags": []},
    )
    assert patched.status_code == 200, patched.json
    cursor = assert_recorded_as_before(app, client, workspace, auth, cursor)

    imported = client.post(
        "/v1/contacts/import",
        headers=auth,
        data={
            "workspaceId": workspace,
            "onDuplicate": "skip",
            "file": (io.BytesIO(csv_file(generated_rows(rng, 30, "ü"))), "contacts.csv"),
        },
        content_type="multipart/form-data",
    )
    assert imported.status_code == 200 and imported.json["data"]["counts"]["created"] == 30
    cursor = assert_recorded_as_before(app, client, workspace, auth, cursor)

    # After the import: the batch's numbers (+1415555....) are the import rows' too, and
    # the import would skip rows matching them by number.
    body = {
        "workspaceId": workspace,
        "key": "externalId",
        "items": [generated(rng, n) for n in range(40)],
    }
    upserted = client.post("/v1/contacts/batch/upsert", json=body, headers=auth)
    assert upserted.status_code == 200 and upserted.json["summary"]["created"] == 40
    assert_recorded_as_before(app, client, workspace, auth, cursor)


def test_two_changes_of_one_contact_in_one_write_each_get_their_own_data(
    app, client, workspace, auth
):
    made = client.post(
        "/v1/contacts",
        headers=auth,
        json={"workspaceId": workspace, "firstName": "Ann", "phone": "+14155550102"},
    )
    assert made.status_code == 201, made.json
    contact_id = made.json["data"]["id"]
    records = app.extensions["wiring"].changes.records
    index = records.contacts.read
    found = app.extensions["opensearch"].mget(
        index=index, body={"docs": [{"_id": contact_id, "routing": workspace}]}, realtime=True
    )["docs"][0]
    written = {
        contact_id: (found["_index"], found["_seq_no"], found["_primary_term"], found["_source"])
    }
    entries = [[contact_id, "updated", None], [contact_id, "updated", None]]
    for known in (written, None):  # from the written document, and read back in full
        (_, first), (_, second) = records.contact_documents(workspace, 7, entries, known)
        assert first["data"] == second["data"]
        assert first["data"] is not second["data"]
        assert first["data"]["phones"] is not second["data"]["phones"]
        assert first["data"]["phones"][0] is not second["data"]["phones"][0]
