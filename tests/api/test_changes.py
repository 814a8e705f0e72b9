"""GET /v1/contacts/changes through HTTP on the real servers: what is recorded, paging,
tombstones, retention (410), hostile cursors and tenancy."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import bearer

FEED = "/v1/contacts/changes"


def spy_full_reads(app, monkeypatch) -> list[str]:
    """The ids the change feed reads back in full from now on (it records the rest from
    the documents their write stored)."""
    records = app.extensions["wiring"].changes.records
    read_in_full: list[str] = []
    full_read = records.read_contacts

    def spy(workspace_id, ids):
        read_in_full.extend(ids)
        return full_read(workspace_id, ids)

    monkeypatch.setattr(records, "read_contacts", spy)
    return read_in_full


def walk(client, workspace, auth, *, limit=100, cursor=None, **args) -> tuple[list[dict], str]:
    """Every change from `cursor` (or the start) to the head; the last cursor."""
    events = []
    while True:
        query = {"workspaceId": workspace, "limit": limit, **args}
        if cursor:
            query["cursor"] = cursor
        response = client.get(FEED, headers=auth, query_string=query)
        assert response.status_code == 200, response.json
        events += response.json["data"]
        cursor = response.json["meta"]["nextCursor"]
        if not response.json["meta"]["hasMore"]:
            return events, cursor


def create(client, workspace, auth, **fields) -> dict:
    response = client.post("/v1/contacts", headers=auth, json={"workspaceId": workspace, **fields})
    assert response.status_code == 201, response.json
    return response.json["data"]


def test_creates_updates_and_deletes_come_in_order_and_a_delete_is_a_tombstone(
    client, workspace, auth
):
    contact = create(client, workspace, auth, firstName="Ada", phone="+14155550101")
    assert (
        client.patch(
            f"/v1/contacts/{contact['id']}", headers=auth, json={"firstName": "Ada Lovelace"}
        ).status_code
        == 200
    )
    assert client.delete(f"/v1/contacts/{contact['id']}", headers=auth).status_code == 204

    events, _ = walk(client, workspace, auth)

    assert [e["type"] for e in events] == ["contact.created", "contact.updated", "contact.deleted"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert len({e["id"] for e in events}) == 3
    assert events[0]["contact"]["firstName"] == "Ada"
    assert events[1]["contact"]["firstName"] == "Ada Lovelace"
    tombstone = events[2]
    assert tombstone["contactId"] == contact["id"]
    assert tombstone["deletedAt"]
    assert "contact" not in tombstone  # no contact data beyond the id


def test_a_failed_write_records_no_change(client, workspace, auth):
    contact = create(client, workspace, auth, firstName="Kept")
    stale = client.patch(
        f"/v1/contacts/{contact['id']}",
        headers={**auth, "If-Match": '"1-999"'},
        json={"firstName": "Lost"},
    )
    assert stale.status_code == 412
    assert client.delete("/v1/contacts/contact_doesnotexist", headers=auth).status_code == 404

    events, _ = walk(client, workspace, auth)

    assert [e["type"] for e in events] == ["contact.created"]


def test_dnc_adds_and_removals_are_changes_with_the_listing_after_them(client, workspace, auth):
    phone = "+14155550177"
    added = client.post(
        "/v1/dnc", headers=auth, json={"workspaceId": workspace, "phone": phone, "reason": "asked"}
    )
    assert added.status_code == 201, added.json
    removed = client.delete(
        f"/v1/dnc/{phone}", headers=auth, query_string={"workspaceId": workspace}
    )
    assert removed.status_code == 204

    events, _ = walk(client, workspace, auth)

    assert [e["type"] for e in events] == ["dnc.added", "dnc.removed"]
    assert events[0]["dnc"]["phone"] == phone and events[0]["dnc"]["listed"] is True
    assert events[0]["dnc"]["reason"] == "asked"
    assert events[1]["dnc"] == {"phone": phone, "listed": False}


def test_dnc_rule_entries_and_their_expiry_are_changes(app, client, workspace, auth):
    def add(**body):
        response = client.post("/v1/dnc", headers=auth, json={"workspaceId": workspace, **body})
        assert response.status_code == 201, response.json

    add(rule="prefix", prefix="+1201", reason="area_ban")
    add(phone="+14155550188", scope="spring")
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    add(phone="+14155550199", expiresAt=soon.isoformat().replace("+00:00", "Z"))
    removed = client.delete(
        "/v1/dnc/+1201", headers=auth, query_string={"workspaceId": workspace, "rule": "prefix"}
    )
    assert removed.status_code == 204, removed.json
    time.sleep(2)
    # The reconciler's pass removes entries past their expiry.
    assert app.extensions["wiring"].dnc.rules.expire_due(workspace) == 1

    events, _ = walk(client, workspace, auth)

    kinds = [(e["type"], e["dnc"].get("prefix") or e["dnc"].get("phone")) for e in events]
    assert kinds == [
        ("dnc.added", "+1201"),
        ("dnc.added", "+14155550188"),
        ("dnc.added", "+14155550199"),
        ("dnc.removed", "+1201"),
        ("dnc.expired", "+14155550199"),
    ]
    assert events[0]["dnc"]["rule"] == "prefix" and events[0]["dnc"]["reason"] == "area_ban"
    assert events[1]["dnc"]["scope"] == "spring"
    assert events[2]["dnc"]["expiresAt"]
    assert events[4]["dnc"]["listed"] is False


def test_a_csv_import_records_one_change_per_contact(client, workspace, auth):
    rows = "".join(f"Name{i},Imported,+1415555{1000 + i}\n" for i in range(25))
    response = client.post(
        "/v1/contacts/import",
        headers=auth,
        data={
            "workspaceId": workspace,
            "file": (io.BytesIO(b"firstName,lastName,phone\n" + rows.encode()), "c.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json

    events, _ = walk(client, workspace, auth)

    assert len(events) == 25
    assert {e["type"] for e in events} == {"contact.created"}
    assert len({e["contactId"] for e in events}) == 25


def test_small_pages_resume_from_the_cursor_without_gap_or_repeat(client, workspace, auth):
    ids = [create(client, workspace, auth, firstName=f"P{i}")["id"] for i in range(7)]

    events, cursor = walk(client, workspace, auth, limit=2)

    assert [e["contactId"] for e in events] == ids
    more = create(client, workspace, auth, firstName="Later")
    after, _ = walk(client, workspace, auth, cursor=cursor)
    assert [e["contactId"] for e in after] == [more["id"]]


def test_from_now_starts_at_the_head(client, workspace, auth):
    create(client, workspace, auth, firstName="Before")
    head = client.get(FEED, headers=auth, query_string={"workspaceId": workspace, "from": "now"})
    assert head.status_code == 200
    assert head.json["data"] == []
    created = create(client, workspace, auth, firstName="After")

    events, _ = walk(client, workspace, auth, cursor=head.json["meta"]["nextCursor"])

    assert [e["contactId"] for e in events] == [created["id"]]


def test_a_cursor_older_than_the_retention_answers_410_cursor_expired(app, client, workspace, auth):
    create(client, workspace, auth, firstName="Old")
    start = client.get(FEED, headers=auth, query_string={"workspaceId": workspace})
    old_cursor = start.json["meta"]["nextCursor"]  # after the first change
    create(client, workspace, auth, firstName="Old too")
    _, before_purge = walk(client, workspace, auth, cursor=old_cursor)

    # A retention of 0 s: everything recorded so far is past it (the worker's purge).
    assert app.extensions["wiring"].change_retention.purge(retention_seconds=0) >= 2

    gone = client.get(
        FEED, headers=auth, query_string={"workspaceId": workspace, "cursor": old_cursor}
    )
    assert gone.status_code == 410
    assert gone.json["error"]["code"] == "cursor_expired"
    # A cursor at the purged position still follows; so does a fresh start.
    newer = create(client, workspace, auth, firstName="New")
    events, _ = walk(client, workspace, auth, cursor=before_purge)
    assert [e["contactId"] for e in events] == [newer["id"]]
    fresh, _ = walk(client, workspace, auth)
    assert [e["contactId"] for e in fresh] == [newer["id"]]


def hostile_cursors(valid: str, foreign: str) -> dict[str, str]:
    payload, signature = valid.split(".")
    return {
        "forged signature": f"{payload}.{'A' * len(signature)}",
        "truncated": valid[: len(valid) // 2],
        "huge": "a" * 5000,
        "non-ascii": "ä" + valid[1:],
        "emoji": "🙂." + signature,
        "no dot": payload,
        "another workspace's": foreign,
        "nested json": '{"a":[[[[[]]]]]}',
    }


def test_hostile_cursors_are_400_in_the_error_shape(client, workspace, auth):
    create(client, workspace, auth, firstName="Cursor")
    valid = client.get(FEED, headers=auth, query_string={"workspaceId": workspace})
    other = "ws_other_" + workspace[3:]
    create(client, other, bearer(other), firstName="Other")
    foreign = client.get(FEED, headers=bearer(other), query_string={"workspaceId": other})
    cursors = hostile_cursors(valid.json["meta"]["nextCursor"], foreign.json["meta"]["nextCursor"])

    for name, cursor in cursors.items():
        response = client.get(
            FEED, headers=auth, query_string={"workspaceId": workspace, "cursor": cursor}
        )
        assert response.status_code == 400, (name, response.json)
        assert response.json["error"]["code"] == "validation_error", name
        assert response.json["error"]["details"][0]["field"] == "cursor", name


@pytest.mark.parametrize(
    "args",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "9" * 400},
        {"from": "yesterday"},
        {"workspaceId": "not-a-workspace"},
        {"workspaceId": "ws_" + "x" * 500},
    ],
)
def test_bad_parameters_are_400(client, workspace, auth, args):
    response = client.get(FEED, headers=auth, query_string={"workspaceId": workspace, **args})
    assert response.status_code == 400
    assert "error" in response.json


def test_a_token_reads_only_its_own_workspaces_feed(client, workspace, auth):
    create(client, workspace, auth, firstName="Private", email="private@example.com")
    intruder = bearer("ws_intruder")

    denied = client.get(FEED, headers=intruder, query_string={"workspaceId": workspace})
    no_scope = client.get(
        FEED, headers=bearer(workspace, scope="dnc:read"), query_string={"workspaceId": workspace}
    )

    assert denied.status_code == 403
    assert no_scope.status_code == 403
    assert "private@example.com" not in denied.get_data(as_text=True)


def test_batch_calls_record_one_change_per_written_item_and_none_for_invalid_ones(
    client, workspace, auth
):
    upsert = client.post(
        "/v1/contacts/batch/upsert",
        headers=auth,
        json={
            "workspaceId": workspace,
            "key": "externalId",
            "items": [
                {"externalId": "crm-1", "firstName": "One"},
                {"externalId": "crm-2", "firstName": "Two"},
                {"externalId": "crm-3", "phone": "12"},
            ],
        },
    )
    assert upsert.status_code == 200, upsert.json
    again = client.post(
        "/v1/contacts/batch/upsert",
        headers=auth,
        json={
            "workspaceId": workspace,
            "key": "externalId",
            "items": [{"externalId": "crm-1", "firstName": "Uno"}],
        },
    )
    assert again.json["results"][0]["status"] == "updated"
    deleted = client.post(
        "/v1/contacts/batch/delete",
        headers=auth,
        json={"workspaceId": workspace, "items": [{"externalId": "crm-2"}]},
    )
    assert deleted.json["results"][0]["status"] == "deleted"

    events, _ = walk(client, workspace, auth)

    assert [(e["type"], e["externalId"]) for e in events] == [
        ("contact.created", "crm-1"),
        ("contact.created", "crm-2"),
        ("contact.updated", "crm-1"),
        ("contact.deleted", "crm-2"),
    ]
    assert events[2]["contact"]["firstName"] == "Uno"


def test_a_merge_records_the_survivors_update_and_the_sources_tombstones(client, workspace, auth):
    target = create(client, workspace, auth, firstName="Jane", phone="+14155550160")
    source = create(client, workspace, auth, firstName="Jane", email="jane@example.com")
    merged = client.post(
        "/v1/contacts/merge",
        headers=auth,
        json={"workspaceId": workspace, "targetId": target["id"], "sourceIds": [source["id"]]},
    )
    assert merged.status_code == 201, merged.json

    events, _ = walk(client, workspace, auth)

    after_creates = [(e["type"], e["contactId"]) for e in events[2:]]
    assert after_creates == [
        ("contact.updated", target["id"]),
        ("contact.deleted", source["id"]),
    ]
    assert events[2]["contact"]["email"] == "jane@example.com"


def test_a_dnc_csv_import_records_one_change_per_number(client, workspace, auth):
    listed = client.post(
        "/v1/dnc", headers=auth, json={"workspaceId": workspace, "phone": "+14155550150"}
    )
    assert listed.status_code == 201
    imported = client.post(
        f"/v1/dnc/import?workspaceId={workspace}",
        data="+14155550150\n+14155550151\n+14155550152\nnot-a-number\n",
        content_type="text/csv",
        headers=auth,
    )
    assert imported.status_code == 200, imported.json

    events, _ = walk(client, workspace, auth)

    assert sorted((e["type"], e["dnc"]["phone"]) for e in events[1:]) == [
        ("dnc.added", "+14155550151"),
        ("dnc.added", "+14155550152"),
        ("dnc.updated", "+14155550150"),
    ]
