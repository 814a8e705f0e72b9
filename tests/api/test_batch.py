"""Batch endpoints: a result per item in input order, nothing written for a malformed
body, upserts that never duplicate a key (also when calls race), PATCH semantics,
tenancy, idempotency and the DNC flag of batch-written contacts."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from tests.conftest import bearer

BATCH = "/v1/contacts/batch"


def refresh(app) -> None:
    app.extensions["opensearch"].indices.refresh(index=f"{app.config['INDEX_PREFIX']}*")


def total(client, app, workspace, auth) -> int:
    refresh(app)
    return client.get(f"/v1/contacts?workspaceId={workspace}", headers=auth).json["meta"]["total"]


def call(client, op, workspace, auth, items, **extra):
    body = {"workspaceId": workspace, "items": items, **extra}
    return client.post(f"{BATCH}/{op}", json=body, headers=auth)


def statuses(response) -> list[str]:
    return [result["status"] for result in response.json["results"]]


def test_create_answers_each_item_in_input_order_and_a_bad_item_fails_no_other(
    client, app, workspace, auth
):
    items = [
        {"firstName": "Ada", "phone": "(415) 555-0101"},
        {"firstName": "Bad", "phone": "12"},
        "not an object",
        {"firstName": "Eve", "workspaceId": workspace},
        {"lastName": "Last", "email": "LAST@Example.COM"},
        {},
    ]
    response = call(client, "create", workspace, auth, items)
    assert response.status_code == 200
    body = response.json
    assert statuses(response) == ["created", "invalid", "invalid", "invalid", "created", "invalid"]
    assert [r["index"] for r in body["results"]] == list(range(6))
    assert body["results"][0]["contact"]["phone"] == "+14155550101"
    assert body["results"][4]["contact"]["email"] == "last@example.com"
    assert body["results"][1]["error"]["details"][0]["field"] == "phone"
    assert body["results"][3]["error"]["code"] == "validation_error"
    assert set(body["results"][2]["error"]) >= {"code", "message"}
    assert body["summary"] == {
        "total": 6,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "found": 0,
        "deleted": 0,
        "notFound": 0,
        "invalid": 4,
    }
    assert total(client, app, workspace, auth) == 2


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        {"items": "not a list"},
        {"items": {"0": {"firstName": "A"}}},
        {"items": [{"firstName": "A"}] * 1001},
        {"items": []},
        {"items": [{"firstName": "A"}], "unknown": 1},
        {"items": [{"firstName": "A"}], "workspaceId": {"nested": ["junk"]}},
        {"items": None},
    ],
    ids=["array", "string", "object", "1001", "empty", "unknown", "nested-ws", "null"],
)
@pytest.mark.parametrize("op", ["create", "update", "upsert", "read", "delete"])
def test_a_malformed_body_is_a_400_with_nothing_written(client, app, workspace, auth, op, body):
    if isinstance(body, dict):
        body = {"workspaceId": workspace, "key": "externalId", **body}
        if op not in ("upsert",):
            body.pop("key")
    response = client.post(f"{BATCH}/{op}", json=body, headers=auth)
    assert response.status_code == 400
    assert response.json["error"]["code"] in ("validation_error", "bad_request")
    assert total(client, app, workspace, auth) == 0


def test_1000_items_are_one_call_and_all_written(client, app, workspace, auth):
    items = [{"externalId": f"crm-{n}", "firstName": f"N{n}"} for n in range(1000)]
    response = call(client, "upsert", workspace, auth, items, key="externalId")
    assert response.status_code == 200
    assert response.json["summary"]["created"] == 1000
    assert total(client, app, workspace, auth) == 1000


def test_upsert_by_external_id_creates_then_updates_then_leaves_unchanged(client, workspace, auth):
    item = {"externalId": "crm-1", "firstName": "Jane", "source": "hubspot"}
    first = call(client, "upsert", workspace, auth, [item], key="externalId")
    assert statuses(first) == ["created"]
    contact_id = first.json["results"][0]["id"]
    second = call(
        client, "upsert", workspace, auth, [{**item, "firstName": "Janet"}], key="externalId"
    )
    assert statuses(second) == ["updated"]
    assert second.json["results"][0]["id"] == contact_id
    assert second.json["results"][0]["contact"]["firstName"] == "Janet"
    assert second.json["results"][0]["contact"]["source"] == "hubspot"
    etag = client.get(f"/v1/contacts/{contact_id}", headers=auth).headers["ETag"]
    third = call(
        client, "upsert", workspace, auth, [{**item, "firstName": "Janet"}], key="externalId"
    )
    assert statuses(third) == ["unchanged"]
    # Unchanged means not written: the version did not move.
    assert client.get(f"/v1/contacts/{contact_id}", headers=auth).headers["ETag"] == etag


def test_upsert_by_phone_finds_a_contact_whatever_format_the_number_was_typed_in(
    client, app, workspace, auth
):
    made = client.post(
        "/v1/contacts",
        json={"workspaceId": workspace, "firstName": "Old", "phone": "(415) 555-0199"},
        headers=auth,
    ).json["data"]
    refresh(app)
    items = [{"phone": "+1 415-555-0199", "company": "Acme"}, {"phone": "+14155550198"}]
    response = call(client, "upsert", workspace, auth, items, key="phone")
    assert statuses(response) == ["updated", "created"]
    assert response.json["results"][0]["id"] == made["id"]
    assert response.json["results"][0]["contact"]["firstName"] == "Old"
    again = call(client, "upsert", workspace, auth, [{"phone": "415 555 0198"}], key="phone")
    assert statuses(again) == ["unchanged"]
    assert again.json["results"][0]["id"] == response.json["results"][1]["id"]


def test_upsert_by_email_ignores_case(client, workspace, auth):
    first = call(client, "upsert", workspace, auth, [{"email": "Sam@Example.com"}], key="email")
    second = call(
        client,
        "upsert",
        workspace,
        auth,
        [{"email": "sam@EXAMPLE.com", "lastName": "S"}],
        key="email",
    )
    assert statuses(first) == ["created"] and statuses(second) == ["updated"]
    assert first.json["results"][0]["id"] == second.json["results"][0]["id"]


def test_a_key_repeated_in_one_call_applies_the_first_item_and_refuses_the_later(
    client, app, workspace, auth
):
    items = [
        {"externalId": "dup", "firstName": "First"},
        {"externalId": "dup", "firstName": "Second"},
        {"externalId": "other", "firstName": "Other"},
    ]
    response = call(client, "upsert", workspace, auth, items, key="externalId")
    assert statuses(response) == ["created", "invalid", "created"]
    assert response.json["results"][1]["error"]["code"] == "duplicate_item"
    assert response.json["results"][0]["contact"]["firstName"] == "First"
    by_phone = call(
        client,
        "upsert",
        workspace,
        auth,
        [{"phone": "+14155550120"}, {"phone": "(415) 555-0120"}],
        key="phone",
    )
    assert statuses(by_phone) == ["created", "invalid"]
    assert total(client, app, workspace, auth) == 3


def test_an_upsert_item_without_the_calls_key_is_invalid(client, workspace, auth):
    response = call(client, "upsert", workspace, auth, [{"firstName": "NoKey"}], key="email")
    assert statuses(response) == ["invalid"]
    assert response.json["results"][0]["error"]["details"][0]["field"] == "email"


@pytest.mark.parametrize("key", ["externalId", "phone"])
def test_racing_upserts_create_exactly_one_contact_per_key(app, workspace, auth, key):
    """8 calls at once over overlapping keys: each key ends with one contact."""

    def value(n: int) -> str:
        return f"race-{n}" if key == "externalId" else f"+1415555{n:04d}"

    errors: list = []
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        client = app.test_client()
        # Overlapping windows: every key is sent by 4 of the 8 callers.
        items = [
            {key: value(n), "firstName": f"from {offset}"}
            for n in range(offset * 5, offset * 5 + 20)
        ]
        start.wait()
        response = call(client, "upsert", workspace, auth, items, key=key)
        if response.status_code != 200 or "invalid" in statuses(response):
            errors.extend(r["error"] for r in response.json["results"] if r["status"] == "invalid")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    refresh(app)
    client = app.test_client()
    hits = client.get(f"/v1/contacts?workspaceId={workspace}&limit=100", headers=auth).json
    keys = [contact[key] for contact in hits["data"]]
    distinct = {value(n) for n in range(0, 7 * 5 + 20)}
    assert hits["meta"]["total"] == len(distinct)
    assert sorted(keys) == sorted(distinct)


def test_batch_update_has_patch_semantics_and_reports_unknown_ids(client, workspace, auth):
    made = call(
        client,
        "create",
        workspace,
        auth,
        [
            {"firstName": "A", "company": "Acme", "tags": ["x"]},
            {"firstName": "B"},
            {"firstName": "C"},
        ],
    ).json["results"]
    other = f"ws_{uuid.uuid4().hex[:12]}"
    foreign = client.post(
        "/v1/contacts", json={"workspaceId": other, "firstName": "F"}, headers=bearer(other)
    ).json["data"]["id"]
    items = [
        {"id": made[0]["id"], "company": None, "notes": "Interested"},
        {"id": "contact_doesnotexist"},
        {"id": foreign, "firstName": "Stolen"},
        {"id": made[1]["id"], "firstName": "B"},
        {"id": made[0]["id"], "firstName": "Again"},
        {"id": made[2]["id"], "firstName": None},
    ]
    response = call(client, "update", workspace, auth, items)
    assert statuses(response) == [
        "updated",
        "not_found",
        "not_found",
        "unchanged",
        "invalid",
        "invalid",
    ]
    updated = response.json["results"][0]["contact"]
    assert updated["company"] is None and updated["notes"] == "Interested"
    assert updated["tags"] == ["x"] and updated["firstName"] == "A"
    assert response.json["results"][4]["error"]["code"] == "duplicate_item"
    # The last item would leave a contact with nothing: refused as a PATCH would be.
    assert response.json["results"][5]["error"]["code"] == "validation_error"
    still = client.get(f"/v1/contacts/{foreign}", headers=bearer(other)).json["data"]
    assert still["firstName"] == "F"


def test_concurrent_batch_updates_of_one_contact_keep_every_change(app, workspace, auth):
    client = app.test_client()
    contact_id = call(client, "create", workspace, auth, [{"firstName": "Base"}]).json["results"][
        0
    ]["id"]
    fields = ["lastName", "company", "notes", "source"]
    start = threading.Barrier(len(fields))
    results: list = []

    def worker(field: str) -> None:
        own = app.test_client()
        start.wait()
        response = call(own, "update", workspace, auth, [{"id": contact_id, field: f"set {field}"}])
        results.append(statuses(response))

    threads = [threading.Thread(target=worker, args=(f,)) for f in fields]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [["updated"]] * len(fields)
    final = client.get(f"/v1/contacts/{contact_id}", headers=auth).json["data"]
    assert all(final[field] == f"set {field}" for field in fields)


def test_read_by_ids_and_external_ids_in_input_order(client, workspace, auth):
    made = call(
        client,
        "create",
        workspace,
        auth,
        [{"firstName": "A", "externalId": "x-1"}, {"firstName": "B"}],
    ).json["results"]
    items = [
        {"id": made[1]["id"]},
        {"externalId": "x-1"},
        {"externalId": "missing"},
        {"id": "contact_" + "A" * 100},
        {"id": made[1]["id"], "externalId": "x-1"},
        {},
    ]
    response = call(client, "read", workspace, auth, items)
    assert statuses(response) == ["found", "found", "not_found", "invalid", "invalid", "invalid"]
    assert response.json["results"][1]["contact"]["id"] == made[0]["id"]
    assert response.json["results"][0]["contact"]["dnc"] is False


def test_delete_by_id_and_external_id_touches_only_the_tokens_workspace(
    client, app, workspace, auth
):
    made = call(
        client,
        "create",
        workspace,
        auth,
        [{"firstName": "A", "externalId": "del-1"}, {"firstName": "B"}],
    ).json["results"]
    other = f"ws_{uuid.uuid4().hex[:12]}"
    foreign = client.post(
        "/v1/contacts", json={"workspaceId": other, "firstName": "F"}, headers=bearer(other)
    ).json["data"]["id"]
    items = [{"externalId": "del-1"}, {"id": made[1]["id"]}, {"id": foreign}, {"id": made[1]["id"]}]
    response = call(client, "delete", workspace, auth, items)
    assert statuses(response) == ["deleted", "deleted", "not_found", "invalid"]
    assert response.json["results"][0]["id"] == made[0]["id"]
    assert client.get(f"/v1/contacts/{made[0]['id']}", headers=auth).status_code == 404
    assert client.get(f"/v1/contacts/{foreign}", headers=bearer(other)).status_code == 200
    again = call(client, "delete", workspace, auth, [{"id": made[1]["id"]}])
    assert statuses(again) == ["not_found"]


@pytest.mark.parametrize("op", ["create", "update", "upsert", "read", "delete"])
def test_a_workspace_the_token_lacks_is_403_and_nothing_is_written(client, app, workspace, op):
    other = f"ws_{uuid.uuid4().hex[:12]}"
    items = (
        [{"externalId": "t-1", "firstName": "X"}]
        if op in ("create", "upsert")
        else [{"id": "contact_x"}]
    )
    extra = {"key": "externalId"} if op == "upsert" else {}
    response = call(client, op, other, bearer(workspace), items, **extra)
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert total(client, app, other, bearer(other)) == 0


def test_a_read_only_token_can_read_but_not_write_in_batch(client, workspace):
    reader = bearer(workspace, scope="contacts:read")
    assert call(client, "read", workspace, reader, [{"id": "contact_x"}]).status_code == 200
    denied = call(client, "create", workspace, reader, [{"firstName": "X"}])
    assert denied.status_code == 403


@pytest.mark.parametrize("op", ["create", "upsert"])
def test_an_idempotency_key_replays_the_first_batch_response(client, app, workspace, auth, op):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"workspaceId": workspace, "items": [{"firstName": "Once", "externalId": "idem-1"}]}
    if op == "upsert":
        body["key"] = "externalId"
    first = client.post(f"{BATCH}/{op}", json=body, headers={**auth, **key})
    second = client.post(f"{BATCH}/{op}", json=body, headers={**auth, **key})
    assert first.status_code == second.status_code == 200
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert statuses(second) == ["created"]
    changed = client.post(
        f"{BATCH}/{op}", json={**body, "items": [{"firstName": "Twice"}]}, headers={**auth, **key}
    )
    assert changed.status_code == 409
    assert total(client, app, workspace, auth) == 1


def test_a_batch_written_contact_on_the_dnc_list_is_never_shown_callable(
    client, app, workspace, auth
):
    listed = client.post(
        "/v1/dnc", json={"workspaceId": workspace, "phone": "+14155550142"}, headers=auth
    )
    assert listed.status_code in (200, 201)
    items = [{"phone": "(415) 555-0142", "firstName": "Listed"}, {"phone": "+14155550143"}]
    response = call(client, "upsert", workspace, auth, items, key="phone")
    assert [r["contact"]["dnc"] for r in response.json["results"]] == [True, False]
    refresh(app)
    callable_ = client.post(
        "/v1/contacts/search",
        json={"workspaceId": workspace, "filters": {"dnc": False}},
        headers=auth,
    ).json["data"]
    assert [c["phone"] for c in callable_] == ["+14155550143"]
    read = call(client, "read", workspace, auth, [{"id": response.json["results"][0]["id"]}])
    assert read.json["results"][0]["contact"]["dnc"] is True


@pytest.mark.parametrize(
    "item",
    [
        {"externalId": "x" * 256},
        {"externalId": ["nested", {"junk": 1}]},
        {"externalId": "tab\tinside"},
        {"externalId": " edge"},
        {"externalId": ""},
        {"externalId": 12345},
        {"externalId": "ok", "tags": ["t"] * 10_000},
        {"externalId": "ok", "customFields": {"a": {"b": {"c": [1, 2, 3]}}}},
        {"externalId": "ok", "firstName": "x" * 100_000},
        {"externalId": "ok", "source": "s" * 101},
        {"externalId": "ok", "id": "contact_forged"},
        {"externalId": "ok", "workspaceId": "ws_other"},
        {"externalId": "ok", "createdAt": "1999-01-01T00:00:00Z"},
    ],
    ids=[
        "huge-id",
        "nested-id",
        "control-char",
        "edge-space",
        "empty",
        "number",
        "huge-tags",
        "nested-custom",
        "huge-name",
        "huge-source",
        "forged-id",
        "forged-ws",
        "forged-date",
    ],
)
def test_hostile_upsert_items_are_invalid_and_write_nothing(client, app, workspace, auth, item):
    response = call(client, "upsert", workspace, auth, [item], key="externalId")
    assert response.status_code == 200
    result = response.json["results"][0]
    assert result["status"] == "invalid"
    assert result["error"]["code"] == "validation_error"
    assert len(response.get_data()) < 20_000  # the error does not echo a huge value back
    assert total(client, app, workspace, auth) == 0


def test_non_ascii_external_ids_are_kept_exactly(client, workspace, auth):
    items = [
        {"externalId": "客户-001", "firstName": "Li"},
        {"externalId": "Zoë/ß 2", "firstName": "Z"},
    ]
    response = call(client, "upsert", workspace, auth, items, key="externalId")
    assert statuses(response) == ["created", "created"]
    read = call(
        client, "read", workspace, auth, [{"externalId": "客户-001"}, {"externalId": "zoë/ß 2"}]
    )
    assert statuses(read) == ["found", "not_found"]  # exact: case counts


def test_forged_ids_in_update_and_delete_are_not_found_or_invalid(client, workspace, auth):
    forged = ["contact_../../etc", "contact_" + "é" * 20, "ws_x", "contact_\u0000"]
    response = call(
        client, "update", workspace, auth, [{"id": i, "firstName": "X"} for i in forged]
    )
    assert set(statuses(response)) <= {"not_found", "invalid"}
    deleted = call(client, "delete", workspace, auth, [{"id": i} for i in forged])
    assert set(statuses(deleted)) <= {"not_found", "invalid"}


def test_batch_writes_reach_the_change_feed_once_each_and_unchanged_items_do_not(
    client, workspace, auth
):
    items = [{"externalId": "feed-1", "firstName": "A"}, {"externalId": "feed-2", "firstName": "B"}]
    made = call(client, "upsert", workspace, auth, items, key="externalId").json["results"]
    items[0]["firstName"] = "A2"
    assert statuses(call(client, "upsert", workspace, auth, items, key="externalId")) == [
        "updated",
        "unchanged",
    ]
    assert statuses(call(client, "delete", workspace, auth, [{"externalId": "feed-2"}])) == [
        "deleted"
    ]
    feed = client.get(
        "/v1/contacts/changes", headers=auth, query_string={"workspaceId": workspace}
    ).json["data"]
    seen = [(e["type"], e.get("contactId") or e["contact"]["id"]) for e in feed]
    assert seen == [
        ("contact.created", made[0]["id"]),
        ("contact.created", made[1]["id"]),
        ("contact.updated", made[0]["id"]),
        ("contact.deleted", made[1]["id"]),
    ]


def test_a_body_over_the_size_limit_is_a_413_in_the_error_shape_with_nothing_written(
    client, app, workspace, auth
):
    notes = "n" * 2_000
    items = [{"externalId": f"big-{n}", "firstName": "B", "notes": notes} for n in range(1000)]
    response = call(client, "upsert", workspace, auth, items, key="externalId")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert total(client, app, workspace, auth) == 0


def test_contacts_batch_written_while_their_numbers_are_listed_never_end_callable(
    app, workspace, auth
):
    """A DNC add racing a batch upsert of the same numbers: one side or the other flags
    every contact, so no listed number is left in a dnc=false search."""
    numbers = [f"+1415555{n:04d}" for n in range(300, 340)]
    start = threading.Barrier(2)
    failures: list = []

    def list_numbers() -> None:
        client = app.test_client()
        start.wait()
        for number in numbers:
            body = {"workspaceId": workspace, "phone": number}
            if client.post("/v1/dnc", json=body, headers=auth).status_code not in (200, 201):
                failures.append(number)

    def upsert_contacts() -> None:
        client = app.test_client()
        start.wait()
        for chunk in (numbers[:20], numbers[20:]):
            items = [{"phone": n, "firstName": "Racer"} for n in chunk]
            if call(client, "upsert", workspace, auth, items, key="phone").status_code != 200:
                failures.append(chunk)

    threads = [threading.Thread(target=list_numbers), threading.Thread(target=upsert_contacts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    refresh(app)
    client = app.test_client()
    body = {"workspaceId": workspace, "filters": {"dnc": False}, "limit": 100}
    callable_ = client.post("/v1/contacts/search", json=body, headers=auth).json["data"]
    assert callable_ == []
    body["filters"]["dnc"] = True
    listed = client.post("/v1/contacts/search", json=body, headers=auth).json
    assert listed["meta"]["total"] == len(numbers)


class OverloadedOnce:
    """The engine client, except that its first bulk answers 429 for every item (a full
    write queue, which a test cannot make a real node produce on demand)."""

    def __init__(self, client) -> None:
        self.client, self.refused = client, False

    def bulk(self, body, **kwargs):
        if self.refused:
            return self.client.bulk(body=body, **kwargs)
        self.refused = True
        if isinstance(body, bytes):  # the batch sends its body serialized (bulk_bodies.py)
            body = [json.loads(line) for line in body.splitlines() if line]
        actions = [line for line in body if len(line) == 1 and next(iter(line)) in OPS]
        return {
            "errors": True,
            "items": [
                {op: {"_id": meta["_id"], "status": 429, "error": {"type": "rejected"}}}
                for action in actions
                for op, meta in action.items()
            ],
        }

    def __getattr__(self, name):
        return getattr(self.client, name)


OPS = ("create", "index", "delete", "update")


def test_items_the_engine_refuses_as_overloaded_are_written_on_the_next_round(
    client, app, workspace, auth
):
    from app.services.batch import BatchService

    wiring = app.extensions["wiring"]
    service = BatchService(OverloadedOnce(wiring.opensearch), wiring.contacts)
    with app.app_context():
        result = service.upsert(
            workspace, "externalId", [{"externalId": "busy-1", "firstName": "Busy"}]
        )
    assert [r["status"] for r in result["results"]] == ["created"]
    assert total(client, app, workspace, auth) == 1


def test_a_batch_call_spends_one_request_of_its_scope():
    from app.ratelimit import limit_scope

    assert limit_scope("POST", "/v1/contacts/batch/read") == "contacts:read"
    for op in ("create", "update", "upsert", "delete"):
        assert limit_scope("POST", f"/v1/contacts/batch/{op}") == "contacts:write"


def test_upsert_by_phone_or_email_finds_a_contact_by_any_of_its_numbers_or_addresses(
    client, app, workspace, auth
):
    made = client.post(
        "/v1/contacts",
        json={
            "workspaceId": workspace,
            "firstName": "Multi",
            "phones": [{"number": "+14155550161", "primary": True}, {"number": "+14155550162"}],
            "emails": [{"address": "main@example.com"}, {"address": "other@example.com"}],
        },
        headers=auth,
    )
    assert made.status_code == 201, made.json
    contact_id = made.json["data"]["id"]
    refresh(app)
    by_phone = call(
        client,
        "upsert",
        workspace,
        auth,
        [{"phone": "(415) 555-0162", "company": "A"}],
        key="phone",
    ).json["results"][0]
    assert (by_phone["status"], by_phone["id"]) == ("updated", contact_id)
    by_email = call(
        client, "upsert", workspace, auth, [{"email": "OTHER@example.com"}], key="email"
    ).json["results"][0]
    assert (by_email["status"], by_email["id"]) == ("unchanged", contact_id)
    # Found by a secondary number or address, which stays secondary.
    stored = client.get(f"/v1/contacts/{contact_id}", headers=auth).json["data"]
    assert (stored["phone"], stored["email"]) == ("+14155550161", "main@example.com")
    assert stored["company"] == "A"
    assert total(client, app, workspace, auth) == 1


@pytest.mark.parametrize("op", ["update", "read", "delete"])
def test_an_idempotency_key_replays_update_read_and_delete_calls(client, workspace, auth, op):
    contact_id = call(client, "create", workspace, auth, [{"firstName": "Keyed"}]).json["results"][
        0
    ]["id"]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    item = {"id": contact_id, "lastName": "Once"} if op == "update" else {"id": contact_id}
    body = {"workspaceId": workspace, "items": [item]}
    first = client.post(f"{BATCH}/{op}", json=body, headers={**auth, **key})
    second = client.post(f"{BATCH}/{op}", json=body, headers={**auth, **key})
    expected = {"update": "updated", "read": "found", "delete": "deleted"}[op]
    assert statuses(first) == statuses(second) == [expected]
    assert second.headers["Idempotent-Replayed"] == "true"
    # Without the key the same delete finds nothing left, and the update nothing to change.
    third = client.post(f"{BATCH}/{op}", json=body, headers=auth)
    again = {"update": "unchanged", "read": "found", "delete": "not_found"}[op]
    assert statuses(third) == [again]


def test_deeply_nested_junk_in_an_item_is_a_4xx_in_the_error_shape(client, app, workspace, auth):
    deep = "[" * 5_000 + "]" * 5_000
    raw = f'{{"workspaceId": "{workspace}", "items": [{deep}, {{"firstName": "Kept"}}]}}'
    response = client.post(
        f"{BATCH}/create", data=raw, headers={**auth, "Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert set(response.json["error"]) >= {"code", "message"}
    assert total(client, app, workspace, auth) == 0
